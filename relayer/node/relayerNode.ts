import { createPublicClient, createWalletClient, defineChain, http, type Address, type Hex, type PublicClient } from "viem";
import { systemClock, type Clock } from "../clock.js";
import { keepAliveFetch } from "../chain/keepAliveFetch.js";
import { ChainFollower } from "../chain/chainFollower.js";
import { NewHeads } from "../chain/newHeads.js";
import { AcceptedViews } from "../chain/acceptedView.js";
import { QuietBlocks } from "../chain/quietBlocks.js";
import { TxSender } from "../chain/txSender.js";
import type { NodeConfig } from "../config/nodeConfig.js";
import { Metrics } from "../metrics/metrics.js";
import { MetricsServer } from "../metrics/metricsServer.js";
import { MAX_CONTRACTS_PER_REQUEST, MAX_VIEWS_PER_UPDATE, type Message } from "../net/message.js";
import { RequestChannel } from "../net/requestChannel.js";
import type { Delivery, Transport } from "../net/transport.js";
import { OPEN_TASK_STATES, PRUNE_EVERY_BLOCKS, Store } from "../store/store.js";
import { RegistryRefresher } from "../tasks/registryRefresher.js";
import { serveCheck } from "../tasks/serveCheck.js";
import { encodeEvidence } from "../evidence/evidenceFile.js";
import { EvidenceSubmitter } from "../tasks/evidenceSubmitter.js";
import { TaskRunner, type CommitteeWork, type TaskEvent } from "../tasks/taskRunner.js";
import { TaskScanner } from "../tasks/taskScanner.js";
import { GossipOverlay } from "../gossip/gossipOverlay.js";
import { RegistryWatcher } from "../gossip/registryWatcher.js";
import { ViewList } from "../gossip/viewList.js";
import type { SignedView } from "../view/signedView.js";
import { certifiedPath } from "../view/certifiedPath.js";
import { Cosigner } from "./cosigner.js";
import { blsSecretKey } from "../view/blsScheme.js";
import type { Committee } from "../view/verifySignedView.js";
import { thresholdOf } from "../view/threshold.js";
import { ViewTracker } from "../view/viewTracker.js";
import { fromWireView } from "../view/wireView.js";
import { shortMessage } from "../util/shortMessage.js";
import { relayerAccount } from "../util/relayerAccount.js";

/** Above any block height: the end of an open range of stored heights. */
const MAX_STORED_HEIGHT = BigInt(Number.MAX_SAFE_INTEGER);
/**
 * How long the task loop waits for its chain's next block while nothing is in flight: a stalled chain still gets a pass
 * this often (a registry refresh that the gossip's newer views made due; evidence wakes the loop itself).
 */
const IDLE_PASS_MS = 10_000;

export type RelayerNodeOptions = {
  config: NodeConfig;
  transport: Transport;
  clock?: Clock;
  /** Where the node reports what it does, a line at a time. */
  log?: (line: string) => void;
};


/**
 * One validator of one chain (one system of the paper): follows its chain and keeps its view, co-signs
 * it with its committee, answers check() requests, and drives its chain's contract transactions
 * through the IBCP: batched pre-commits and terminations that post the counterparty's view in the same
 * transaction, and cancellations. It also keeps its chain's registry's views of the other chains fresh
 * when no swap posts them (RegistryRefresher), so that the Gateway's lifetime check keeps passing.
 */
export class RelayerNode {
  readonly config: NodeConfig;
  readonly metrics = new Metrics();
  readonly store: Store;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  readonly #client: PublicClient;
  readonly #tracker: ViewTracker;
  /** Which delivered blocks may hold a log of this chain's Gateway or ViewRegistry: the log scans skip the others. */
  readonly #quiet: QuietBlocks;
  readonly #follower: ChainFollower;
  readonly #heads: NewHeads | undefined;
  readonly #cosigner: Cosigner;
  readonly #channel: RequestChannel;
  readonly #scanner: TaskScanner;
  readonly #runner: TaskRunner;
  readonly #refresher: RegistryRefresher;
  readonly #metricsServer: MetricsServer | undefined;
  readonly viewList: ViewList;
  readonly #gossip: GossipOverlay;
  readonly #registryWatcher: RegistryWatcher;
  readonly #sender: TxSender;
  readonly #evidence: EvidenceSubmitter;
  #gossipedHeight = -1n;
  /** Ends the task loop's wait for the next block (see #work); does nothing while the loop runs or polls. */
  #wakeWork: () => void = () => {};
  #running = false;
  #loop: Promise<void> = Promise.resolve();

  constructor({ config, transport, clock = systemClock, log = () => {} }: RelayerNodeOptions) {
    this.config = config;
    this.#transport = transport;
    this.#clock = clock;
    this.#log = log;
    this.store = new Store({ path: config.store });
    const own = config.chains.find((c) => c.chainId === config.chainId)!;
    this.#quiet = new QuietBlocks([own.gateway, own.registry]);
    const account = relayerAccount(config.key);
    const rpc = http(config.rpcUrl, { retryCount: 0, fetchFn: keepAliveFetch });
    const chain = defineChain({ id: Number(config.chainId), name: `chain ${config.chainId}`, nativeCurrency: { name: "Coin", symbol: "COIN", decimals: 18 }, rpcUrls: { default: { http: [config.rpcUrl] } } });
    this.#client = createPublicClient({ chain, transport: rpc, pollingInterval: config.rates.pollMs }) as PublicClient;
    const walletClient = createWalletClient({ account, chain, transport: rpc });

    const resume = this.store.latestSignedView(config.chainId);
    this.#tracker = new ViewTracker({ chainId: config.chainId, k: config.k, ...(resume ? { from: fromWireView(resume.view) } : {}) });
    // The blocks delivered after that view before a restart (this node may have signed views of them) go back into the
    // tracker, so that the follower goes on from the last of them and its first block must be that block's child.
    for (const hash of this.store.blockHashes(this.#tracker.next, MAX_STORED_HEIGHT)) this.#tracker.push(this.#tracker.next, hash);
    this.metrics.setReorgAlarm(config.chainId, false);
    if (config.headsUrl !== undefined) {
      this.#heads = new NewHeads({
        url: config.headsUrl,
        clock,
        onError: (error) => this.#log(`chain ${config.chainId}'s new heads (${config.headsUrl}) not pushed, polling meanwhile: ${shortMessage(error)}`),
      });
    }
    this.#follower = new ChainFollower({
      client: this.#client,
      clock,
      pollMs: config.rates.pollMs,
      ...(this.#heads === undefined ? {} : { heads: this.#heads }),
      from: this.#tracker.next,
      ...(this.#tracker.next > 0n ? { parentHash: this.#tracker.view().hashes.at(-1)! } : {}),
      finalityDepth: own.finalityDepth,
      onBlock: (height, hash, logsBloom) => this.#onBlock(height, hash, logsBloom),
      onError: (error) => {
        this.metrics.countRpcError({ method: "follow" });
        this.#log(`chain ${config.chainId} endpoint failed, retrying: ${shortMessage(error)}`);
      },
      onReorg: ({ height, delivered, parentHash }) => {
        this.metrics.setReorgAlarm(config.chainId, true);
        this.#log(
          `ALARM: chain ${config.chainId} reorganized below what this node delivered (deeper than its finalityDepth of ${own.finalityDepth}): ` +
            `block ${height} now follows ${parentHash}, not block ${height - 1n} ${delivered}; this node signs no view of its chain any more`,
        );
      },
    });
    this.#cosigner = new Cosigner({
      account,
      chainId: config.chainId,
      gateway: own.gateway,
      members: own.committee,
      ...(own.blsKeys === undefined ? {} : { bls: { keys: own.blsKeys, secretKey: blsSecretKey(config.key) } }),
      threshold: thresholdOf(own.committee.length, config.r),
      signEvery: config.rates.viewSignEvery,
      clock,
      store: this.store,
      send: (to, message) => void this.#send(to, message),
    });
    const remote = config.chains.filter((c) => c.chainId !== config.chainId);
    this.#channel = new RequestChannel({
      clock,
      timeoutMs: config.rates.requestTimeoutMs,
      systems: new Map(remote.map((c) => [c.chainId, { members: c.committee, rNumerator: config.r.numerator, rDenominator: config.r.denominator }])),
      send: (to, message) => this.#send(to, message),
      serve: (request) =>
        serveCheck({
          request,
          chainId: config.chainId,
          client: this.#client,
          gateway: own.gateway,
          store: this.store,
          // The answer shows the records as of this node's head (a mirror registered a block ago counts), waiting at most a
          // quarter of the asker's patience for the committee; the head is certified once, whoever asks.
          certify: (minHeight) => {
            const newest = this.#cosigner.newest;
            return this.#cosigner.certify(minHeight > newest ? minHeight : newest, config.rates.requestTimeoutMs / 4);
          },
        }),
      maxRequestsPerSecond: config.rates.maxRequestsPerSecond,
      onRefused: (from, reason, detail) => {
        this.metrics.countRejected({ reason });
        this.#log(`refused a message from ${from}: ${reason}${detail ? ` (${detail})` : ""}`);
      },
    });
    const committees = new Map<bigint, Committee>(
      config.chains.map((c) => [c.chainId, { gateway: c.gateway, members: c.committee, threshold: thresholdOf(c.committee.length, config.r), k: c.k, blsKeys: c.blsKeys }]),
    );
    this.viewList = new ViewList({ committees });
    this.#gossip = new GossipOverlay({
      chainId: config.chainId,
      self: account.address,
      viewList: this.viewList,
      systems: new Map(config.chains.map((c) => [c.chainId, { members: c.committee, rNumerator: config.r.numerator, rDenominator: config.r.denominator }])),
      clock,
      send: (to, message) => this.#send(to, message),
      sendRate: config.gossip.sendRate,
      pacemakerBlocks: config.gossip.pacemakerBlocks,
      viewHeads: config.gossip.viewHeads,
      roundBlocks: config.gossip.roundBlocks,
      connected: () => this.#transport.connected(),
      maxPerPeerPerSecond: config.gossip.maxPerPeerPerSecond,
      maxStrikes: config.gossip.maxStrikes,
      viewsAfter: (chainId, fromHeight) => this.#viewsAfter(chainId, fromHeight),
      onEvidence: (evidence) => {
        // The views themselves, in the evidence file's format: `fibc evidence submit --file <this log>` takes the line as it is.
        this.#log(`fork evidence against chain ${evidence.a.view.chainId}: two signed views that cannot both be its history: ${encodeEvidence(evidence)}`);
        this.#evidence.addEvidence(evidence);
        this.#wakeWork();
      },
      onRefused: (_from, reason) => this.metrics.countRejected({ reason }),
    });
    this.#registryWatcher = new RegistryWatcher({ client: this.#client, registry: own.registry, store: this.store, quiet: this.#quiet });
    this.#sender = new TxSender({ publicClient: this.#client, walletClient, store: this.store });
    this.#scanner = new TaskScanner({ client: this.#client, gateway: own.gateway, store: this.store, quiet: this.#quiet });
    const work: CommitteeWork = {
      chainId: config.chainId,
      self: account.address,
      members: own.committee,
      clock,
      takeoverMs: config.rates.takeoverMs,
      retryMs: config.rates.pollMs * 2,
      client: this.#client,
      gateway: own.gateway,
      registry: own.registry,
      sender: this.#sender,
      channel: this.#channel,
      committees,
      acceptedViews: new AcceptedViews({ client: this.#client, registry: own.registry }),
      onEvent: (event) => this.#onTaskEvent(event),
      onVerifiedView: (view, signatures) => this.#gossip.learn({ view, signatures }),
    };
    this.#runner = new TaskRunner({ ...work, store: this.store });
    this.#evidence = new EvidenceSubmitter(work);
    this.#refresher = new RegistryRefresher({
      ...work,
      newestKnown: (chainId) => this.viewList.newest(chainId)?.view.height,
      ...(config.refreshBlocks === undefined ? {} : { refreshBlocks: config.refreshBlocks }),
    });
    this.#metricsServer = config.metrics
      ? new MetricsServer({ metrics: this.metrics, host: config.metrics.host, port: config.metrics.port, status: () => this.status() })
      : undefined;
    transport.onMessage((delivery) => void this.#onMessage(delivery));
  }

  get address(): Address {
    return this.config.address;
  }

  /** The port the metrics server listens on, once started. */
  get metricsPort(): number | undefined {
    return this.#metricsServer?.port;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.#transport.start();
    await this.#metricsServer?.start();
    this.#heads?.start();
    this.#follower.start();
    this.#loop = this.#work();
    this.#log(`node ${this.address} of chain ${this.config.chainId} started`);
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#wakeWork();
    this.#heads?.stop();
    await this.#follower.stop();
    await this.#loop;
    await this.#runner.idle(); // steps run in the background: let them finish before the store closes
    await this.#transport.stop();
    await this.#metricsServer?.stop();
    this.store.close();
    this.#log(`node ${this.address} of chain ${this.config.chainId} stopped`);
  }

  /** What /status shows besides the metrics. */
  status(): Record<string, unknown> {
    const latest = this.store.latestSignedView(this.config.chainId);
    const reorg = this.#follower.reorg;
    return {
      chainId: this.config.chainId.toString(),
      address: this.address,
      head: this.#follower.head.toString(),
      certifiedHeight: latest?.height.toString() ?? null,
      // Set when the chain reorganized below a block this node delivered: it stopped signing there (see ChainFollower).
      reorg: reorg === undefined ? null : { ...reorg, height: reorg.height.toString() },
      tasks: this.store.countTasksByState(),
      peers: this.#transport.connected(),
      // The height of the newest signed view of each other chain this node holds: how far behind it sees them.
      viewList: Object.fromEntries(
        this.config.chains
          .filter((c) => c.chainId !== this.config.chainId)
          .map((c) => [c.chainId.toString(), this.viewList.newest(c.chainId)?.view.height.toString() ?? null]),
      ),
    };
  }

  async #onBlock(height: bigint, hash: Hex, logsBloom: Hex): Promise<void> {
    this.#tracker.push(height, hash);
    this.#quiet.record(height, logsBloom);
    this.store.putBlockHash(height, hash); // what check() answers bridge
    this.metrics.setHeadHeight(this.config.chainId, height);
    await this.#cosigner.onOwnView(this.#tracker.view());
    const certified = this.store.latestSignedView(this.config.chainId);
    if (certified && certified.height > this.#gossipedHeight) {
      this.#gossipedHeight = certified.height;
      this.metrics.setViewHeight(this.config.chainId, certified.height);
      await this.#gossip.learn({ view: fromWireView(certified.view), signatures: certified.signatures }, { connects: true });
    }
    // Forget what no one may still ask for (config.retentionBlocks below the newest certified view), in the background.
    if (certified && height % PRUNE_EVERY_BLOCKS === 0n) {
      const below = certified.height - BigInt(this.config.retentionBlocks);
      this.store.pruneHistory(this.config.chainId, below).catch((error: Error) => this.#log(`pruning the store failed: ${shortMessage(error)}`));
    }
    this.#gossip.onBlock(height);
    this.#wakeWork();
  }

  /**
   * The certified path of this node's chain after `fromHeight` (at most MAX_VIEWS_PER_UPDATE views, one store lookup each; none
   * from below the retention window); what the view list keeps of others.
   */
  #viewsAfter(chainId: bigint, fromHeight: bigint): SignedView[] {
    if (chainId !== this.config.chainId) return this.viewList.after(chainId, fromHeight);
    const path = certifiedPath({
      fromHeight,
      k: this.config.k,
      limit: MAX_VIEWS_PER_UPDATE,
      keptFrom: this.store.keptFrom(chainId),
      newestWithin: (fromExclusive, toInclusive) => this.store.newestSignedViewWithin(chainId, fromExclusive, toInclusive),
    });
    return path.map((step) => ({ view: fromWireView(step.view), signatures: step.signatures }));
  }

  async #work(): Promise<void> {
    while (this.#running) {
      const head = this.#follower.head;
      // Logs are read from the blocks the follower delivered: as deep as finalityDepth asks, and known quiet or not.
      const delivered = this.#tracker.next - 1n;
      // A pass that failed is tried again at the poll's pace.
      let inFlight = head >= 0n;
      if (head >= 0n) {
        try {
          await this.#registryWatcher.scan(delivered, {
            onView: (view) => this.#gossip.learn(view, { connects: true }),
            onEvidence: (evidence) => this.#gossip.report(evidence),
            onFrozen: (chainId) => this.viewList.freeze(chainId),
          });
          await this.#evidence.submit();
          const found = await this.#scanner.scan(delivered);
          if (found > 0) this.#log(`found ${found} new contract transaction(s) on chain ${this.config.chainId}`);
          await this.#runner.tick(head);
          await this.#refresher.tick();
          const tasks = this.store.countTasksByState();
          this.metrics.setTaskCounts(tasks);
          // Work that comes due with time, not with blocks: an open task (its steps wait on the other chain and on
          // takeover turns), evidence not landed yet, a registry refresh waiting for its turn. Then the loop polls.
          inFlight = OPEN_TASK_STATES.some((state) => tasks[state] > 0) || this.#evidence.pending || this.#refresher.due;
        } catch (error) {
          this.metrics.countRpcError({ method: "tasks" });
          this.#log(`task pass failed, will retry: ${shortMessage(error)}`);
        }
        this.metrics.countTaskPass();
      }
      if (inFlight) await this.#clock.sleep(this.config.rates.pollMs);
      else await this.#nextBlock(delivered);
    }
  }

  /**
   * Waits for a block of this node's chain above `delivered` (at once when one came during the pass), or evidence to
   * submit, or IDLE_PASS_MS. With nothing in flight the pass has nothing to do but scan new blocks, so it runs in the
   * wake-up the block brings: a timer of its own woke an idle node twice a second on a devnet, and each wake-up of a
   * process costs about a millisecond of CPU here.
   */
  #nextBlock(delivered: bigint): Promise<void> {
    if (this.#tracker.next - 1n > delivered || !this.#running) return Promise.resolve();
    return new Promise((resolve) => {
      const cancel = this.#clock.setTimeout(() => wake(), IDLE_PASS_MS);
      const wake = () => {
        cancel();
        this.#wakeWork = () => {};
        resolve();
      };
      this.#wakeWork = wake;
    });
  }

  #send(to: Address, message: Message): number {
    const bytes = this.#transport.send(to, message);
    if (bytes > 0) this.metrics.countMessage({ kind: message.kind, direction: "sent", bytes });
    return bytes;
  }

  async #onMessage({ from, message, bytes, text }: Delivery): Promise<void> {
    this.metrics.countMessage({ kind: message.kind, direction: "received", bytes });
    try {
      if (message.kind === "cosign") {
        if (!(await this.#cosigner.onCosign(from, message))) this.metrics.countRejected({ reason: "invalid co-signature" });
        return;
      }
      if (message.kind === "view-update" || message.kind === "view-pull" || message.kind === "evidence") {
        await this.#gossip.handle(from, message, text);
        return;
      }
      if (message.kind === "request" && BigInt(message.chainId) === this.config.chainId && Array.isArray(message.contractIds)) {
        for (const contractId of message.contractIds.slice(0, MAX_CONTRACTS_PER_REQUEST)) this.#runner.nudge(contractId, from);
      }
      await this.#channel.handle(from, message);
    } catch (error) {
      this.metrics.countRejected({ reason: "handler failed" });
      this.#log(`message from ${from} refused: ${shortMessage(error)}`);
    }
  }

  #onTaskEvent(event: TaskEvent): void {
    const ids = (contractIds: readonly `0x${string}`[]) => contractIds.map((id) => `${id.slice(0, 10)}…`).join(", ");
    switch (event.type) {
      case "step-sent":
        if (event.outcome === "landed") this.metrics.countTransactionSent({ step: event.step });
        this.#log(`${event.step} of ${ids(event.contractIds)} ${event.outcome === "landed" ? "landed" : "was already done by another node"}`);
        break;
      case "step-failed":
        this.#log(`${event.step} of ${ids(event.contractIds)} not done yet: ${event.error}`);
        break;
      case "task-state":
        this.#log(`contract ${event.contractId.slice(0, 10)}… is now ${event.state}`);
        break;
      case "view-posted":
        this.metrics.setViewHeight(event.chainId, event.height);
        this.#log(`posted chain ${event.chainId}'s view at height ${event.height} with the step`);
        break;
      case "registry-refreshed":
        if (event.outcome === "landed") {
          this.metrics.countTransactionSent({ step: "refresh" });
          this.metrics.setViewHeight(event.chainId, event.height);
        }
        this.#log(
          event.outcome === "landed"
            ? `refreshed this chain's registry: posted chain ${event.chainId}'s view at height ${event.height}, bridging ${event.bridged} blocks`
            : `chain ${event.chainId}'s view at height ${event.height} was no longer needed here: another node refreshed the registry`,
        );
        break;
      case "refresh-failed":
        this.#log(`refresh of chain ${event.chainId}'s view not done yet: ${event.error}`);
        break;
      case "conflicting-view":
        // A signed view that conflicts with the registry's accepted one: posting it freezes the chain there.
        if (this.#evidence.addConflict(event.signed)) this.#log(`a check() answer of chain ${event.chainId} conflicts with the view accepted here: fork evidence`);
        break;
      case "fork-evidence":
        // The overlay carries it to every system and hands it back through onEvidence, which submits it here.
        this.#log(`a check() answer of chain ${event.evidence.a.view.chainId} at height ${event.evidence.b.view.height} conflicts with the view accepted here at ${event.evidence.a.view.height}: fork evidence`);
        this.#gossip.report(event.evidence);
        break;
      case "evidence-submitted":
        if (event.outcome === "landed") this.metrics.countTransactionSent({ step: "submitForkEvidence" });
        this.#log(`fork evidence against chain ${event.chainId} ${event.outcome === "landed" ? "submitted" : "was already on this chain"}`);
        break;
      case "evidence-failed":
        this.#log(`fork evidence against chain ${event.chainId} not submitted yet: ${event.error}`);
        break;
      default: {
        const unknown: never = event;
        throw new Error(`unknown task event ${(unknown as { type: string }).type}`);
      }
    }
  }
}
