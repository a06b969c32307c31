import { createPublicClient, http, parseAbi, parseEventLogs, zeroAddress, type Address, type Hex, type PublicClient } from "viem";
import { gatewayAbi, registryAbi } from "../chain/abis.js";
import type { DevnetFile } from "../devnet/devnet.js";
import { readDevnetFile } from "../devnet/devnet.js";
import { fetchStatus } from "../devnet/relayerProcess.js";

/** Registry reads the relayer's ABI leaves out: a committee and its signature scheme (absent on registries before BLS). */
const committeeAbi = parseAbi([
  "function committeeOf(uint64 chainId) view returns (address[] committee, uint256 threshold, uint64 k)",
  "function isBlsCommittee(uint64 chainId) view returns (bool)",
]);
const eventsAbi = [...gatewayAbi, ...registryAbi];

/** How chain `on`'s registry sees chain `of`: the bond posted, the cover it gives open swaps, the newest accepted view, a freeze. */
export type CounterpartyView = { of: string; bond: string; capacity: string; exposure: string; latestHeight: string; frozen: boolean; frozenAt: string | null };

export type ChainSnapshot = {
  chainId: string;
  url: string;
  alive: boolean;
  head: string | null;
  /** Milliseconds per block over the last samples the watcher took; null until it saw two heights. */
  blockMs: number | null;
  committee: Address[];
  threshold: number | null;
  scheme: "ECDSA" | "BLS" | null;
  k: number | null;
  counterparties: CounterpartyView[];
  /** Contracts pre-committed on this chain and not yet finished, soonest expiry first: the paper's waiting list. */
  waiting: { contractId: Hex; expiry: string; counterparty: string }[];
};

export type SwapSide = {
  chainId: string;
  contractId: Hex;
  counterparty: string;
  status: "not registered" | "registered" | "committed" | "released" | "refunded" | "cancelled" | "undecided";
  asset: "coin" | "token" | Address;
  amount: string;
  expiry: string;
  registeredAt: string | null;
};

/** The two sides of one swap (contract ids that name each other as mirrors); a side nobody registered yet says so. */
export type SwapSnapshot = { key: string; sides: [SwapSide, SwapSide]; updatedAt: number };

export type FreezeSnapshot = {
  /** The chain frozen, the chain whose registry froze it, when, and on what evidence. */
  chainId: string;
  on: string;
  height: string;
  evidence: "two conflicting signed views (submitForkEvidence)" | "a view conflicting with an accepted one (submitView)" | "unknown";
  reporter: Address;
  slashed: string;
  reward: string;
  pool: string;
  burned: string;
  transaction: Hex;
};

export type CompensationSnapshot = { on: string; contractId: Hex; claimant: Address; filed: string; paid: string | null };

export type RelayerSnapshot = {
  address: Address;
  chainId: string;
  up: boolean;
  head: string | null;
  certifiedHeight: string | null;
  peers: { connected: number; expected: number };
  tasks: Record<string, number>;
  /** For each chain, how many blocks behind its head this node's newest signed view of it is (its own chain: its newest certified view). */
  gaps: Record<string, number | null>;
  /** Messages sent per second since the previous snapshot, by kind. */
  rates: Record<string, number>;
  sent: { count: number; bytes: number };
  received: { count: number; bytes: number };
  rejected: Record<string, number>;
};

export type NetworkSnapshot = {
  at: string;
  dir: string;
  /** Why the devnet could not be read, while it cannot (e.g. `up` has not written devnet.json yet). */
  problem: string | null;
  chains: ChainSnapshot[];
  relayers: RelayerSnapshot[];
  swaps: SwapSnapshot[];
  freezes: FreezeSnapshot[];
  compensation: CompensationSnapshot[];
};

type ChainState = {
  client: PublicClient;
  /** Last block whose logs were read. */
  cursor: bigint | undefined;
  heights: { height: bigint; at: number }[];
  committee: { threshold: number; scheme: "ECDSA" | "BLS"; k: number } | undefined;
  /** Pre-committed, unfinished contracts: id → expiry and counterparty. */
  waiting: Map<Hex, { expiry: bigint; counterparty: bigint }>;
};

const MAX_SWAPS = 50;
const LOG_RANGE = 2_000n;

/**
 * Reads a devnet (its devnet.json, each chain over JSON-RPC, each relayer's GET /status) and keeps what the dashboard shows.
 * Chain events are read incrementally, so the swaps, freezes and claims it shows are every one since the chains started;
 * `snapshot()` reads what changed since the last call.
 */
export class NetworkWatcher {
  readonly #dir: string;
  #file: DevnetFile | undefined;
  #chains = new Map<string, ChainState>();
  /** Every contract seen, by chain and id. */
  #sides = new Map<string, SwapSide & { mirrorId: Hex; updatedAt: number }>();
  #freezes: FreezeSnapshot[] = [];
  #compensation = new Map<string, CompensationSnapshot>();
  #previousSent = new Map<string, { at: number; byKind: Record<string, number> }>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  async snapshot(): Promise<NetworkSnapshot> {
    const at = new Date().toISOString();
    const empty = { at, dir: this.#dir, chains: [], relayers: [], swaps: [], freezes: [], compensation: [] };
    let file: DevnetFile;
    try {
      file = await readDevnetFile(this.#dir);
    } catch (error) {
      return { ...empty, problem: error instanceof Error ? error.message : String(error) };
    }
    if (this.#file?.createdAt !== file.createdAt) this.#reset(file);
    const chains = await Promise.all(file.chains.map((c) => this.#chain(file, c)));
    const heads = Object.fromEntries(chains.map((c) => [c.chainId, c.head === null ? null : BigInt(c.head)]));
    const relayers = await Promise.all(file.relayers.map((r) => this.#relayer(r, heads)));
    return {
      ...empty,
      problem: null,
      chains,
      relayers,
      swaps: this.#swaps(),
      freezes: [...this.#freezes],
      compensation: [...this.#compensation.values()],
    };
  }

  /** A new devnet in the same directory: forget everything read of the old one. */
  #reset(file: DevnetFile): void {
    this.#file = file;
    this.#chains = new Map(
      file.chains.map((c) => [
        c.chainId,
        { client: createPublicClient({ transport: http(c.url, { retryCount: 0, timeout: 2_000 }) }), cursor: undefined, heights: [], committee: undefined, waiting: new Map() },
      ]),
    );
    this.#sides.clear();
    this.#freezes = [];
    this.#compensation.clear();
    this.#previousSent.clear();
  }

  async #chain(file: DevnetFile, c: DevnetFile["chains"][number]): Promise<ChainSnapshot> {
    const state = this.#chains.get(c.chainId)!;
    const base: ChainSnapshot = { chainId: c.chainId, url: c.url, alive: false, head: null, blockMs: null, committee: c.committee.map((m) => m.address), threshold: null, scheme: null, k: file.k, counterparties: [], waiting: [] };
    let head: bigint;
    try {
      head = await state.client.getBlockNumber({ cacheTime: 0 });
    } catch {
      return base;
    }
    const now = Date.now();
    if (state.heights.at(-1)?.height !== head) state.heights.push({ height: head, at: now });
    while (state.heights.length > 2 && now - state.heights[0]!.at > 15_000) state.heights.shift();
    const first = state.heights[0]!;
    const last = state.heights.at(-1)!;
    const blockMs = last.height > first.height ? Math.round((last.at - first.at) / Number(last.height - first.height)) : null;

    const others = file.chains.filter((o) => o.chainId !== c.chainId);
    state.committee ??= await this.#committeeOf(c.chainId, file).catch(() => undefined);
    const counterparties = await Promise.all(others.map((o) => this.#counterparty(state.client, c, o).catch(() => undefined)));
    await this.#readLogs(c, state, head).catch(() => undefined);
    const waiting = [...state.waiting.entries()]
      .sort(([, x], [, y]) => (x.expiry < y.expiry ? -1 : x.expiry > y.expiry ? 1 : 0))
      .map(([contractId, w]) => ({ contractId, expiry: w.expiry.toString(), counterparty: w.counterparty.toString() }));
    return {
      ...base,
      alive: true,
      head: head.toString(),
      blockMs,
      threshold: state.committee?.threshold ?? null,
      scheme: state.committee?.scheme ?? c.scheme ?? null,
      k: state.committee?.k ?? file.k,
      counterparties: counterparties.filter((x) => x !== undefined),
      waiting,
    };
  }

  /** A chain's committee as another chain's registry has it registered: threshold, k and signature scheme. */
  async #committeeOf(chainId: string, file: DevnetFile): Promise<ChainState["committee"]> {
    const other = file.chains.find((o) => o.chainId !== chainId);
    if (other === undefined) return undefined;
    const client = this.#chains.get(other.chainId)!.client;
    const [, threshold, k] = await client.readContract({ address: other.registry, abi: committeeAbi, functionName: "committeeOf", args: [BigInt(chainId)] });
    const bls = await client.readContract({ address: other.registry, abi: committeeAbi, functionName: "isBlsCommittee", args: [BigInt(chainId)] }).catch(() => false);
    return { threshold: Number(threshold), k: Number(k), scheme: bls ? "BLS" : "ECDSA" };
  }

  async #counterparty(client: PublicClient, on: DevnetFile["chains"][number], of: DevnetFile["chains"][number]): Promise<CounterpartyView> {
    const id = BigInt(of.chainId);
    const [cp, bond, exposure] = await Promise.all([
      client.readContract({ address: on.registry, abi: registryAbi, functionName: "counterparty", args: [id] }),
      client.readContract({ address: on.registry, abi: registryAbi, functionName: "bondOf", args: [id] }),
      client.readContract({ address: on.gateway, abi: gatewayAbi, functionName: "exposureOf", args: [id] }),
    ]);
    return {
      of: of.chainId,
      bond: bond.toString(),
      capacity: cp.capacity.toString(),
      exposure: exposure.toString(),
      latestHeight: cp.height.toString(),
      frozen: cp.frozen,
      frozenAt: cp.frozen ? cp.frozenAt.toString() : null,
    };
  }

  /** The Gateway's and the registry's events since the last read, up to `head`, in pieces of LOG_RANGE blocks. */
  async #readLogs(c: DevnetFile["chains"][number], state: ChainState, head: bigint): Promise<void> {
    while ((state.cursor ?? -1n) < head) {
      const fromBlock = (state.cursor ?? -1n) + 1n;
      const toBlock = fromBlock + LOG_RANGE - 1n < head ? fromBlock + LOG_RANGE - 1n : head;
      const logs = await state.client.getLogs({ address: [c.gateway, c.registry], fromBlock, toBlock });
      const events = parseEventLogs({ abi: eventsAbi, logs, strict: false });
      const byTransaction = new Map<Hex, string[]>();
      for (const e of events) byTransaction.set(e.transactionHash!, [...(byTransaction.get(e.transactionHash!) ?? []), e.eventName]);
      for (const e of events) this.#apply(c, state, e as unknown as DecodedEvent, byTransaction.get(e.transactionHash!) ?? []);
      state.cursor = toBlock;
    }
  }

  #apply(c: DevnetFile["chains"][number], state: ChainState, e: DecodedEvent, inTransaction: string[]): void {
    const args = e.args;
    const fromGateway = e.address.toLowerCase() === c.gateway.toLowerCase();
    const key = (id: Hex) => `${c.chainId}:${id}`;
    const setStatus = (id: Hex, status: SwapSide["status"]) => {
      const side = this.#sides.get(key(id));
      if (side !== undefined) Object.assign(side, { status, updatedAt: Date.now() });
      state.waiting.delete(id);
    };
    if (fromGateway) {
      switch (e.eventName) {
        case "ContractRegistered": {
          const terms = args.terms as { asset: Address; amount: bigint; counterparty: bigint; h1: bigint };
          this.#sides.set(key(args.contractId), {
            chainId: c.chainId,
            contractId: args.contractId,
            mirrorId: args.mirrorId,
            counterparty: terms.counterparty.toString(),
            status: "registered",
            asset: terms.asset === zeroAddress ? "coin" : terms.asset.toLowerCase() === c.token.toLowerCase() ? "token" : terms.asset,
            amount: terms.amount.toString(),
            expiry: terms.h1.toString(),
            registeredAt: e.blockNumber.toString(),
            updatedAt: Date.now(),
          });
          return;
        }
        case "ContractPrecommitted": {
          setStatus(args.contractId, "committed");
          const side = this.#sides.get(key(args.contractId));
          state.waiting.set(args.contractId, { expiry: args.expiry, counterparty: BigInt(side?.counterparty ?? 0) });
          return;
        }
        case "ContractReleased":
          return setStatus(args.contractId, "released");
        case "ContractRefunded":
          return setStatus(args.contractId, this.#sides.get(key(args.contractId))?.status === "undecided" ? "undecided" : "refunded");
        case "ContractCancelled":
          return setStatus(args.contractId, "cancelled");
        case "ContractUndecided":
          return setStatus(args.contractId, "undecided");
        case "CompensationFiled":
          this.#compensation.set(key(args.contractId), { on: c.chainId, contractId: args.contractId, claimant: args.claimant, filed: args.value.toString(), paid: null });
          return;
        case "CompensationPaid": {
          const claim = this.#compensation.get(key(args.contractId));
          if (claim !== undefined) claim.paid = args.paid.toString();
          return;
        }
      }
      return;
    }
    if (e.eventName === "ChainFrozen") {
      this.#freezes.push({
        chainId: args.chainId.toString(),
        on: c.chainId,
        height: e.blockNumber.toString(),
        evidence: inTransaction.includes("ForkProven")
          ? "two conflicting signed views (submitForkEvidence)"
          : inTransaction.includes("ViewConflicted")
            ? "a view conflicting with an accepted one (submitView)"
            : "unknown",
        reporter: args.reporter,
        slashed: args.slashed.toString(),
        reward: args.reward.toString(),
        pool: args.pool.toString(),
        burned: args.burned.toString(),
        transaction: e.transactionHash,
      });
    }
  }

  /** Swaps by their two contract ids, newest change first; a side not registered (yet) is shown as such. */
  #swaps(): SwapSnapshot[] {
    const seen = new Set<string>();
    const swaps: SwapSnapshot[] = [];
    for (const side of this.#sides.values()) {
      const mirrorKey = `${side.counterparty}:${side.mirrorId}`;
      if (seen.has(mirrorKey)) continue;
      seen.add(`${side.chainId}:${side.contractId}`);
      const mirror = this.#sides.get(mirrorKey);
      const other: SwapSide = mirror ?? { chainId: side.counterparty, contractId: side.mirrorId, counterparty: side.chainId, status: "not registered", asset: "coin", amount: "0", expiry: "0", registeredAt: null };
      const pair = [strip(side), strip(other)].sort((x, y) => Number(BigInt(x.chainId) - BigInt(y.chainId))) as [SwapSide, SwapSide];
      swaps.push({ key: pair.map((s) => s.contractId).join(":"), sides: pair, updatedAt: Math.max(side.updatedAt, mirror?.updatedAt ?? 0) });
    }
    return swaps.sort((x, y) => y.updatedAt - x.updatedAt).slice(0, MAX_SWAPS);
  }

  async #relayer(r: DevnetFile["relayers"][number], heads: Record<string, bigint | null>): Promise<RelayerSnapshot> {
    const status = await fetchStatus(r.statusUrl, 1_000);
    const base: RelayerSnapshot = { address: r.address, chainId: r.chainId, up: false, head: null, certifiedHeight: null, peers: { connected: 0, expected: r.peers }, tasks: {}, gaps: {}, rates: {}, sent: { count: 0, bytes: 0 }, received: { count: 0, bytes: 0 }, rejected: {} };
    if (status === undefined) return base;
    const metrics = (status.metrics ?? {}) as { messages?: Record<"sent" | "received", Record<string, { count: number; bytes: number }>>; rejected?: Record<string, number> };
    const sentByKind = metrics.messages?.sent ?? {};
    const receivedByKind = metrics.messages?.received ?? {};
    const total = (byKind: Record<string, { count: number; bytes: number }>) =>
      Object.values(byKind).reduce((sum, m) => ({ count: sum.count + m.count, bytes: sum.bytes + m.bytes }), { count: 0, bytes: 0 });
    const now = Date.now();
    const counts = Object.fromEntries(Object.entries(sentByKind).map(([kind, m]) => [kind, m.count]));
    const previous = this.#previousSent.get(r.address);
    this.#previousSent.set(r.address, { at: now, byKind: counts });
    const rates =
      previous === undefined || now <= previous.at
        ? {}
        : Object.fromEntries(Object.entries(counts).map(([kind, n]) => [kind, Math.round(((n - (previous.byKind[kind] ?? 0)) * 10_000) / (now - previous.at)) / 10]));
    const viewList = (status.viewList ?? {}) as Record<string, string | null>;
    const certified = typeof status.certifiedHeight === "string" ? status.certifiedHeight : null;
    const gap = (chainId: string, height: string | null) => {
      const head = heads[chainId];
      return head === null || head === undefined || height === null ? null : Math.max(0, Number(head - BigInt(height)));
    };
    const gaps = Object.fromEntries(Object.keys(heads).map((chainId) => [chainId, gap(chainId, chainId === r.chainId ? certified : (viewList[chainId] ?? null))]));
    return {
      ...base,
      up: true,
      head: String(status.head ?? ""),
      certifiedHeight: certified,
      peers: { connected: Array.isArray(status.peers) ? status.peers.length : 0, expected: r.peers },
      tasks: (status.tasks ?? {}) as Record<string, number>,
      gaps,
      rates,
      sent: total(sentByKind),
      received: total(receivedByKind),
      rejected: Object.fromEntries(Object.entries(metrics.rejected ?? {}).filter(([, n]) => n > 0)),
    };
  }
}

type DecodedEvent = { eventName: string; args: Record<string, any>; address: Address; blockNumber: bigint; transactionHash: Hex };

function strip({ chainId, contractId, counterparty, status, asset, amount, expiry, registeredAt }: SwapSide): SwapSide {
  return { chainId, contractId, counterparty, status, asset, amount, expiry, registeredAt };
}
