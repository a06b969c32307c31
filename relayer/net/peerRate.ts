import { LRUCache } from "lru-cache";
import type { Clock } from "../clock.js";

export type PeerRateParameters = {
  clock: Clock;
  /** Messages a peer may send per second. */
  perSecond: number;
  /** Peers whose counts are kept, the most recent ones: a peer forgotten starts a fresh second. */
  peers: number;
};

/** A per-peer limit of messages per second, each peer's second starting at its first message in it. */
export class PeerRate {
  readonly #o: PeerRateParameters;
  readonly #windows: LRUCache<string, { start: number; count: number }>;

  constructor(parameters: PeerRateParameters) {
    this.#o = parameters;
    this.#windows = new LRUCache({ max: parameters.peers });
  }

  /** Peers counted now. */
  get size(): number {
    return this.#windows.size;
  }

  /** Counts a message of `peer` (a lower-case address) and tells whether it is within the peer's limit. */
  admit(peer: string): boolean {
    const now = this.#o.clock.now();
    let window = this.#windows.get(peer);
    if (window === undefined || now - window.start >= 1000) this.#windows.set(peer, (window = { start: now, count: 0 }));
    window.count += 1;
    return window.count <= this.#o.perSecond;
  }
}
