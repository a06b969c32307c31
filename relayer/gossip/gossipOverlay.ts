import { createHash } from "node:crypto";
import type { Address } from "viem";
import type { Clock } from "../clock.js";
import type { Message, WireSignedView } from "../net/message.js";
import type { RemoteSystem } from "../net/requestChannel.js";
import { fanout } from "../net/requestChannel.js";
import { relate } from "../view/relate.js";
import { fromWireView, toWireView } from "../view/wireView.js";
import type { Evidence, SignedView, ViewList } from "./viewList.js";

export type GossipOptions = {
  chainId: bigint;
  self: Address;
  viewList: ViewList;
  /** Every system of the network (this one included), by chainId. */
  systems: ReadonlyMap<bigint, RemoteSystem>;
  clock: Clock;
  send: (to: Address, message: Message) => number;
  /** Probability of pushing to each other system when the view list changed (the paper's send rate). */
  sendRate: number;
  /** Push anyway when the overlay has been idle for this many blocks (the pacemaker). */
  pacemakerBlocks: number;
  /** Gossip messages taken from one peer per second, at most. */
  maxPerPeerPerSecond: number;
  /** Invalid messages after which a peer is cut off. */
  maxStrikes: number;
  /** Certified views of `chainId` after `fromHeight`, at most k apart, for a pull. */
  viewsAfter: (chainId: bigint, fromHeight: bigint) => SignedView[];
  /** Fork evidence found or received, once per chain. */
  onEvidence: (evidence: Evidence) => void;
  /** A refused gossip message, with its reason. */
  onRefused: (from: Address, reason: string) => void;
  random?: () => number;
};

const toWire = (s: SignedView): WireSignedView => ({ view: toWireView(s.view), signatures: s.signatures });

/**
 * The gossip overlay between systems (section IV.C): pushes the view list to a random subset of systems
 * when it changed, re-pushes what it learned, pulls when a view is more than k ahead of what it can
 * verify, and a pacemaker pushes when the overlay has been idle. Messages are de-duplicated by a
 * canonical id, rate-limited per peer, and a peer that keeps sending invalid ones is cut off.
 */
export class GossipOverlay {
  readonly #o: GossipOptions;
  readonly #random: () => number;
  readonly #seen = new Map<string, number>(); // message id → when
  readonly #rate = new Map<string, { windowStart: number; count: number }>();
  readonly #strikes = new Map<string, number>();
  readonly #reported = new Set<bigint>();
  #pushedVersion = 0;
  #lastFullPush = 0n;
  #pacemakerTurn: number | undefined;

  constructor(options: GossipOptions) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
  }

  /** Peers cut off for invalid messages. */
  get cutOff(): string[] {
    return [...this.#strikes].filter(([, n]) => n >= this.#o.maxStrikes).map(([peer]) => peer);
  }

  /**
   * Called once per new block of this node's chain. Push: when the view list changed, its changed
   * entries go to each other system with probability `sendRate`. Pacemaker: every `pacemakerBlocks`
   * blocks the whole list goes to the next other system in turn, so that views which stopped changing
   * (a silent chain's) still meet the others: every system hears from this node's full list at least
   * once every (n − 1)·pacemakerBlocks blocks, which bounds how long a fork can stay hidden.
   */
  onBlock(height: bigint): void {
    const others = [...this.#o.systems.keys()].filter((id) => id !== this.#o.chainId);
    if (others.length === 0) return;
    if (height - this.#lastFullPush >= BigInt(this.#o.pacemakerBlocks) && this.#o.viewList.version > 0) {
      this.#lastFullPush = height;
      this.#pushedVersion = this.#o.viewList.version;
      this.#pacemakerTurn ??= Math.floor(this.#random() * others.length);
      const target = others[this.#pacemakerTurn++ % others.length]!;
      this.#toSystem(target, { kind: "view-update", views: this.#o.viewList.entries().map(toWire) });
      return;
    }
    if (this.#o.viewList.version === this.#pushedVersion) return;
    const targets = others.filter(() => this.#random() < this.#o.sendRate);
    if (targets.length === 0) return;
    const message: Message = { kind: "view-update", views: this.#o.viewList.changedSince(this.#pushedVersion).map(toWire) };
    this.#pushedVersion = this.#o.viewList.version;
    for (const chainId of targets) this.#toSystem(chainId, message);
  }

  /** Broadcasts fork evidence to every system and hands it to the node, once per chain. */
  report(evidence: Evidence): void {
    const chainId = evidence.a.view.chainId;
    if (this.#reported.has(chainId)) return;
    this.#reported.add(chainId);
    this.#o.viewList.freeze(chainId);
    this.#o.onEvidence(evidence);
    const message: Message = { kind: "evidence", a: toWire(evidence.a), b: toWire(evidence.b) };
    for (const id of this.#o.systems.keys()) this.#toSystem(id, message, true);
  }

  /**
   * Offers a signed view learned anywhere (a check() answer, this chain's registry) to the view list; `accepted` when
   * this node's chain's ViewRegistry accepted it (see ViewList.offer).
   */
  async learn(view: SignedView, options: { accepted?: boolean } = {}): Promise<void> {
    const offer = await this.#o.viewList.offer(toWire(view), options);
    if (offer.result === "conflict") this.report(offer.evidence);
  }

  async handle(from: Address, message: Message): Promise<void> {
    if (message.kind !== "view-update" && message.kind !== "view-pull" && message.kind !== "evidence") return;
    const peer = from.toLowerCase();
    if ((this.#strikes.get(peer) ?? 0) >= this.#o.maxStrikes) return this.#o.onRefused(from, "peer cut off");
    if (!this.#admit(peer)) return this.#o.onRefused(from, "gossip rate limited");
    // The canonical id is the content: the same update or evidence from several peers is processed once.
    // A pull is a question of one peer, so its id names the peer too. The id never leaves the node, so it is
    // the platform's SHA-256, some 40 times cheaper than keccak256 in JavaScript on a view list of a few kB.
    const id = createHash("sha256").update(message.kind === "view-pull" ? `${peer}:${JSON.stringify(message)}` : JSON.stringify(message)).digest("hex");
    if (this.#seen.has(id)) return this.#o.onRefused(from, "duplicate gossip");
    this.#remember(id);

    if (message.kind === "view-pull") {
      const views = this.#o.viewsAfter(BigInt(message.chainId), BigInt(message.fromHeight)).slice(0, 64);
      if (views.length > 0) this.#o.send(from, { kind: "view-update", views: views.map(toWire) });
      return;
    }
    if (message.kind === "evidence") {
      const a = await this.#o.viewList.offer(message.a);
      const b = await this.#o.viewList.offer(message.b);
      const conflict = [a, b].find((o) => o.result === "conflict");
      if (conflict?.result === "conflict") return this.report(conflict.evidence);
      if (a.result === "invalid" || b.result === "invalid") return this.#strike(from, "invalid evidence");
      if (a.result === "frozen" || b.result === "frozen") return;
      // Both carry valid signatures (offer checked them) but may lie beyond what the list can connect to.
      const evidence = { a: { view: fromWireView(message.a.view), signatures: message.a.signatures }, b: { view: fromWireView(message.b.view), signatures: message.b.signatures } };
      if (evidence.a.view.chainId === evidence.b.view.chainId && relate(evidence.a.view, evidence.b.view) === "conflicting") this.report(evidence);
      return;
    }
    if (message.views.length > this.#o.systems.size * 64) return this.#strike(from, "oversized view update");
    for (const wire of message.views) {
      const offer = await this.#o.viewList.offer(wire);
      if (offer.result === "invalid") this.#strike(from, `invalid view: ${offer.reason}`);
      else if (offer.result === "conflict") this.report(offer.evidence);
      else if (offer.result === "unverifiable") this.#o.send(from, { kind: "view-pull", chainId: wire.view.chainId, fromHeight: offer.from.toString() });
    }
  }

  #toSystem(chainId: bigint, message: Message, everyone = false): void {
    const system = this.#o.systems.get(chainId);
    if (system === undefined) return;
    const members = system.members.filter((m) => m.toLowerCase() !== this.#o.self.toLowerCase());
    const count = everyone ? members.length : Math.min(members.length, fanout(system));
    const start = Math.floor(this.#random() * members.length);
    for (let i = 0; i < count; i++) this.#o.send(members[(start + i) % members.length]!, message);
  }

  #admit(peer: string): boolean {
    const now = this.#o.clock.now();
    const rate = this.#rate.get(peer) ?? { windowStart: now, count: 0 };
    if (now - rate.windowStart >= 1000) Object.assign(rate, { windowStart: now, count: 0 });
    rate.count += 1;
    this.#rate.set(peer, rate);
    return rate.count <= this.#o.maxPerPeerPerSecond;
  }

  #remember(id: string): void {
    const now = this.#o.clock.now();
    this.#seen.set(id, now);
    if (this.#seen.size > 10_000) {
      for (const [key, at] of this.#seen) if (now - at > 60_000 || this.#seen.size > 10_000) this.#seen.delete(key);
    }
  }

  #strike(from: Address, reason: string): void {
    const peer = from.toLowerCase();
    this.#strikes.set(peer, (this.#strikes.get(peer) ?? 0) + 1);
    this.#o.onRefused(from, reason.startsWith("invalid view") ? "invalid view" : reason);
  }
}
