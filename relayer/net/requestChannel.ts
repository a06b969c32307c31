import { randomBytes } from "node:crypto";
import type { Address, Hex } from "viem";
import type { Clock } from "../clock.js";
import { MAX_CONTRACTS_PER_REQUEST, type Answer, type Message, type Reply, type Request } from "./message.js";
import { shortMessage } from "../util/shortMessage.js";

export class RequestFailedError extends Error {
  constructor(readonly chainId: bigint, readonly reasons: string[]) {
    super(`no verified answer from chain ${chainId}: ${reasons.length ? reasons.join("; ") : "no node answered in time"}`);
    this.name = "RequestFailedError";
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
  onRefused: (from: Address, reason: string, detail?: string) => void;
};

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
 * that verifies wins, answers that fail verification are ignored. Served requests are de-duplicated
 * per peer (replays are refused) and rate-limited.
 */
export class RequestChannel {
  readonly #o: RequestChannelOptions;
  readonly #pending = new Map<string, Pending<unknown>>();
  readonly #seen = new Map<string, number>(); // `${peer}:${requestId}` → when
  readonly #served = new Map<string, { windowStart: number; count: number }>();
  #rotation = 0;

  constructor(options: RequestChannelOptions) {
    this.#o = options;
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
    const requestId = randomBytes(16).toString("hex");
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
    const now = this.#o.clock.now();
    const key = `${from.toLowerCase()}:${request.requestId}`;
    if (this.#seen.has(key)) {
      this.#o.onRefused(from, "replayed request");
      return;
    }
    this.#seen.set(key, now);
    // A Map iterates in insertion order, so the expired entries are the first ones: stop at the first still fresh
    // instead of walking ten minutes of requests on every request served.
    for (const [k, at] of this.#seen) {
      if (now - at <= 10 * 60_000) break;
      this.#seen.delete(k);
    }
    const rate = this.#served.get(from) ?? { windowStart: now, count: 0 };
    if (now - rate.windowStart >= 1000) Object.assign(rate, { windowStart: now, count: 0 });
    rate.count += 1;
    this.#served.set(from, rate);
    if (rate.count > this.#o.maxRequestsPerSecond) {
      this.#o.onRefused(from, "rate limited");
      this.#o.send(from, { kind: "answer-error", requestId: request.requestId, reason: "rate limited" });
      return;
    }
    let reply: Reply;
    try {
      reply = await this.#o.serve(request, from);
    } catch (error) {
      reply = { kind: "answer-error", requestId: request.requestId, reason: (error as Error).message.slice(0, 200) };
    }
    this.#o.send(from, reply);
  }
}
