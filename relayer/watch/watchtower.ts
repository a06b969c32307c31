import { setTimeout as sleep } from "node:timers/promises";
import type { LocalAccount, PublicClient } from "viem";
import { endpointClient, type ChainEndpoint, type Target } from "../evidence/chainEndpoint.js";
import { describeFork, evidenceOf, ForkFinder, narrower, type Fork } from "../evidence/forkFinder.js";
import { RegistryLog, type RegistryEvent } from "../evidence/registryLog.js";
import { describeSubmission, submitTo, type Submission } from "../evidence/submitEvidence.js";
import { encodeEvidence } from "../evidence/evidenceFile.js";
import { Metrics } from "../metrics/metrics.js";
import { MetricsServer } from "../metrics/metricsServer.js";
import { shortMessage } from "../util/shortMessage.js";

export type WatchtowerOptions = {
  /** The chains to watch: each endpoint's chain id is asked of it when not given. */
  chains: readonly (ChainEndpoint & { chainId?: bigint })[];
  /** Pays for the evidence transactions and takes the rewards: any funded account, no validator's. */
  account: LocalAccount;
  /** How often each endpoint is polled for its head and the registry's new events. */
  pollMs: number;
  /** Where GET /metrics and GET /status are served; none when absent. Port 0 picks a free one. */
  metrics?: { host: string; port: number };
  /** One line per event. */
  log: (line: string) => void;
};

/** Refusals that a later poll may turn: the endpoint or the transaction failed, not the evidence. */
const TRANSIENT = new Set(["endpoint-down", "send-failed"]);

type Watched = {
  endpoint: ChainEndpoint;
  client: PublicClient;
  chainId: bigint | undefined;
  reader: RegistryLog | undefined;
  head: bigint | undefined;
  /** Why the last poll failed, while it does. */
  down: string | undefined;
  /** Evidence is sent to one chain at a time, so that two forks never race for one account's nonce. */
  sending: Promise<void>;
};

/** Where a forked chain's evidence stands on one judging chain. */
type Standing = { state: "frozen"; by: "me" | "other"; submission?: Submission } | { state: "refused"; reason: string };

/**
 * A watchtower: anyone's fork detector and reporter, with no validator key and no place in the overlay, only JSON-RPC
 * endpoints. It follows every chain's ViewRegistry events (the views each accepted, or froze a chain for, and every freeze),
 * finds two views of a chain that cannot both be its history, across registries (chain B's view accepted on A against
 * the one accepted on C) and within one, and submits them to every chain where B is not frozen yet. Before each
 * transaction it reads the registry at the pending block (frozen already, by anyone, or about to be: nothing is sent) and
 * simulates the call, so a second watchtower beside it, or the same one restarted, sends nothing that already landed.
 * An endpoint that goes away is polled until it returns, and the watchtower goes on from the block it had read.
 */
export class Watchtower {
  readonly metrics = new Metrics();
  readonly #o: WatchtowerOptions;
  readonly #chains: Watched[];
  readonly #finder = new ForkFinder();
  /** Each forked chain's fork (the pair of views that locates it most narrowly): its evidence is what is sent. */
  readonly #forks = new Map<bigint, Fork>();
  /** Forked chain → judging chain → where it stands there. */
  readonly #standing = new Map<bigint, Map<bigint, Standing>>();
  /** The newest height of each chain among the views read: fibc_view_height. */
  readonly #newest = new Map<bigint, bigint>();
  /** The last transient refusal logged for each forked chain and judging chain, so that a retry every poll logs once. */
  readonly #retrying = new Map<string, string>();
  readonly #server: MetricsServer | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: AbortController | undefined;

  constructor(options: WatchtowerOptions) {
    this.#o = options;
    this.#chains = options.chains.map((c) => ({
      endpoint: { url: c.url, registry: c.registry },
      client: endpointClient(c.url),
      chainId: c.chainId,
      reader: undefined,
      head: undefined,
      down: undefined,
      sending: Promise.resolve(),
    }));
    this.#server = options.metrics ? new MetricsServer({ metrics: this.metrics, host: options.metrics.host, port: options.metrics.port, status: () => this.status() }) : undefined;
  }

  get address() {
    return this.#o.account.address;
  }

  /** The port /metrics and /status are served on, once started. */
  get metricsPort(): number | undefined {
    return this.#server?.port;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#server?.start();
    this.#loop = this.#run();
    this.#o.log(`watchtower ${this.address} watching ${this.#chains.length} registries: ${this.#chains.map((c) => `${c.endpoint.url} (${c.endpoint.registry})`).join(", ")}`);
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#wake?.abort();
    await this.#loop;
    await Promise.all(this.#chains.map((c) => c.sending));
    await this.#server?.stop();
  }

  /** What /status shows besides the metrics. */
  status(): Record<string, unknown> {
    return {
      address: this.address,
      chains: this.#chains.map((c) => ({
        chainId: c.chainId?.toString() ?? null,
        url: c.endpoint.url,
        registry: c.endpoint.registry,
        up: c.down === undefined && c.head !== undefined,
        head: c.head?.toString() ?? null,
        readTo: c.reader === undefined ? null : (c.reader.next - 1n).toString(),
        ...(c.down === undefined ? {} : { error: c.down }),
      })),
      views: this.#finder.size,
      forks: [...this.#forks.values()].map((fork) => ({
        chainId: fork.chainId.toString(),
        parting: { from: fork.parting.from.toString(), to: fork.parting.to.toString() },
        views: [fork.a, fork.b].map((s) => ({ height: s.view.height.toString(), on: s.on.toString(), block: s.blockNumber.toString() })),
        standing: Object.fromEntries(
          [...(this.#standing.get(fork.chainId) ?? new Map<bigint, Standing>())].map(([on, s]) => [on.toString(), s.state === "frozen" ? `frozen by ${s.by === "me" ? "this watchtower" : "another reporter"}` : `refused: ${s.reason}`]),
        ),
      })),
    };
  }

  async #run(): Promise<void> {
    while (this.#running) {
      await Promise.all(this.#chains.map((c) => this.#poll(c)));
      await this.#submitDue();
      this.#wake = new AbortController();
      await sleep(this.#o.pollMs, undefined, { signal: this.#wake.signal }).catch(() => undefined);
    }
  }

  /** Reads one chain's head and its registry's new events; a failure marks the endpoint down until a poll succeeds. */
  async #poll(c: Watched): Promise<void> {
    try {
      const { client } = c;
      if (c.chainId === undefined) c.chainId = BigInt(await client.getChainId());
      c.reader ??= new RegistryLog({ client, registry: c.endpoint.registry, chainId: c.chainId });
      c.head = await client.getBlockNumber({ cacheTime: 0 });
      this.metrics.setHeadHeight(c.chainId, c.head);
      await c.reader.read(c.head, (events) => this.#onEvents(events));
      if (c.down !== undefined) this.#o.log(`chain ${c.chainId}'s endpoint ${c.endpoint.url} is back: reading on from block ${c.reader.next}`);
      c.down = undefined;
    } catch (error) {
      this.metrics.countRpcError({ method: "poll" });
      if (c.down === undefined) this.#o.log(`chain ${c.chainId ?? "?"}'s endpoint ${c.endpoint.url} does not answer (${shortMessage(error)}): trying again every ${this.#o.pollMs} ms`);
      c.down = shortMessage(error);
    }
  }

  #onEvents(events: RegistryEvent[]): void {
    for (const event of events) {
      if (event.type === "frozen") {
        // The event says who reported it: it settles what a submission that lost track of its receipt left open.
        const standing = this.#standingOf(event.chainId);
        const mine = event.reporter.toLowerCase() === this.address.toLowerCase();
        const known = standing.get(event.on);
        if (known?.state !== "frozen" || known.submission === undefined) standing.set(event.on, { state: "frozen", by: mine ? "me" : "other" });
        if (known?.state !== "frozen") this.#o.log(`chain ${event.on} froze chain ${event.chainId} at block ${event.blockNumber} (reporter ${event.reporter}${mine ? ", this watchtower" : ""})`);
        continue;
      }
      const { view } = event.seen;
      if (view.height > (this.#newest.get(view.chainId) ?? -1n)) {
        this.#newest.set(view.chainId, view.height);
        this.metrics.setViewHeight(view.chainId, view.height);
      }
      for (const fork of this.#finder.add(event.seen)) {
        // Any conflicting pair is evidence; the one that locates the fork most narrowly is kept, and logged when first found.
        const known = this.#forks.get(fork.chainId);
        if (known !== undefined && !narrower(fork, known)) continue;
        this.#forks.set(fork.chainId, fork);
        if (known === undefined) this.#o.log(`FORK: ${describeFork(fork)}; evidence: ${encodeEvidence(evidenceOf(fork))}`);
      }
    }
  }

  /** Sends each fork's evidence to every answering chain where the forked chain is not frozen and was not refused for good. */
  async #submitDue(): Promise<void> {
    const due: [Watched, Fork][] = [];
    for (const fork of this.#forks.values()) {
      const standing = this.#standingOf(fork.chainId);
      for (const c of this.#chains) {
        if (c.chainId === undefined || c.chainId === fork.chainId || c.down !== undefined || standing.has(c.chainId)) continue;
        due.push([c, fork]);
      }
    }
    if (due.length === 0) return;
    // A random part of a poll first: two watchtowers that read the evidence in the same block seldom check at the same
    // moment, and the later one finds the other's transaction at the pending block and sends nothing.
    await sleep(Math.random() * this.#o.pollMs);
    await Promise.all(
      due.map(([c, fork]) => {
        const run = c.sending.then(() => this.#submit(c, fork));
        c.sending = run.catch(() => undefined);
        return run;
      }),
    );
  }

  async #submit(c: Watched, fork: Fork): Promise<void> {
    const standing = this.#standingOf(fork.chainId);
    if (standing.has(c.chainId!)) return;
    const target: Target = { ...c.endpoint, chainId: c.chainId! };
    let result: Submission;
    try {
      result = await submitTo(target, evidenceOf(fork), this.#o.account);
    } catch (error) {
      result = { chainId: target.chainId, outcome: "refused", code: "send-failed", reason: shortMessage(error) };
    }
    const key = `${fork.chainId}:${target.chainId}`;
    if (result.outcome === "refused" && TRANSIENT.has(result.code)) {
      if (this.#retrying.get(key) !== result.reason) this.#o.log(`evidence against chain ${fork.chainId} not on chain ${target.chainId} yet, will retry: ${result.reason}`);
      this.#retrying.set(key, result.reason);
      return;
    }
    this.#retrying.delete(key);
    if (result.outcome === "frozen") this.metrics.countTransactionSent({ step: "submitForkEvidence" });
    // Found frozen already: by another reporter as far as this watchtower knows, until the ChainFrozen event names who.
    standing.set(
      target.chainId,
      result.outcome === "refused" ? { state: "refused", reason: result.reason } : result.outcome === "frozen" ? { state: "frozen", by: "me", submission: result } : { state: "frozen", by: "other" },
    );
    this.#o.log(describeSubmission(result, fork.chainId, this.address));
  }

  #standingOf(chainId: bigint): Map<bigint, Standing> {
    let standing = this.#standing.get(chainId);
    if (standing === undefined) this.#standing.set(chainId, (standing = new Map()));
    return standing;
  }
}
