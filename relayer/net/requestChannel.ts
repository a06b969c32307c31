import { randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Address, Hex } from "viem";
import type { Clock } from "../clock.js";
import { MAX_CONTRACTS_PER_REQUEST, REQUEST_ID_BYTES, type Answer, type Message, type Reply, type Request } from "./message.js";
import { asReason } from "./messageSchema.js";
import { PeerRate } from "./peerRate.js";
import type { RefusalReason } from "./refusalReason.js";
import { shortMessage } from "../util/shortMessage.js";
import { RelayerError } from "../util/relayerError.js";

export class RequestFailedError extends RelayerError {
  constructor(readonly chainId: bigint, readonly reasons: string[]) {
    super(`no verified answer from chain ${chainId}: ${reasons.length ? reasons.join("; ") : "no node answered in time"}`);
  }
}

export type RemoteSystem = { members: readonly Address[]; rNumerator: number; rDenominator: number };

export type RequestChannelOptions = {
  clock: Clock;
  timeoutMs: number;
  /** Other systems, by chainId: their committees and thresholds. */
  systems: ReadonlyMap<bigint, RemoteSystem>;
  send: (to: Address, message: Message) => number;
  /** Answers a request for this node's own chain. */
  serve: (request: Request, from: Address) => Promise<Reply>;
  /** Requests served per peer per second, at most. */
  maxRequestsPerSecond: number;
  /** Called for every refused message, with the reason (replay, rate, unexpected answer) and any detail. */
  onRefused: (from: Address, reason: RefusalReason, detail?: string) => void;
};

/**
 * How much the channel keeps, at most. A served request's id is remembered for `replayMs` so that its replay is refused;
 * beyond `replayEntries` the least recent is forgotten, which lets only that request be served twice (it still counts
 * against its peer's rate). Rates are kept for the `peers` most recent peers; `pending` requests of this node may wait
 * for their answers at once.
 */
export const CHANNEL_LIMITS = { replayEntries: 20_000, replayMs: 10 * 60_000, peers: 1024, pending: 1024 } as const;

/** How many nodes of a system with committee q and threshold ratio r a request goes to: (1 − r)·q + 1. */
export function fanout(system: RemoteSystem): number {
  const q = system.members.length;
  return Math.min(q, Math.floor(((system.rDenominator - system.rNumerator) * q) / system.rDenominator) + 1);
}

export type AskParameters<T> = {
  chainId: bigint;
  /**
   * Up to MAX_CONTRACTS_PER_REQUEST contracts of `chainId`, proven together. None: a registry refresh, which asks only
   * for the newest view and its bridge, above `knownHeight` (minHeight > knownHeight) and never with `atHeight`.
   */
  contractIds: readonly Hex[];
  /** The newest height of `chainId` the asker's registry accepted. */
  knownHeight: bigint;
  minHeight: bigint;
  /** Proof at exactly this accepted height, without a view (the chain is frozen at the asker's registry). */
  atHeight?: bigint;
  /** Believes an answer or throws why not; the first answer it returns for wins. */
  verify: (answer: Answer, from: Address) => Promise<T>;
};

type Pending<T> = {
  chainId: bigint;
  targets: Set<string>;
  outstanding: number;
  reasons: string[];
  verify: (answer: Answer, from: Address) => Promise<T>;
  settle: (result: { ok: true; value: T } | { ok: false; error: Error }) => void;
};

/**
 * The request channel of the paper: check() requests to another system and their answers. A request
 * goes to (1 − r)·q + 1 of the system's nodes, so that at least one honest node gets it; the first answer
 * that verifies wins, answers that fail verification are ignored. Served requests are rate-limited per peer,
 * then de-duplicated per peer (replays are refused); what the channel keeps is bounded (CHANNEL_LIMITS).
 * A node hands it what its transport decoded (`decodeMessage`), so every field is within its bounds.
 */
export class RequestChannel {
  readonly #o: RequestChannelOptions;
  readonly #pending = new Map<string, Pending<unknown>>();
  readonly #seen: LRUCache<string, true>; // `${peer}:${requestId}`
  readonly #rate: PeerRate;
  #rotation = 0;

  constructor(options: RequestChannelOptions) {
    this.#o = options;
    // The cache's clock is the channel's (simulated in the benchmarks), read on every check (ttlResolution 0).
    this.#seen = new LRUCache({ max: CHANNEL_LIMITS.replayEntries, ttl: CHANNEL_LIMITS.replayMs, ttlResolution: 0, perf: options.clock });
    this.#rate = new PeerRate({ clock: options.clock, perSecond: options.maxRequestsPerSecond, peers: CHANNEL_LIMITS.peers });
  }

  /** What the channel holds now: requests of this node in flight, served request ids remembered, peers rated. */
  get held(): { pending: number; remembered: number; peers: number } {
    return { pending: this.#pending.size, remembered: this.#seen.size, peers: this.#rate.size };
  }

  /** Asks `chainId` for check() of `contractIds` and resolves with the first answer that `verify` accepts. */
  ask<T>({ chainId, contractIds, knownHeight, minHeight, atHeight, verify }: AskParameters<T>): Promise<T> {
    const system = this.#o.systems.get(chainId);
    if (system === undefined) return Promise.reject(new RequestFailedError(chainId, [`chain ${chainId} is not configured`]));
    if (contractIds.length > MAX_CONTRACTS_PER_REQUEST) {
      return Promise.reject(new RangeError(`a request asks about at most ${MAX_CONTRACTS_PER_REQUEST} contracts, not ${contractIds.length}`));
    }
    if (contractIds.length === 0 && (atHeight !== undefined || minHeight <= knownHeight)) {
      return Promise.reject(new RangeError("a request about no contract (a registry refresh) asks for a view above knownHeight, without atHeight"));
    }
    if (this.#pending.size >= CHANNEL_LIMITS.pending) {
      return Promise.reject(new RequestFailedError(chainId, [`${CHANNEL_LIMITS.pending} requests are waiting for answers already`]));
    }
    const requestId = randomBytes(REQUEST_ID_BYTES).toString("hex");
    const request: Request = {
      kind: "request",
      requestId,
      chainId: chainId.toString(),
      contractIds: [...contractIds],
      knownHeight: knownHeight.toString(),
      minHeight: minHeight.toString(),
      ...(atHeight === undefined ? {} : { atHeight: atHeight.toString() }),
    };
    const count = fanout(system);
    // Rotate through the committee so that successive requests spread over its nodes.
    const start = this.#rotation++ % system.members.length;
    const order = Array.from({ length: system.members.length }, (_, i) => system.members[(start + i) % system.members.length]!);
    return new Promise<T>((resolve, reject) => {
      const cancel = this.#o.clock.setTimeout(() => finish({ ok: false, error: new RequestFailedError(chainId, pending.reasons) }), this.#o.timeoutMs);
      const finish = (result: { ok: true; value: T } | { ok: false; error: Error }) => {
        if (!this.#pending.delete(requestId)) return;
        cancel();
        if (result.ok) resolve(result.value);
        else reject(result.error);
      };
      const pending: Pending<T> = { chainId, targets: new Set(), outstanding: 0, reasons: [], verify, settle: finish };
      this.#pending.set(requestId, pending as Pending<unknown>);
      // (1 − r)·q + 1 nodes that took the request: a node that is not connected does not count.
      for (const target of order) {
        if (pending.targets.size >= count) break;
        if (this.#o.send(target, request) > 0) pending.targets.add(target.toLowerCase());
      }
      const sent = pending.targets.size;
      pending.outstanding = sent;
      if (sent === 0) finish({ ok: false, error: new RequestFailedError(chainId, ["no node of the chain is connected"]) });
    });
  }

  /** Handles a request-channel message from an authenticated peer. */
  async handle(from: Address, message: Message): Promise<void> {
    if (message.kind === "request") return this.#serve(from, message);
    if (message.kind !== "answer" && message.kind !== "answer-error") return;
    const pending = this.#pending.get(message.requestId);
    if (pending === undefined || !pending.targets.delete(from.toLowerCase())) {
      this.#o.onRefused(from, "unexpected answer");
      return;
    }
    if (message.kind === "answer-error") {
      pending.reasons.push(`${from}: ${message.reason}`);
    } else {
      try {
        pending.settle({ ok: true, value: await pending.verify(message, from) });
        return;
      } catch (error) {
        const detail = shortMessage(error);
        pending.reasons.push(`${from}: ${detail}`);
        this.#o.onRefused(from, "answer failed verification", detail);
      }
    }
    pending.outstanding -= 1;
    if (pending.outstanding <= 0) pending.settle({ ok: false, error: new RequestFailedError(pending.chainId, pending.reasons) });
  }

  async #serve(from: Address, request: Request): Promise<void> {
    const peer = from.toLowerCase();
    // The rate first: a request over the limit leaves nothing behind but its peer's count.
    if (!this.#rate.admit(peer)) {
      this.#o.onRefused(from, "rate limited");
      this.#o.send(from, { kind: "answer-error", requestId: request.requestId, reason: "rate limited" });
      return;
    }
    const key = `${peer}:${request.requestId}`;
    if (this.#seen.has(key)) {
      this.#o.onRefused(from, "replayed request");
      return;
    }
    this.#seen.set(key, true);
    let reply: Reply;
    try {
      reply = await this.#o.serve(request, from);
    } catch (error) {
      reply = { kind: "answer-error", requestId: request.requestId, reason: shortMessage(error) };
    }
    // A reason is one bounded line, or the requester's decoder refuses the whole answer.
    if (reply.kind === "answer-error") reply = { ...reply, reason: asReason(reply.reason) };
    this.#o.send(from, reply);
  }
}
