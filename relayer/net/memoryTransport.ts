import { getAddress, type Address } from "viem";
import type { Clock } from "../clock.js";
import { jsonCopy } from "./jsonCopy.js";
import type { Message } from "./message.js";
import type { Delivery, Transport } from "./transport.js";

export type Link = { from: Address; to: Address };

export type MemoryHubParameters = {
  /** Drives delivery; a `SimulatedClock` in benchmarks and tests. */
  clock: Clock;
  /** One-way delay of every message, or of each link. Default 0 (still asynchronous). */
  latencyMs?: number | ((link: Link) => number);
};

/**
 * The network of `MemoryTransport`s: routes each message to the transport registered under its
 * address, after the link's latency on the hub's clock. A link marked down drops what is sent over
 * it and what is still in flight on it.
 */
export class MemoryHub {
  readonly clock: Clock;
  /** Messages accepted by `send` and handed to the receiver. */
  delivered = 0;
  /** Messages refused by `send` or lost in flight (receiver gone, link cut). */
  dropped = 0;

  readonly #latency: (link: Link) => number;
  /** Keyed by lower-case address: cheap to normalize on every send, unlike a checksum. */
  readonly #members = new Map<string, MemoryTransport>();
  readonly #down = new Set<string>();
  /**
   * The message routed last in this turn of the event loop, written out and copied once for all its receivers (a push
   * goes to several nodes of a system, a request to (1 − r)·q + 1): a sender does not change a message between two sends
   * of one turn. Forgotten when the turn ends.
   */
  #frame: { message: Message; text: string; bytes: number; copy: Message } | undefined;

  constructor({ clock, latencyMs = 0 }: MemoryHubParameters) {
    this.clock = clock;
    this.#latency = typeof latencyMs === "number" ? () => latencyMs : latencyMs;
  }

  /** Cuts (`down` true) or restores the link between `a` and `b`, both directions. */
  setLinkDown(a: Address, b: Address, down: boolean): void {
    const key = linkKey(a, b);
    if (down) this.#down.add(key);
    else this.#down.delete(key);
  }

  isLinkDown(a: Address, b: Address): boolean {
    // Every message asks, twice; with no link down (most runs) the answer needs no key.
    return this.#down.size > 0 && this.#down.has(linkKey(a, b));
  }

  /** Addresses reachable from `self` now. */
  reachable(self: Address): Address[] {
    const key = self.toLowerCase();
    const reachable: Address[] = [];
    for (const [member, transport] of this.#members) if (member !== key && !this.isLinkDown(self, transport.self)) reachable.push(transport.self);
    return reachable;
  }

  /** @internal Called by `MemoryTransport.start()`. A newer transport with the same address replaces the older. */
  join(transport: MemoryTransport): void {
    this.#members.set(transport.self.toLowerCase(), transport);
  }

  /** @internal Called by `MemoryTransport.stop()`. */
  leave(transport: MemoryTransport): void {
    const key = transport.self.toLowerCase();
    if (this.#members.get(key) === transport) this.#members.delete(key);
  }

  /** @internal Called by `MemoryTransport.send()`: writes out and copies now (see #frame), delivers the copy after the latency. */
  route(from: MemoryTransport, to: Address, message: Message): number {
    const receiver = this.#members.get(to.toLowerCase());
    if (!receiver || receiver === from || !this.#isMember(from) || this.isLinkDown(from.self, to)) {
      this.dropped++;
      return 0;
    }
    const { text, bytes, copy } = this.#frameOf(message);
    this.clock.setTimeout(() => {
      if (!this.#isMember(receiver) || this.isLinkDown(from.self, to)) {
        this.dropped++;
        return;
      }
      this.delivered++;
      receiver.deliver({ from: from.self, message: copy, bytes, text });
    }, this.#latency({ from: from.self, to: receiver.self }));
    return bytes;
  }

  #frameOf(message: Message): { text: string; bytes: number; copy: Message } {
    if (this.#frame?.message !== message) {
      const text = JSON.stringify(message);
      if (this.#frame === undefined) queueMicrotask(() => (this.#frame = undefined));
      this.#frame = { message, text, bytes: Buffer.byteLength(text), copy: jsonCopy(message) as Message };
    }
    return this.#frame;
  }

  #isMember(transport: MemoryTransport): boolean {
    return this.#members.get(transport.self.toLowerCase()) === transport;
  }
}

export type MemoryTransportParameters = { hub: MemoryHub; address: Address };

/**
 * `Transport` over a `MemoryHub`: the same `send` semantics as `WsTransport`, with no sockets and no keys. Unlike
 * `WsTransport` it does not decode what it delivers (`decodeMessage`): its peers are the same code in the same process,
 * and decoding every message would add about half to the CPU time of a simulated cell (6.2 s to 9.2 s on a cell of
 * 5 systems × 600 blocks). Tests that stand for a node's boundary decode in their own handler.
 */
export class MemoryTransport implements Transport {
  readonly self: Address;
  readonly #hub: MemoryHub;
  #handler: ((delivery: Delivery) => void) | undefined;
  #started = false;

  constructor({ hub, address }: MemoryTransportParameters) {
    this.#hub = hub;
    this.self = getAddress(address);
  }

  async start(): Promise<void> {
    this.#started = true;
    this.#hub.join(this);
  }

  async stop(): Promise<void> {
    this.#started = false;
    this.#hub.leave(this);
  }

  send(to: Address, message: Message): number {
    return this.#hub.route(this, to, message);
  }

  connected(): Address[] {
    return this.#started ? this.#hub.reachable(this.self) : [];
  }

  onMessage(handler: (delivery: Delivery) => void): void {
    this.#handler = handler;
  }

  /** @internal Called by the hub when a message arrives. */
  deliver(delivery: Delivery): void {
    if (this.#started) this.#handler?.(delivery);
  }
}

function linkKey(a: Address, b: Address): string {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()].sort();
  return `${x}-${y}`;
}
