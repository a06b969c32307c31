import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Address } from "viem";
import type { Clock } from "../clock.js";
import { MAX_VIEWS_PER_UPDATE, type Message } from "../net/message.js";
import { PeerRate } from "../net/peerRate.js";
import type { RefusalReason } from "../net/refusalReason.js";
import type { RemoteSystem } from "../net/requestChannel.js";
import { fanout } from "../net/requestChannel.js";
import { relate } from "../view/relate.js";
import type { ViewList } from "./viewList.js";
import { fromWireSignedView, toWireSignedView, type Evidence, type SignedView } from "../view/signedView.js";
import { headOf, toWireViewHead, type SignedViewHead } from "../view/viewHead.js";

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
  /** The pacemaker: every this many blocks the round's pusher sends its whole list to one other system. */
  pacemakerBlocks: number;
  /** Blocks per gossip round: the pusher of round floor(height / roundBlocks) is the committee member at its index mod q. */
  roundBlocks: number;
  /** The peers the node's transport is connected to now: a pusher not among them is passed over. */
  connected: () => readonly Address[];
  /** Gossip messages taken from one peer per second, at most. */
  maxPerPeerPerSecond: number;
  /** Invalid messages after which a peer is cut off. */
  maxStrikes: number;
  /** Whether pushes carry views as heads where the receiver holds an older view (GossipConfig.viewHeads; default true). */
  viewHeads?: boolean;
  /**
   * One strike of a peer is forgiven every this many ms (default STRIKE_DECAY_MS), so that a peer cut off is taken back
   * once its strikes decay below maxStrikes: a node framed once (or briefly faulty) is not cut off for good, and one that
   * keeps sending invalid messages gets one through per interval.
   */
  strikeDecayMs?: number;
  /** Certified views of `chainId` after `fromHeight`, at most k apart, for a pull. */
  viewsAfter: (chainId: bigint, fromHeight: bigint) => SignedView[];
  /** Fork evidence found or received, once per chain. */
  onEvidence: (evidence: Evidence) => void;
  /** A refused gossip message, with its reason. */
  onRefused: (from: Address, reason: RefusalReason) => void;
  random?: () => number;
};

/** Default of GossipOptions.strikeDecayMs: a minute per strike. */
export const STRIKE_DECAY_MS = 60_000;

/**
 * How much the overlay keeps, at most: the ids of the messages it took in the last `seenMs` (beyond `seenEntries` the
 * least recent are forgotten, and a repeat of one of them is processed again: the view list finds it known), and the
 * rates and strikes of the `peers` most recent peers.
 */
export const OVERLAY_LIMITS = { seenEntries: 10_000, seenMs: 60_000, peers: 1024 } as const;

type Strikes = { count: number; since: number };


/**
 * The gossip overlay between systems (section IV.C): one node per system and round (the pusher) pushes what
 * each other system has not been sent of its view list to a random subset of systems, which re-push what they
 * learned in their pushers' rounds, each view as its head above the newest view of its chain the receiver is known to
 * hold (the window only when the receiver cannot connect without it); a node pulls when a view is more than k ahead of
 * what it can verify, or for a head it cannot make whole, and a pacemaker sends the whole list to one system in turn.
 * Messages are rate-limited per peer, then de-duplicated by the hash of their text; a peer that keeps sending invalid
 * ones is cut off until its strikes decay. What the overlay keeps is bounded (OVERLAY_LIMITS, and a height per chain
 * and member of the configured systems). A node hands it what its transport decoded (`decodeMessage`), so every field
 * is within its bounds.
 */
export class GossipOverlay {
  readonly #o: GossipOptions;
  readonly #random: () => number;
  readonly #strikeDecayMs: number;
  readonly #seen: LRUCache<string, true>; // message id
  readonly #rate: PeerRate;
  readonly #strikes: LRUCache<string, Strikes>;
  /** The evidence message of every chain this node reported, by chainId: the pacemaker sends it again (see onBlock). */
  readonly #reported = new Map<bigint, Message>();
  /**
   * other system → chainId → the height of the newest view of that chain that system holds as far as this node knows:
   * the newest this node sent to it, or one of its nodes sent to this node.
   */
  readonly #sent = new Map<bigint, Map<bigint, bigint>>();
  /**
   * lower-case address of another system's member → chainId → the height of the newest view of that chain the member is
   * known to hold: one this node pushed to it, or one it sent here that this node's list knew or took. A push to it
   * carries a newer view as its head above that height (SignedViewHead). Kept per member, since a push reaches
   * (1 − r)·q + 1 of a system's q members and which ones turns with the rounds. A push counts once the transport took
   * it: a member that lost it, or could not connect it, cannot make the next head whole and pulls the view (a round
   * trip; its later heads then have a base again).
   */
  readonly #heldBy = new Map<string, Map<bigint, bigint>>();
  /** lower-case address → the system (chainId) whose committee it belongs to */
  readonly #systemOf: Map<string, bigint>;

  constructor(options: GossipOptions) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
    this.#strikeDecayMs = options.strikeDecayMs ?? STRIKE_DECAY_MS;
    // The cache's clock is the overlay's (simulated in the benchmarks), read on every check (ttlResolution 0).
    this.#seen = new LRUCache({ max: OVERLAY_LIMITS.seenEntries, ttl: OVERLAY_LIMITS.seenMs, ttlResolution: 0, perf: options.clock });
    this.#rate = new PeerRate({ clock: options.clock, perSecond: options.maxPerPeerPerSecond, peers: OVERLAY_LIMITS.peers });
    this.#strikes = new LRUCache({ max: OVERLAY_LIMITS.peers });
    this.#systemOf = new Map([...options.systems].flatMap(([chainId, system]) => system.members.map((m) => [m.toLowerCase(), chainId] as const)));
  }

  /** Peers cut off now for invalid messages (lower-case addresses). */
  get cutOff(): string[] {
    return [...this.#strikes.keys()].filter((peer) => this.#strikesOf(peer) >= this.#o.maxStrikes);
  }

  /**
   * Whether this node pushes at `height` (section IV.C: one node per system and round). The round is
   * floor(height / roundBlocks); its pusher is the member at index round mod q of this system's committee, in the
   * configured order, so every member knows who it is. A pusher that is not among the transport's connected peers is
   * passed over for the next member in order, so when a node falls silent (crashed, cut off) the member after it
   * pushes in its rounds; a node that is connected but withholds its pushes holds back only its own rounds, one in q.
   * Two members that see the links differently may both push in a round: a message more, never one less.
   */
  pushes(height: bigint): boolean {
    const members = this.#o.systems.get(this.#o.chainId)?.members ?? [];
    const self = this.#o.self.toLowerCase();
    const round = Number((height / BigInt(this.#o.roundBlocks)) % BigInt(Math.max(1, members.length)));
    // The links are looked at only when a member comes before this node in the round's order (q − 1 rounds in q).
    let connected: Set<string> | undefined;
    for (let i = 0; i < members.length; i++) {
      const member = members[(round + i) % members.length]!.toLowerCase();
      if (member === self) return true;
      connected ??= new Set(this.#o.connected().map((a) => a.toLowerCase()));
      if (connected.has(member)) return false;
    }
    return false;
  }

  /**
   * Called once per new block of this node's chain; only the round's pusher (see `pushes`) sends. Push: each other
   * system is picked with probability `sendRate` and sent the entries of the view list that this node has not sent it
   * yet (newer than the newest of that chain it sent there), when there are any. Pacemaker: at every multiple of
   * `pacemakerBlocks` the whole list goes to the next other system in turn, so that views which stopped changing (a
   * silent chain's) still meet the others: every system hears from this system's full list at least once every
   * (n − 1)·pacemakerBlocks blocks, which bounds how long a fork can stay hidden. The pacemaker's turn also carries
   * the evidence of every chain this node reported: `report` broadcasts it once, and a system cut off then (section
   * VI.B's isolation) would otherwise never hear it, since the lists pushed to it hold only the branch it already has.
   */
  onBlock(height: bigint): void {
    const others = [...this.#o.systems.keys()].filter((id) => id !== this.#o.chainId);
    if (others.length === 0 || this.#o.viewList.version === 0 || !this.pushes(height)) return;
    const pacemaker = BigInt(this.#o.pacemakerBlocks);
    if (height % pacemaker === 0n) {
      const target = others[Number((height / pacemaker) % BigInt(others.length))]!;
      this.#push(target, this.#o.viewList.entries(), "whole");
      for (const evidence of this.#reported.values()) this.#toSystem(target, evidence);
      return;
    }
    for (const target of others.filter(() => this.#random() < this.#o.sendRate)) {
      const sent = this.#sent.get(target);
      const fresh = this.#o.viewList.entries().filter((e) => e.view.height > (sent?.get(e.view.chainId) ?? -1n));
      if (fresh.length > 0) this.#push(target, fresh, this.#o.viewHeads === false ? "whole" : "heads");
    }
  }

  /**
   * Sends `views` to the nodes of `target` a push goes to, and remembers them as sent there when the transport took the
   * message for one of them at least. With `heads`, each receiver gets as a head (SignedViewHead) every view whose
   * window reaches the newest view of its chain that receiver is known to hold (#heldBy): the window only when it cannot
   * connect without it. The pacemaker sends whole views, which need nothing held to be checked.
   */
  #push(target: bigint, views: readonly SignedView[], form: "whole" | "heads"): void {
    const whole: Message = { kind: "view-update", views: views.map(toWireSignedView) };
    let took = 0;
    for (const member of this.#pushTargets(target)) {
      const held = this.#heldBy.get(member.toLowerCase());
      const heads = form === "heads" && held !== undefined ? views.map((signed) => headAbove(signed, held)) : [];
      const update: Message = heads.some((head) => head !== undefined)
        ? { kind: "view-update", views: views.filter((_, i) => heads[i] === undefined).map(toWireSignedView), heads: heads.flatMap((head) => (head === undefined ? [] : [toWireViewHead(head)])) }
        : whole;
      if (this.#o.send(member, update) === 0) continue;
      took += 1;
      for (const { view } of views) raise(this.#heldBy, member.toLowerCase(), view.chainId, view.height);
    }
    if (took > 0) for (const { view } of views) this.#holds(target, view.chainId, view.height);
  }

  /** Notes that `system` holds the view of `chainId` at `height` (or a newer one): a push there need not carry it. */
  #holds(system: bigint, chainId: bigint, height: bigint): void {
    raise(this.#sent, system, chainId, height);
  }

  /** Broadcasts fork evidence to every system and hands it to the node, once per chain. */
  report(evidence: Evidence): void {
    const chainId = evidence.a.view.chainId;
    if (this.#reported.has(chainId)) return;
    const message: Message = { kind: "evidence", a: toWireSignedView(evidence.a), b: toWireSignedView(evidence.b) };
    this.#reported.set(chainId, message);
    this.#o.viewList.freeze(chainId);
    this.#o.onEvidence(evidence);
    for (const id of this.#o.systems.keys()) this.#toSystem(id, message, "everyone");
  }

  /**
   * Offers a signed view learned anywhere (a check() answer, this chain's registry, this node's committee) to the view
   * list; `connects` when the caller knows it connects to the list's history (see ViewList.offer).
   */
  async learn(view: SignedView, options: { connects?: boolean } = {}): Promise<void> {
    const offer = await this.#o.viewList.offer(toWireSignedView(view), options);
    if (offer.result === "conflict") this.report(offer.evidence);
  }

  /**
   * Takes in a gossip message from a peer; `text` is its JSON text as the transport received it (by default, as the peer
   * would have written it), which gives the message its id.
   */
  async handle(from: Address, message: Message, text = JSON.stringify(message)): Promise<void> {
    if (message.kind !== "view-update" && message.kind !== "view-pull" && message.kind !== "evidence") return;
    const peer = from.toLowerCase();
    if (this.#strikesOf(peer) >= this.#o.maxStrikes) return this.#o.onRefused(from, "peer cut off");
    if (!this.#rate.admit(peer)) return this.#o.onRefused(from, "gossip rate limited");
    // The id is the content as it came: the same update or evidence from several peers is processed once (honest nodes
    // write the same content the same way; a peer that writes it otherwise only makes this node look at it again, as it
    // could by sending other content). A pull is a question of one peer, so its id names the peer too. The id never
    // leaves the node, so it is the platform's SHA-256, some 40 times cheaper than keccak256 in JavaScript on a view
    // list of a few kB; hashing the text the transport read spares writing the message out again.
    const id = createHash("sha256").update(message.kind === "view-pull" ? `${peer}:${text}` : text).digest("hex");
    if (this.#seen.has(id)) return this.#o.onRefused(from, "duplicate gossip");
    this.#seen.set(id, true);

    if (message.kind === "view-pull") {
      // viewsAfter stops at what one update carries; the cap keeps the answer within what a peer's decoder takes.
      const views = this.#o.viewsAfter(BigInt(message.chainId), BigInt(message.fromHeight)).slice(0, MAX_VIEWS_PER_UPDATE);
      if (views.length > 0) this.#o.send(from, { kind: "view-update", views: views.map(toWireSignedView) });
      return;
    }
    if (message.kind === "evidence") return this.#onEvidence(from, message);
    const sender = this.#systemOf.get(peer);
    // One pull per chain and update: each view of it too far ahead would ask for the same path.
    const pulled = new Set<string>();
    const items = [...message.views.map((wire) => ({ chainId: wire.view.chainId, height: wire.view.height, offer: () => this.#o.viewList.offer(wire) })), ...(message.heads ?? []).map((head) => ({ chainId: head.chainId, height: head.height, offer: () => this.#o.viewList.offerHead(head) }))];
    for (const item of items) {
      const offer = await item.offer();
      // An honest node pushes only views it verified: one invalid view condemns the update, and its sender earns one
      // strike for it, not one per view, so that one frame cannot cut a node off.
      if (offer.result === "invalid") return this.#strike(from, "invalid view");
      if (offer.result === "conflict") this.report(offer.evidence);
      else if ((offer.result === "unverifiable" || offer.result === "baseless") && !pulled.has(item.chainId)) {
        pulled.add(item.chainId);
        const chainId = BigInt(item.chainId);
        if (offer.result === "unverifiable") this.#pull(sender, from, chainId, offer.from);
        // A head this node cannot make whole: its sender holds the whole view, and answers a pull from just below it (or
        // from this node's newest, when that is lower) with it. Not a strike: the sender cannot know which views this
        // node holds, and a head whose base differs from this node's history is how a fork shows when the branches meet.
        else this.#o.send(from, { kind: "view-pull", chainId: item.chainId, fromHeight: this.#pullFrom(chainId, BigInt(item.height)).toString() });
      }
      // The sender's system holds what it sent (a view known here, newer, or too far ahead but signed): this node's
      // pushes there leave it out. Without this, each system received each view from every other one (9 times in 10 at
      // n = 10). A lying member can only keep its own system from hearing it from this node: the pacemaker still sends
      // the whole list there, which bounds how long a fork stays hidden. A head not made whole counts for nothing: its
      // signatures are unchecked (a forged one at height 2^64 − 1 would stop every push of its chain there), and the
      // pull's answer records its height once it verifies.
      if (sender !== undefined && (offer.result === "new" || offer.result === "known" || offer.result === "unverifiable")) this.#holds(sender, BigInt(item.chainId), BigInt(item.height));
      // The sender holds what it sent, once it proved true here: a push to it can carry the heads of newer views.
      if (sender !== undefined && (offer.result === "new" || offer.result === "known")) raise(this.#heldBy, peer, BigInt(item.chainId), BigInt(item.height));
    }
  }

  /** Where a pull for the view of `chainId` at `height` starts: at this node's newest view of the chain when lower, else just below it. */
  #pullFrom(chainId: bigint, height: bigint): bigint {
    const newest = this.#o.viewList.newest(chainId)?.view.height;
    return newest !== undefined && newest < height ? newest : height - 1n;
  }

  /**
   * Asks for the certified views of `chainId` after `fromHeight`, which connect this node's list to a view too far ahead.
   * The chain's own nodes keep its certified path (certifiedPath, within their retention window); another system's node
   * keeps only the newest few views of it in its view list, so a pull goes to the sender only when it is of that chain,
   * and otherwise to one node of the chain: each node asked would answer with the same path.
   */
  #pull(sender: bigint | undefined, from: Address, chainId: bigint, fromHeight: bigint): void {
    const pull: Message = { kind: "view-pull", chainId: chainId.toString(), fromHeight: fromHeight.toString() };
    if (sender === chainId) this.#o.send(from, pull);
    else this.#toSystem(chainId, pull, "one");
  }

  async #onEvidence(from: Address, message: Extract<Message, { kind: "evidence" }>): Promise<void> {
    const a = await this.#o.viewList.offer(message.a);
    const b = await this.#o.viewList.offer(message.b);
    const conflict = [a, b].find((o) => o.result === "conflict");
    if (conflict?.result === "conflict") return this.report(conflict.evidence);
    if (a.result === "invalid" || b.result === "invalid") return this.#strike(from, "invalid evidence");
    if (a.result === "frozen" || b.result === "frozen") return;
    // The two may conflict with each other beyond what the list can connect to. The list took them without a look at
    // their signatures when they told it nothing new (old and consistent with it, or too old to relate): check them now.
    const evidence = { a: fromWireSignedView(message.a), b: fromWireSignedView(message.b) };
    if (evidence.a.view.chainId !== evidence.b.view.chainId || relate(evidence.a.view, evidence.b.view) !== "conflicting") return;
    if (!(await this.#o.viewList.signaturesHold(evidence.a)) || !(await this.#o.viewList.signaturesHold(evidence.b))) return this.#strike(from, "invalid evidence");
    this.report(evidence);
  }

  /**
   * Sends `message` to nodes of system `chainId`: to every one, to the (1 − r)·q + 1 a push goes to, or to one member
   * drawn at random (the next one when the transport does not take it), so that a member that does not answer is not
   * asked every time.
   */
  #toSystem(chainId: bigint, message: Message, reach: "everyone" | "fanout" | "one" = "fanout"): void {
    const members = this.#o.systems.get(chainId)?.members ?? [];
    const self = this.#o.self.toLowerCase();
    if (reach === "fanout") {
      for (const member of this.#pushTargets(chainId)) this.#o.send(member, message);
    } else if (reach === "everyone") {
      for (const member of members) if (member.toLowerCase() !== self) this.#o.send(member, message);
    } else {
      const start = Math.floor(this.#random() * members.length);
      for (let i = 0; i < members.length; i++) {
        const member = members[(start + i) % members.length]!;
        if (member.toLowerCase() !== self && this.#o.send(member, message) > 0) return;
      }
    }
  }

  /**
   * The nodes of system `chainId` a push goes to: its pusher and the members after it in committee order, (1 − r)·q + 1
   * in all (at least one of them honest), so that the members about to push there take the news in and re-push it in
   * their rounds. Its round is reckoned from the block after the newest view of that system this node holds (it lags
   * by the gap).
   */
  #pushTargets(chainId: bigint): Address[] {
    const system = this.#o.systems.get(chainId);
    if (system === undefined) return [];
    const self = this.#o.self.toLowerCase();
    const members = system.members;
    const newest = this.#o.viewList.newest(chainId)?.view.height ?? -1n;
    const start = Number(((newest + 1n) / BigInt(this.#o.roundBlocks)) % BigInt(members.length));
    const targets: Address[] = [];
    for (let i = 0; i < members.length && targets.length < fanout(system); i++) {
      const member = members[(start + i) % members.length]!;
      if (member.toLowerCase() !== self) targets.push(member);
    }
    return targets;
  }

  /** A peer's strikes now: one is forgiven every strikeDecayMs, counted from its first strike or the last one forgiven. */
  #strikesOf(peer: string): number {
    const strikes = this.#strikes.get(peer);
    if (strikes === undefined) return 0;
    const forgiven = Math.floor((this.#o.clock.now() - strikes.since) / this.#strikeDecayMs);
    if (forgiven === 0) return strikes.count;
    if (forgiven >= strikes.count) {
      this.#strikes.delete(peer);
      return 0;
    }
    strikes.count -= forgiven;
    strikes.since += forgiven * this.#strikeDecayMs;
    return strikes.count;
  }

  #strike(from: Address, reason: "invalid view" | "invalid evidence"): void {
    const peer = from.toLowerCase();
    const count = this.#strikesOf(peer) + 1;
    const since = count === 1 ? this.#o.clock.now() : this.#strikes.get(peer)!.since;
    this.#strikes.set(peer, { count, since });
    this.#o.onRefused(from, reason);
  }
}

/** The head of `signed` above the height of its chain in `held`, when its window reaches that height (headOf). */
function headAbove(signed: SignedView, held: ReadonlyMap<bigint, bigint>): SignedViewHead | undefined {
  const base = held.get(signed.view.chainId);
  return base === undefined ? undefined : headOf(signed, base);
}

/** Raises the height `heights` holds for `holder` and `chainId` to `height`. */
function raise<K>(heights: Map<K, Map<bigint, bigint>>, holder: K, chainId: bigint, height: bigint): void {
  let held = heights.get(holder);
  if (held === undefined) heights.set(holder, (held = new Map()));
  if (height > (held.get(chainId) ?? -1n)) held.set(chainId, height);
}
