import { WebSocket } from "ws";
import type { Hex } from "viem";
import type { Clock } from "../clock.js";
import { backoff } from "../util/backoff.js";

/** What the follower reads of a block. */
export type Header = { number: bigint; hash: Hex; parentHash: Hex; logsBloom: Hex | null };

/**
 * Heads a chain pushes (the follower's HeadFeed). `wait` resolves with true when a head is pushed (at once when one was
 * pushed since the last wait), with false after `ms` without one; `newest` is the newest head pushed, and `header` a recent
 * pushed header by height, of the branch of the newest. While the feed is not `live` (not connected, or not subscribed
 * yet) the follower polls every pollMs as without it.
 */
export interface HeadFeed {
  readonly live: boolean;
  newest(): Header | undefined;
  header(number: bigint): Header | undefined;
  wait(ms: number): Promise<boolean>;
}

export type NewHeadsOptions = {
  /** A WebSocket JSON-RPC endpoint of the chain (Hardhat and Anvil serve one on their HTTP port). */
  url: string;
  clock: Clock;
  /** Called when the subscription is lost or refused; it is made again with backoff. */
  onError: (error: Error) => void;
};

/** Pushed headers kept by height, for a follower that fell behind by a few blocks (the newest this many). */
const KEPT_HEADERS = 64;
/** Bytes a notification may take: a header is about 1.5 kB. */
const MAX_MESSAGE_BYTES = 64 * 1024;
const HASH = /^0x[0-9a-fA-F]{64}$/;
const BLOOM = /^0x[0-9a-fA-F]{512}$/;
const QUANTITY = /^0x[0-9a-fA-F]{1,16}$/;

/**
 * `eth_subscribe("newHeads")` over a WebSocket of its own, made again with backoff (up to 30 s) whenever it closes, so it
 * outlives its endpoint's restarts (viem's WebSocket transport does not). An idle follower that polled its endpoint once
 * a block spent a third of its CPU on it: a pushed head costs about a tenth of a poll. A notification that is not a
 * header (a field missing or malformed) is dropped: the follower then reads the block itself, as it does at every gap.
 */
export class NewHeads implements HeadFeed {
  readonly #o: NewHeadsOptions;
  readonly #delays = backoff({ initialMs: 500, maxMs: 30_000 });
  readonly #waiters = new Set<(pushed: boolean) => void>();
  /** Pushed headers by height, ascending, none above the newest push (a push drops what a reorganization replaced). */
  readonly #headers = new Map<bigint, Header>();
  #ws: WebSocket | undefined;
  #subscription: string | undefined;
  /** A head was pushed since the last wait. */
  #pushed = false;
  #running = false;
  #cancelRedial: (() => void) | undefined;

  constructor(options: NewHeadsOptions) {
    this.#o = options;
  }

  get live(): boolean {
    return this.#subscription !== undefined;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#connect();
  }

  stop(): void {
    this.#running = false;
    this.#cancelRedial?.();
    this.#ws?.terminate();
    this.#ws = undefined;
    this.#subscription = undefined;
    this.#wake(false);
  }

  newest(): Header | undefined {
    // A push is set last (what it replaced goes first), so the newest is the last entry.
    let newest: Header | undefined;
    for (const header of this.#headers.values()) newest = header;
    return newest;
  }

  header(number: bigint): Header | undefined {
    return this.#headers.get(number);
  }

  wait(ms: number): Promise<boolean> {
    if (this.#pushed) {
      this.#pushed = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const done = (pushed: boolean) => {
        cancel();
        this.#waiters.delete(done);
        if (pushed) this.#pushed = false;
        resolve(pushed);
      };
      const cancel = this.#o.clock.setTimeout(() => done(false), ms);
      this.#waiters.add(done);
    });
  }

  #wake(pushed: boolean): void {
    for (const done of [...this.#waiters]) done(pushed);
  }

  #connect(): void {
    this.#cancelRedial = undefined;
    if (!this.#running) return;
    const ws = new WebSocket(this.#o.url, { perMessageDeflate: false, maxPayload: MAX_MESSAGE_BYTES, handshakeTimeout: 10_000 });
    this.#ws = ws;
    ws.on("open", () => ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] })));
    ws.on("message", (data) => this.#onMessage(ws, String(data)));
    ws.on("error", (error) => this.#o.onError(error));
    ws.on("close", () => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      this.#subscription = undefined;
      // The follower polls meanwhile: wake it, so that it does not wait out a silence on a feed that is gone.
      this.#headers.clear();
      this.#wake(false);
      if (this.#running) this.#cancelRedial = this.#o.clock.setTimeout(() => this.#connect(), this.#delays.next());
    });
  }

  #onMessage(ws: WebSocket, text: string): void {
    let message: { id?: unknown; result?: unknown; error?: { message?: unknown }; method?: unknown; params?: { subscription?: unknown; result?: unknown } };
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.id === 1) {
      if (typeof message.result === "string") {
        this.#subscription = message.result;
        this.#delays.reset();
        return;
      }
      this.#o.onError(new Error(`eth_subscribe("newHeads") refused: ${String(message.error?.message ?? "no subscription id")}`));
      ws.close();
      return;
    }
    if (message.method !== "eth_subscription" || message.params?.subscription !== this.#subscription) return;
    const head = headerOf(message.params?.result);
    if (head === undefined) return;
    // Heads come in order: a head at or below a kept one is a reorganization, and what it replaced goes.
    for (const number of this.#headers.keys()) if (number >= head.number) this.#headers.delete(number);
    this.#headers.set(head.number, head);
    if (this.#headers.size > KEPT_HEADERS) this.#headers.delete(this.#headers.keys().next().value!);
    this.#pushed = true;
    this.#wake(true);
  }
}

/** The header in a newHeads notification, or undefined when it is not one. */
function headerOf(raw: unknown): Header | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const { number, hash, parentHash, logsBloom } = raw as Record<string, unknown>;
  if (typeof number !== "string" || !QUANTITY.test(number)) return undefined;
  if (typeof hash !== "string" || !HASH.test(hash) || typeof parentHash !== "string" || !HASH.test(parentHash)) return undefined;
  const bloom = typeof logsBloom === "string" && BLOOM.test(logsBloom) ? (logsBloom as Hex) : null;
  return { number: BigInt(number), hash: hash as Hex, parentHash: parentHash as Hex, logsBloom: bloom };
}
