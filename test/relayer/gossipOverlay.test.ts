import assert from "node:assert/strict";
import fc from "fast-check";
import { getAddress, keccak256, stringToHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { GossipOverlay, OVERLAY_LIMITS, type GossipOptions } from "../../relayer/gossip/gossipOverlay.js";
import { ViewList, type Offer } from "../../relayer/gossip/viewList.js";
import type { Evidence, SignedView } from "../../relayer/view/signedView.js";
import { MemoryHub, MemoryTransport } from "../../relayer/net/memoryTransport.js";
import type { Message, WireSignedView } from "../../relayer/net/message.js";
import { decodeMessage } from "../../relayer/net/messageSchema.js";
import { fanout, type RemoteSystem } from "../../relayer/net/requestChannel.js";
import { SimulatedClock } from "../../relayer/sim/simulatedClock.js";
import { relate } from "../../relayer/view/relate.js";
import { toWireView } from "../../relayer/view/wireView.js";
import { headOf, toWireViewHead, type SignedViewHead } from "../../relayer/view/viewHead.js";
import { branch, prng, Q, randomHash, signSynthetic, testChain, THRESHOLD, viewAt, wire, type TestChain } from "../fixtures/syntheticChain.js";

// ---------------------------------------------------------------------------------------------------------------------
// Synthetic systems: random block hashes, committees of q = 4 test keys, threshold ceil(2q/3) = 3, r = 2/3. No chain.
// ---------------------------------------------------------------------------------------------------------------------

const R = { rNumerator: 2, rDenominator: 3 };
const update = (...views: SignedView[]): Message => ({ kind: "view-update", views: views.map(wire) });
const evidenceOf = (a: SignedView, b: SignedView): Message => ({ kind: "evidence", a: wire(a), b: wire(b) });

const A = testChain(1001n, 4, { label: "gossip test", seed: Number(1001n) * 7919 });
const B = testChain(1002n, 8, { label: "gossip test", seed: Number(1002n) * 7919 });
const C = testChain(1003n, 4, { label: "gossip test", seed: Number(1003n) * 7919 });
const CHAINS = [A, B, C];
const chainOf = (chainId: bigint): TestChain => CHAINS.find((c) => c.chainId === chainId)!;
const SYSTEMS: ReadonlyMap<bigint, RemoteSystem> = new Map(CHAINS.map((c) => [c.chainId, { members: c.committee.members, ...R }]));
const FANOUT = fanout(SYSTEMS.get(A.chainId)!);
const STRANGERS = Array.from({ length: THRESHOLD }, (_, i) => privateKeyToAccount(keccak256(stringToHex(`stranger/${i}`))));

/** The system a node address belongs to. */
const systemOf = (address: Address): bigint => CHAINS.find((c) => c.committee.members.some((m) => m.toLowerCase() === address.toLowerCase()))!.chainId;

/** A ViewList that counts the views offered to it: proof that a refused message was not processed. */
class CountingViewList extends ViewList {
  offers = 0;
  override async offer(w: WireSignedView): Promise<Offer> {
    this.offers += 1;
    return super.offer(w);
  }
}

type Tuning = Pick<GossipOptions, "sendRate" | "pacemakerBlocks" | "roundBlocks" | "maxPerPeerPerSecond" | "maxStrikes" | "strikeDecayMs">;
const DEFAULTS: Tuning = { sendRate: 1, pacemakerBlocks: 1_000, roundBlocks: 1, maxPerPeerPerSecond: 1_000, maxStrikes: 3 };

type Sent = { to: Address; message: Message };

/** One relayer node's gossip: its overlay, its view list, and everything it sent, refused, reported and served. */
type GossipNode = {
  chainId: bigint;
  address: Address;
  list: CountingViewList;
  overlay: GossipOverlay;
  sent: Sent[];
  refused: { from: Address; reason: string }[];
  evidence: Evidence[];
  pulls: { chainId: bigint; fromHeight: bigint }[];
  /** Certified views this node serves to a view-pull. */
  archive: SignedView[];
  send: (to: Address, message: Message) => number;
};

function gossipNode({ chainId, index, clock, deliver, connected, tuning }: {
  chainId: bigint;
  index: number;
  clock: SimulatedClock;
  deliver: (from: Address, to: Address, message: Message) => number;
  /** The node's connected peers: none for a node alone, so that it is the pusher of every round. */
  connected: () => readonly Address[];
  tuning: Partial<Tuning>;
}): GossipNode {
  const address = chainOf(chainId).accounts[index]!.address;
  const list = new CountingViewList({ committees: new Map(CHAINS.map((c) => [c.chainId, c.committee])) });
  const sent: Sent[] = [];
  const refused: GossipNode["refused"] = [];
  const evidence: Evidence[] = [];
  const pulls: GossipNode["pulls"] = [];
  const archive: SignedView[] = [];
  const send = (to: Address, message: Message): number => {
    sent.push({ to, message });
    return deliver(address, to, message);
  };
  const overlay = new GossipOverlay({
    chainId,
    self: address,
    viewList: list,
    systems: SYSTEMS,
    clock,
    send,
    connected,
    ...DEFAULTS,
    ...tuning,
    viewsAfter: (c, fromHeight) => {
      pulls.push({ chainId: c, fromHeight });
      return archive.filter((s) => s.view.chainId === c && s.view.height > fromHeight).sort((x, y) => (x.view.height < y.view.height ? -1 : 1));
    },
    onEvidence: (e) => evidence.push(e),
    onRefused: (from, reason) => refused.push({ from, reason }),
    random: prng(Number(chainId) * 31 + index),
  });
  return { chainId, address, list, overlay, sent, refused, evidence, pulls, archive, send };
}

/** One node (A's member 0) whose `send` only records: the test hands it messages with `handle`. */
function solo(tuning: Partial<Tuning> = {}) {
  const clock = new SimulatedClock();
  const node = gossipNode({ chainId: A.chainId, index: 0, clock, deliver: () => 100, connected: () => [], tuning });
  return { clock, node };
}

/**
 * 3 systems × 4 nodes, each with its overlay over a MemoryTransport on one hub (10 ms links). Every delivery is decoded
 * first, as a node's WsTransport does: a message of the overlay that a peer's decoder refused would go missing here.
 */
async function network(tuning: Partial<Tuning> = {}) {
  const clock = new SimulatedClock();
  const hub = new MemoryHub({ clock, latencyMs: 10 });
  const transports = new Map<string, MemoryTransport>();
  const nodes: GossipNode[] = [];
  for (const chain of CHAINS) {
    for (let i = 0; i < Q; i++) {
      const node = gossipNode({
        chainId: chain.chainId,
        index: i,
        clock,
        deliver: (from, to, message) => transports.get(from.toLowerCase())!.send(to, message),
        connected: () => transports.get(chain.accounts[i]!.address.toLowerCase())?.connected() ?? [],
        tuning,
      });
      const transport = new MemoryTransport({ hub, address: node.address });
      transport.onMessage(({ from, message }) => {
        const decoded = decodeMessage(message);
        if (decoded.ok) void node.overlay.handle(from, decoded.message);
        else node.refused.push({ from, reason: `undecodable: ${decoded.reason}` });
      });
      await transport.start();
      transports.set(node.address.toLowerCase(), transport);
      nodes.push(node);
    }
  }
  const node = (chain: TestChain, index: number): GossipNode => nodes.find((n) => n.address === chain.accounts[index]!.address)!;
  const transport = (n: GossipNode): MemoryTransport => transports.get(n.address.toLowerCase())!;
  return { clock, hub, nodes, node, transport, settle: () => clock.runUntilIdle() };
}

const byKind = (node: GossipNode, kind: Message["kind"]) => node.sent.filter((s) => s.message.kind === kind);
const reasons = (node: GossipNode) => node.refused.map((r) => r.reason);

/** Recipients of `sent`, grouped by system. */
function recipientsBySystem(sent: readonly Sent[]): Map<bigint, Address[]> {
  const groups = new Map<bigint, Address[]>();
  for (const { to } of sent) groups.set(systemOf(to), [...(groups.get(systemOf(to)) ?? []), to]);
  return groups;
}

// ---------------------------------------------------------------------------------------------------------------------

describe("GossipOverlay", () => {
  /** Honest views of A every k blocks, each connecting to the one before. */
  const a = new Map<number, SignedView>();
  /** A@h for h = 4..27: one new connecting view per block. */
  const aEveryBlock: SignedView[] = [];
  /** A's committee signed two branches at height 7 and at height 11 (equivocation). */
  let fork7: SignedView;
  let fork11: SignedView;
  let b5: SignedView;
  let c3: SignedView;

  before(async () => {
    for (const h of [3, 7, 11]) a.set(h, await signSynthetic(A, viewAt(A, h)));
    for (let h = 4; h <= 27; h++) aEveryBlock.push(await signSynthetic(A, viewAt(A, h)));
    fork7 = await signSynthetic(A, viewAt(A, 7, branch(A, 6)));
    fork11 = await signSynthetic(A, viewAt(A, 11, branch(A, 10)));
    b5 = await signSynthetic(B, viewAt(B, 5));
    c3 = await signSynthetic(C, viewAt(C, 3));
    assert.equal(relate(a.get(7)!.view, fork7.view), "conflicting");
    assert.equal(FANOUT, 2, "(1 − 2/3)·4 + 1");
  });
  const A3 = () => a.get(3)!;
  const A7 = () => a.get(7)!;
  const A11 = () => a.get(11)!;

  describe("onBlock", () => {
    it("pushes the changed views to every other system, each to fanout((1 − r)·q + 1) of its nodes, and nothing on blocks where nothing changed", async () => {
      const { node } = solo({ sendRate: 1 });
      await node.overlay.learn(A3());
      node.overlay.onBlock(1n);
      const groups = recipientsBySystem(node.sent);
      assert.deepEqual([...groups.keys()].sort(), [B.chainId, C.chainId], "every other system, never its own");
      for (const [chainId, to] of groups) {
        assert.equal(new Set(to).size, FANOUT, `${FANOUT} distinct nodes of system ${chainId}`);
      }
      for (const { message } of node.sent) assert.deepEqual(message, update(A3()));

      node.sent.length = 0;
      for (let h = 2n; h <= 5n; h++) node.overlay.onBlock(h);
      await node.overlay.learn(A3()); // known: the list does not change
      node.overlay.onBlock(6n);
      assert.deepEqual(node.sent, [], "no push while the list is unchanged");
    });

    it("carries only the chains whose view changed since the last push", async () => {
      const { node } = solo({ sendRate: 1 });
      await node.overlay.learn(A3());
      await node.overlay.learn(c3);
      node.overlay.onBlock(1n);
      assert.equal(node.sent.length, 2 * FANOUT);
      for (const { message } of node.sent) assert.deepEqual(message, update(A3(), c3));

      node.sent.length = 0;
      await node.overlay.learn(b5);
      node.overlay.onBlock(2n);
      assert.equal(node.sent.length, 2 * FANOUT);
      for (const { message } of node.sent) assert.deepEqual(message, update(b5), "A and C did not change");
    });

    it("leaves out of its pushes to a system the views that system's nodes sent it (no view goes back where it came from)", async () => {
      const { node } = solo({ sendRate: 1 });
      await node.overlay.learn(A3());
      const fromB = B.accounts[1]!.address;
      await node.overlay.handle(fromB, update(c3, b5));
      node.overlay.onBlock(1n);
      const groups = recipientsBySystem(node.sent);
      for (const { to, message } of node.sent) {
        const target = systemOf(to);
        // B sent C@3 and B@5, so B is sent only A@3; C has none of them and gets all three (its own view too).
        const expected = target === B.chainId ? update(A3()) : update(A3(), c3, b5);
        assert.deepEqual(message, expected, `push to system ${target}`);
      }
      assert.deepEqual([...groups.keys()].sort(), [B.chainId, C.chainId]);
    });

    it("pushes nothing while its view list is empty", () => {
      const { node } = solo({ sendRate: 1 });
      node.overlay.onBlock(1n);
      node.overlay.onBlock(2n);
      assert.deepEqual(node.sent.map((s) => s.message), [], "nothing to push");
    });

    it("pushes to each other system with probability sendRate (seeded PRNG, sendRate 0.5 over 24 changes), each view whole or as its head above the one its receiver was sent", async () => {
      const { node } = solo({ sendRate: 0.5 });
      const picked = new Map<bigint, number>([[B.chainId, 0], [C.chainId, 0]]);
      const last = new Map<Address, SignedView>();
      let heads = 0;
      for (const view of aEveryBlock) {
        node.sent.length = 0;
        await node.overlay.learn(view);
        node.overlay.onBlock(view.view.height);
        for (const [chainId, to] of recipientsBySystem(node.sent)) {
          assert.notEqual(chainId, A.chainId);
          assert.equal(new Set(to).size, FANOUT, "each picked system gets fanout nodes");
          picked.set(chainId, picked.get(chainId)! + 1);
        }
        for (const { to, message } of node.sent) {
          // The newest view of the changed chain: as its head above the view this node last sent that receiver, when
          // the new window reaches it (A's k is 4), else whole.
          const head = last.has(to) ? headOf(view, last.get(to)!.view.height) : undefined;
          assert.deepEqual(message, head === undefined ? update(view) : { kind: "view-update", views: [], heads: [toWireViewHead(head)] }, `to ${to} at ${view.view.height}`);
          if (head !== undefined) heads += 1;
          last.set(to, view);
        }
      }
      assert.ok(heads > 0, "some pushes carried a head");
      const total = picked.get(B.chainId)! + picked.get(C.chainId)!;
      const draws = 2 * aEveryBlock.length;
      assert.ok(total >= 0.25 * draws && total <= 0.75 * draws, `${total} of ${draws} system pushes, expected about half`);
      for (const [chainId, n] of picked) assert.ok(n > 0 && n < aEveryBlock.length, `system ${chainId} picked ${n} times: sometimes, not always`);
    });

    it("sends each system an entry once, in the first push to it after the entry changed, even when that system was not picked then", async () => {
      const { node } = solo({ sendRate: 0.3 });
      await node.overlay.learn(A3());
      for (let h = 1n; h <= 40n; h++) node.overlay.onBlock(h);
      const groups = recipientsBySystem(node.sent);
      assert.deepEqual([...groups.keys()].sort(), [B.chainId, C.chainId], "both systems got it in the end");
      for (const [chainId, to] of groups) assert.equal(to.length, FANOUT, `system ${chainId} was sent A@3 once, to ${FANOUT} nodes`);
      for (const { message } of node.sent) assert.deepEqual(message, update(A3()));
    });

    it("sends an entry again when the transport took none of the messages that carried it (links down)", async () => {
      let linksUp = false;
      const node = gossipNode({ chainId: A.chainId, index: 0, clock: new SimulatedClock(), deliver: () => (linksUp ? 100 : 0), connected: () => [], tuning: { sendRate: 1 } });
      await node.overlay.learn(A3());
      node.overlay.onBlock(1n);
      assert.equal(node.sent.length, 2 * FANOUT, "tried");
      linksUp = true;
      node.sent.length = 0;
      node.overlay.onBlock(2n);
      assert.equal(node.sent.length, 2 * FANOUT, "sent again, now that the transport takes it");
      for (const { message } of node.sent) assert.deepEqual(message, update(A3()));
      node.sent.length = 0;
      node.overlay.onBlock(3n);
      assert.deepEqual(node.sent, [], "and not a third time");
    });

    it("with sendRate 0 pushes nothing but the pacemaker's whole list, at every multiple of pacemakerBlocks, to one system in turn", async () => {
      const { node } = solo({ sendRate: 0, pacemakerBlocks: 5 });
      await node.overlay.learn(A3());
      await node.overlay.learn(c3);
      for (let h = 1n; h <= 4n; h++) node.overlay.onBlock(h);
      assert.deepEqual(node.sent, [], "the send rate picks no system and the overlay is not idle yet");

      node.overlay.onBlock(5n);
      const first = recipientsBySystem(node.sent);
      assert.equal(first.size, 1, "one system");
      assert.equal(new Set([...first.values()][0]).size, FANOUT);
      assert.ok(!first.has(A.chainId));
      for (const { message } of node.sent) assert.deepEqual(message, update(A3(), c3), "the whole list");

      node.sent.length = 0;
      await node.overlay.learn(A7()); // a change alone does not push at send rate 0
      for (let h = 6n; h <= 9n; h++) node.overlay.onBlock(h);
      assert.deepEqual(node.sent, []);
      node.overlay.onBlock(10n);
      assert.equal(node.sent.length, FANOUT, "the next multiple of five");
      for (const { message } of node.sent) assert.deepEqual(message, update(A7(), c3));
      assert.notDeepEqual([...recipientsBySystem(node.sent).keys()], [...first.keys()], "the other system's turn");
    });
  });

  describe("over a network of 3 systems × 4 nodes", () => {
    it("re-pushes a received newer view in the receiver's next round as its system's pusher", async () => {
      const net = await network({ sendRate: 1 });
      const origin = net.node(A, 0);
      await origin.overlay.learn(A3());
      origin.overlay.onBlock(4n); // round 4: A's member 4 mod 4 = 0 pushes
      await net.settle();
      const knowing = () => net.nodes.filter((n) => n.list.newest(A.chainId) !== undefined);
      assert.equal(knowing().length, 1 + 2 * FANOUT, "the origin and fanout nodes of B and of C");

      const receiver = knowing().find((n) => n.chainId === B.chainId)!;
      assert.deepEqual(receiver.sent, [], "a receiver pushes on its block, not on receipt");
      const index = B.accounts.findIndex((account) => account.address === receiver.address);
      receiver.overlay.onBlock(BigInt(4 + ((index + 3) % 4))); // a round of another member: not its turn
      assert.deepEqual(receiver.sent, [], "not its round");
      receiver.overlay.onBlock(BigInt(8 + index)); // its round
      const groups = recipientsBySystem(receiver.sent);
      // Not back to A, which sent it.
      assert.deepEqual([...groups.keys()].sort(), [C.chainId]);
      for (const to of groups.values()) assert.equal(new Set(to).size, FANOUT);
      for (const { message } of receiver.sent) assert.deepEqual(message, update(A3()));
      await net.settle();
      for (const { to } of receiver.sent) {
        assert.deepEqual(net.nodes.find((n) => n.address === to)!.list.newest(A.chainId), A3(), `${to} has the view`);
      }
      assert.ok(receiver.sent.every(({ to }) => systemOf(to) !== A.chainId), "nothing went back to A");
    });

    it("lets one node per system push in each round: the member at index round mod q, the same for every member", async () => {
      const net = await network({ sendRate: 1 });
      for (const n of net.nodes) await n.overlay.learn(n.chainId === A.chainId ? A3() : n.chainId === B.chainId ? b5 : c3);
      for (let h = 1n; h <= 12n; h++) {
        const sentBefore = net.nodes.map((n) => n.sent.length);
        for (const n of net.nodes) n.overlay.onBlock(h);
        const pushers = net.nodes.filter((n, i) => n.sent.length > sentBefore[i]!);
        for (const chain of CHAINS) {
          const expected = chain.accounts[Number(h % 4n)]!.address;
          const pushed = pushers.filter((n) => n.chainId === chain.chainId).map((n) => n.address);
          // In the first q rounds each pusher has its entries to send; later ones only what they learned since.
          if (h <= 4n) assert.deepEqual(pushed, [expected], `round ${h}, system ${chain.chainId}`);
          else assert.ok(pushed.every((address) => address === expected), `round ${h}, system ${chain.chainId}: ${pushed.join(", ")}`);
          for (const n of net.nodes.filter((m) => m.chainId === chain.chainId)) assert.equal(n.overlay.pushes(h), n.address === expected);
        }
        await net.settle();
      }
      // Nothing changed since: every pusher has sent each system every entry once, and nothing is sent again.
      const sentBefore = net.nodes.reduce((sum, n) => sum + n.sent.length, 0);
      for (let h = 13n; h <= 20n; h++) for (const n of net.nodes) n.overlay.onBlock(h);
      assert.equal(net.nodes.reduce((sum, n) => sum + n.sent.length, 0), sentBefore, "no entry sent twice to one system by one node");
    });

    it("attack: the round's pusher falls silent (its links cut); the next member in committee order pushes in its rounds", async () => {
      const net = await network({ sendRate: 1 });
      const silent = net.node(A, 0);
      const next = net.node(A, 1);
      for (const n of [silent, next]) await n.overlay.learn(A3());
      await net.transport(silent).stop();
      assert.equal(next.overlay.pushes(4n), true, "member 1 takes round 4, member 0's");
      assert.equal(next.overlay.pushes(5n), true, "and keeps its own");
      assert.equal(net.node(A, 2).overlay.pushes(4n), false, "member 2 sees member 1 connected: not its turn");
      next.overlay.onBlock(4n);
      assert.deepEqual([...recipientsBySystem(next.sent).keys()].sort(), [B.chainId, C.chainId]);
      await net.settle();
      assert.equal(net.nodes.filter((n) => n.chainId !== A.chainId && n.list.newest(A.chainId) !== undefined).length, 2 * FANOUT, "B and C got A's view");

      await net.transport(silent).start();
      assert.equal(next.overlay.pushes(4n), false, "member 0 is back: round 4 is its own again");
    });

    it("sends a view-pull to the sender of a view more than k ahead, and the answer (viewsAfter) lets the receiver catch up", async () => {
      const net = await network();
      const sender = net.node(A, 0);
      const receiver = net.node(B, 0);
      for (const s of [A3(), A7(), A11()]) {
        await sender.overlay.learn(s);
        sender.archive.push(s);
      }
      await receiver.overlay.learn(A3());
      sender.send(receiver.address, update(A11()));
      await net.settle();

      assert.deepEqual(byKind(receiver, "view-pull"), [{ to: sender.address, message: { kind: "view-pull", chainId: "1001", fromHeight: "3" } }]);
      assert.deepEqual(sender.pulls, [{ chainId: A.chainId, fromHeight: 3n }]);
      assert.deepEqual(byKind(sender, "view-update").at(-1), { to: receiver.address, message: update(A7(), A11()) });
      assert.deepEqual(receiver.list.newest(A.chainId), A11(), "caught up");
      assert.deepEqual(receiver.refused, []);
    });

    it("pulls a view more than k ahead from the view's own system when a third system pushed it: only that system keeps the certified path to it", async () => {
      // A node of C keeps the newest views of A in its view list, not the path from an old one: a node of B whose view of
      // A is old (restarted, or cut off for a while) pulls in vain from C, as long as the pushes come from C.
      const net = await network();
      for (const member of net.nodes.filter((n) => n.chainId === A.chainId)) member.archive.push(A3(), A7(), A11());
      const third = net.node(C, 0);
      await third.overlay.learn(A11());
      third.archive.push(A11());
      const receiver = net.node(B, 0);
      await receiver.overlay.learn(A3());
      // Two views of A too far ahead in one update: one pull asks for the path to both.
      const A12 = aEveryBlock.find((s) => s.view.height === 12n)!;
      third.send(receiver.address, update(A11(), A12));
      await net.settle();

      const pulled = byKind(receiver, "view-pull");
      assert.equal(pulled.length, 1, "one pull, to one node");
      assert.ok(A.committee.members.some((m) => m.toLowerCase() === pulled[0]!.to.toLowerCase()), `pulled from ${pulled[0]!.to}: one of A's members`);
      assert.deepEqual(receiver.list.newest(A.chainId), A11(), "caught up");
      assert.equal(third.pulls.length, 0, "C was not asked");
    });

    it("answers the same view-pull from every lagging peer (identical pulls from different nodes)", async () => {
      const net = await network();
      const sender = net.node(A, 0);
      const lagging = [net.node(B, 0), net.node(C, 1)];
      for (const s of [A3(), A7(), A11()]) {
        await sender.overlay.learn(s);
        sender.archive.push(s);
      }
      for (const n of lagging) {
        await n.overlay.learn(A3());
        sender.send(n.address, update(A11()));
      }
      await net.settle();
      for (const n of lagging) assert.equal(byKind(n, "view-pull").length, 1, "each pulls once");
      assert.deepEqual(sender.refused, [], "the sender refused no pull");
      for (const n of lagging) assert.deepEqual(n.list.newest(A.chainId)?.view.height, 11n, `${n.address} caught up`);
    });

    it("turns conflicting views from two different peers into one onEvidence and an evidence message to every other node, each of which calls onEvidence once", async () => {
      const net = await network();
      const witness = net.node(C, 0);
      net.node(A, 1).send(witness.address, update(A7()));
      await net.settle();
      net.node(B, 2).send(witness.address, update(fork7));
      await net.settle();

      assert.equal(witness.evidence.length, 1);
      const [found] = witness.evidence;
      assert.deepEqual([found!.a, found!.b], [A7(), fork7]);
      assert.equal(relate(found!.a.view, found!.b.view), "conflicting");
      const sentEvidence = byKind(witness, "evidence");
      assert.deepEqual(new Set(sentEvidence.map((s) => s.to)), new Set(net.nodes.filter((n) => n !== witness).map((n) => n.address)));
      assert.equal(sentEvidence.length, net.nodes.length - 1, "once to each other node");

      for (const n of net.nodes) {
        assert.equal(n.evidence.length, 1, `${n.address} called onEvidence once`);
        assert.equal(relate(n.evidence[0]!.a.view, n.evidence[0]!.b.view), "conflicting");
        assert.ok(n.list.isFrozen(A.chainId), `${n.address} froze chain A`);
        assert.ok(!n.list.isFrozen(B.chainId) && !n.list.isFrozen(C.chainId));
      }
      // A third branch later changes nothing: the chain is frozen and reported.
      const fork7b = await signSynthetic(A, viewAt(A, 7, branch(A, 5)));
      net.node(B, 3).send(witness.address, update(fork7b));
      await net.settle();
      assert.equal(witness.evidence.length, 1);
    });

    it("attack: a system cut off while the fork evidence went round hears it from the pacemaker within (n − 1)·pacemakerBlocks blocks of its links returning (isolation, section VI.B)", async () => {
      // The attacker cuts C's nodes off from every other system while A's fork is caught in B; C's lists hold no
      // branch of A that the views pushed later could contradict, so only the evidence itself can tell C.
      const PACEMAKER = 5;
      const net = await network({ sendRate: 0, pacemakerBlocks: PACEMAKER });
      const cOff = net.nodes.filter((n) => n.chainId === C.chainId);
      const links = (down: boolean) => {
        for (const c of cOff) for (const other of net.nodes) if (other.chainId !== C.chainId) net.hub.setLinkDown(c.address, other.address, down);
      };
      links(true);
      const witness = net.node(B, 0);
      await witness.overlay.learn(A7());
      await witness.overlay.learn(fork7);
      await net.settle();
      assert.equal(witness.evidence.length, 1);
      for (const n of net.nodes) assert.equal(n.list.isFrozen(A.chainId), n.chainId !== C.chainId, `${n.address} froze A unless cut off`);

      links(false);
      const bound = (CHAINS.length - 1) * PACEMAKER;
      for (let h = 1n; h <= BigInt(bound); h++) {
        for (const n of net.nodes) n.overlay.onBlock(h);
        await net.settle();
      }
      for (const c of cOff) {
        assert.ok(c.list.isFrozen(A.chainId), `${c.address} froze A within ${bound} blocks`);
        assert.equal(c.evidence.length, 1, `${c.address} called onEvidence once`);
        assert.equal(relate(c.evidence[0]!.a.view, c.evidence[0]!.b.view), "conflicting");
      }
    });
  });

  describe("evidence", () => {
    const [p1, p2, p3] = [B.accounts[0]!.address, B.accounts[1]!.address, C.accounts[2]!.address];

    it("calls onEvidence once for an evidence message, however often and in whichever order it arrives (evidence received twice)", async () => {
      const { node } = solo();
      await node.overlay.handle(p1, evidenceOf(A7(), fork7));
      assert.equal(node.evidence.length, 1);
      assert.equal(relate(node.evidence[0]!.a.view, node.evidence[0]!.b.view), "conflicting");
      assert.ok(node.list.isFrozen(A.chainId));
      const relayed = byKind(node, "evidence");
      assert.equal(relayed.length, 3 * Q - 1, "relayed to every other node");

      await node.overlay.handle(p2, evidenceOf(fork7, A7()));
      await node.overlay.handle(p3, evidenceOf(A7(), fork7));
      assert.equal(node.evidence.length, 1, "still once");
      assert.equal(byKind(node, "evidence").length, relayed.length, "relayed once");
      assert.deepEqual(reasons(node), ["duplicate gossip"]);
    });

    it("does not call onEvidence for evidence with forged signatures, and strikes its sender (forged-evidence attack)", async () => {
      const { node } = solo();
      const borrowed = { view: fork7.view, signatures: A7().signatures }; // A7's signatures on the fork
      await node.overlay.handle(p1, evidenceOf(A7(), borrowed));
      const byStrangers = await signSynthetic(A, fork7.view, STRANGERS);
      await node.overlay.handle(p1, evidenceOf(byStrangers, A7()));
      assert.deepEqual(node.evidence, []);
      assert.ok(!node.list.isFrozen(A.chainId));
      assert.deepEqual(byKind(node, "evidence"), [], "nothing relayed");
      assert.deepEqual(reasons(node), ["invalid evidence", "invalid evidence"]);
      // The honest evidence still counts afterwards, from another peer.
      await node.overlay.handle(p2, evidenceOf(A7(), fork7));
      assert.equal(node.evidence.length, 1);
    });

    it("does not call onEvidence for two views of different chains (cross-chain evidence attack)", async () => {
      const { node } = solo();
      // C's committee signs a view with A's window and acc and one hash changed: "conflicting" if chainIds were ignored.
      const hashes = [...A7().view.hashes];
      hashes[1] = randomHash(C.random);
      const lookalike = await signSynthetic(C, { ...A7().view, chainId: C.chainId, hashes });
      assert.equal(relate(A7().view, lookalike.view), "conflicting", "relate alone compares windows only");
      await node.overlay.handle(p1, evidenceOf(A7(), lookalike));
      assert.deepEqual(node.evidence, []);
      assert.ok(!node.list.isFrozen(A.chainId) && !node.list.isFrozen(C.chainId));
      assert.deepEqual(byKind(node, "evidence"), []);
    });

    it("does not call onEvidence for two identical views (self-conflict attack)", async () => {
      const { node } = solo();
      await node.overlay.handle(p1, evidenceOf(A7(), A7()));
      assert.deepEqual(node.evidence, []);
      assert.ok(!node.list.isFrozen(A.chainId));
      assert.deepEqual(byKind(node, "evidence"), []);
    });

    it("calls onEvidence for two conflicting views more than k ahead of its list (fork the receiver cannot connect yet)", async () => {
      const { node } = solo();
      await node.overlay.learn(A3());
      assert.equal(relate(A11().view, fork11.view), "conflicting");
      await node.overlay.handle(p1, evidenceOf(A11(), fork11));
      assert.equal(node.evidence.length, 1, "valid fork evidence, signed by A's committee twice");
      assert.ok(node.list.isFrozen(A.chainId));
    });
  });

  describe("view heads (the window only when the receiver cannot connect without it)", () => {
    const peer = B.accounts[1]!.address;
    const at = (h: number): SignedView => aEveryBlock.find((s) => s.view.height === BigInt(h))!;
    const headUpdate = (...heads: SignedViewHead[]): Message => ({ kind: "view-update", views: [], heads: heads.map(toWireViewHead) });

    it("over a network of 3 systems × 4 nodes, every node of A and C makes B's heads whole into exactly the views B's committee signed, with no pull and no strike", async () => {
      // B's window is 8 blocks and each of its nodes pushes every 4th round: the views it pushes reach what it pushed last.
      const bEveryBlock: SignedView[] = [];
      for (let h = 8; h <= 27; h++) bEveryBlock.push(await signSynthetic(B, viewAt(B, h)));
      const net = await network({ sendRate: 1 });
      for (const signed of bEveryBlock) {
        for (const member of net.nodes.filter((n) => n.chainId === B.chainId)) await member.overlay.learn(signed);
        for (const n of net.nodes) n.overlay.onBlock(signed.view.height);
        await net.settle();
      }
      const updates = net.nodes.flatMap((n) => byKind(n, "view-update").map((s) => s.message as Extract<Message, { kind: "view-update" }>));
      const heads = updates.reduce((sum, m) => sum + (m.heads?.length ?? 0), 0);
      const whole = updates.reduce((sum, m) => sum + m.views.length, 0);
      assert.ok(heads > whole, `${heads} heads and ${whole} whole views: most pushes carry heads`);
      const signedByB = new Set(bEveryBlock.map((s) => JSON.stringify(wire(s))));
      // A push reaches the fanout of a system from its pusher, reckoned from the newest view of it the sender holds (here
      // none, and so the same members every round).
      const holding = net.nodes.filter((m) => m.chainId !== B.chainId && m.list.newest(B.chainId) !== undefined);
      assert.equal(holding.length, 2 * FANOUT);
      for (const n of holding) {
        const newest = n.list.newest(B.chainId)!;
        assert.ok(signedByB.has(JSON.stringify(wire(newest))), `${n.address} holds a view B signed`);
        assert.ok(newest.view.height >= 24n, `${n.address} is at most 3 blocks behind: ${newest.view.height}`);
      }
      assert.deepEqual(net.nodes.flatMap((n) => byKind(n, "view-pull")), [], "no head needed the whole view");
      assert.deepEqual([...new Set(net.nodes.flatMap(reasons))].filter((r) => r !== "duplicate gossip"), [], "nothing refused but repeats");
    });

    it("pulls the whole view from the sender of a head it holds no base for, once per update and chain, without a strike, and takes the answer", async () => {
      const { node } = solo();
      await node.overlay.learn(A3());
      await node.overlay.handle(peer, headUpdate(headOf(at(9), 7n)!, headOf(at(10), 8n)!));
      assert.deepEqual(byKind(node, "view-pull"), [{ to: peer, message: { kind: "view-pull", chainId: "1001", fromHeight: "3" } }], "from its newest view, to the sender");
      assert.deepEqual(node.list.newest(A.chainId), A3(), "nothing entered");
      assert.deepEqual(reasons(node), []);
      await node.overlay.handle(peer, update(A7(), at(10)));
      assert.deepEqual(node.list.newest(A.chainId), at(10), "the answer's whole views connect");
    });

    it("takes a head older than its newest view as known when it agrees with the views it holds, without a pull", async () => {
      const { node } = solo();
      for (const h of [8, 12]) await node.overlay.learn(at(h));
      const before = node.list.offers;
      await node.overlay.handle(peer, headUpdate(headOf(at(10), 8n)!)); // A@12's window is 9..12: no held view reaches 10's window start, 7
      assert.deepEqual(byKind(node, "view-pull"), []);
      assert.deepEqual(node.list.newest(A.chainId), at(12));
      assert.equal(node.list.version, 2, "nothing new");
      assert.equal(node.list.offers, before, "offerHead, not a whole view");
      assert.deepEqual(reasons(node), []);
    });

    it("attack: a head whose hashes above the base are forged, under the signatures of the true view, earns its sender a strike and enters nothing", async () => {
      const { node } = solo();
      await node.overlay.learn(at(8));
      const head = headOf(at(10), 8n)!;
      await node.overlay.handle(peer, headUpdate({ ...head, hashes: [head.hashes[0]!, randomHash(prng(5))] }));
      assert.deepEqual(reasons(node), ["invalid view"], "made whole over the receiver's own history, its signatures fail: the sender forged it");
      assert.deepEqual(node.list.newest(A.chainId), at(8));
      assert.deepEqual(byKind(node, "view-pull"), [], "no pull for a forgery");
    });

    it("attack: a head with a forged accumulator through its base is other history: pulled from its sender, not struck (the sender cannot be told from a fork)", async () => {
      const { node } = solo();
      await node.overlay.learn(at(8));
      await node.overlay.handle(peer, headUpdate({ ...headOf(at(10), 8n)!, baseAcc: randomHash(prng(6)) }));
      assert.deepEqual(reasons(node), []);
      assert.deepEqual(byKind(node, "view-pull"), [{ to: peer, message: { kind: "view-pull", chainId: "1001", fromHeight: "8" } }]);
      assert.deepEqual(node.list.newest(A.chainId), at(8));
    });

    it("attack: a forged head far ahead (nothing to make it whole from, so its signatures go unchecked) does not stop this node's pushes of its chain to the sender's system", async () => {
      const { node } = solo({ sendRate: 1 });
      await node.overlay.learn(A3());
      const top = 2n ** 64n - 1n;
      const forged: SignedViewHead = { chainId: A.chainId, height: top, base: top - 2n, baseAcc: randomHash(prng(7)), hashes: [randomHash(prng(8)), randomHash(prng(9))], signatures: [...A3().signatures] };
      await node.overlay.handle(peer, headUpdate(forged));
      assert.deepEqual(byKind(node, "view-pull").map((s) => s.to), [peer], "pulled from the sender, which has nothing to show");
      node.overlay.onBlock(1n);
      assert.deepEqual([...recipientsBySystem(byKind(node, "view-update")).keys()].sort(), [B.chainId, C.chainId], "B is still sent A@3");
    });

    it("a fork shows through heads: the head of the other branch is other history, the pull brings its whole view, and that is evidence", async () => {
      const { node } = solo();
      await node.overlay.learn(at(10));
      // fork11 differs from A at height 10: its head above 9 carries the other hash at 10.
      await node.overlay.handle(peer, headUpdate(headOf(fork11, 9n)!));
      assert.deepEqual(byKind(node, "view-pull"), [{ to: peer, message: { kind: "view-pull", chainId: "1001", fromHeight: "10" } }]);
      assert.deepEqual(node.evidence, []);
      await node.overlay.handle(peer, update(fork11));
      assert.equal(node.evidence.length, 1, "the whole view conflicts with A@10");
      assert.ok(node.list.isFrozen(A.chainId));
    });

    it("attack: whatever an attacker changes in a head, the receiver's list holds only views A signed, finds no fork, and strikes at most once (fast-check)", async () => {
      const honestViews = new Set(aEveryBlock.map((s) => JSON.stringify(wire(s))));
      const change = fc.oneof(
        fc.record({ field: fc.constant("height" as const), by: fc.integer({ min: -3, max: 3 }) }),
        fc.record({ field: fc.constant("base" as const), by: fc.integer({ min: -3, max: 3 }) }),
        fc.record({ field: fc.constant("baseAcc" as const), seed: fc.nat() }),
        fc.record({ field: fc.constant("hash" as const), index: fc.nat(), seed: fc.nat() }),
        fc.record({ field: fc.constant("drop" as const), index: fc.nat() }),
        fc.record({ field: fc.constant("signatures" as const), from: fc.integer({ min: 4, max: 27 }) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 6, max: 20 }), fc.integer({ min: 1, max: 3 }), fc.nat(2), fc.array(change, { maxLength: 3 }), async (held, ahead, back, changes) => {
          const { node } = solo();
          await node.overlay.learn(at(held));
          // An honest head: its base at or below the held view, inside the new view's window (A's k is 4).
          const honestHead = headOf(at(held + ahead), BigInt(held - Math.min(back, 3 - ahead)))!;
          let head: SignedViewHead = { ...honestHead, hashes: [...honestHead.hashes] };
          for (const c of changes) {
            if (c.field === "height") head = { ...head, height: head.height + BigInt(c.by) < 0n ? 0n : head.height + BigInt(c.by) };
            else if (c.field === "base") head = { ...head, base: head.base + BigInt(c.by) < 0n ? 0n : head.base + BigInt(c.by) };
            else if (c.field === "baseAcc") head = { ...head, baseAcc: randomHash(prng(c.seed)) };
            else if (c.field === "hash") head = { ...head, hashes: head.hashes.map((h, i) => (i === c.index % head.hashes.length ? randomHash(prng(c.seed)) : h)) };
            else if (c.field === "drop" && head.hashes.length > 1) head = { ...head, hashes: head.hashes.filter((_, i) => i !== c.index % head.hashes.length) };
            else if (c.field === "signatures") head = { ...head, signatures: [...at(c.from).signatures] };
          }
          const decoded = decodeMessage(JSON.parse(JSON.stringify(headUpdate(head))));
          if (!decoded.ok) return; // refused at the boundary
          await node.overlay.handle(peer, decoded.message);
          const newest = node.list.newest(A.chainId)!;
          assert.ok(honestViews.has(JSON.stringify(wire(newest))), `the list holds ${JSON.stringify(wire(newest).view)}`);
          assert.deepEqual(node.evidence, [], "no fork was made up");
          assert.ok(!node.list.isFrozen(A.chainId));
          assert.ok(reasons(node).length <= 1, `refused ${reasons(node).join(", ")}`);
          const changed = JSON.stringify(toWireViewHead(head)) !== JSON.stringify(toWireViewHead(honestHead));
          if (!changed) assert.deepEqual(newest, at(held + ahead), "an unchanged head enters");
          // Hashes forged only above the receiver's newest view: made whole over its own history, the signatures fail. (A
          // forged hash at a height it holds is another history: pulled, not struck.)
          else if (changes.every((c) => c.field === "hash") && head.hashes.every((h, i) => h === honestHead.hashes[i] || head.base + 1n + BigInt(i) > BigInt(held))) {
            assert.deepEqual(reasons(node), ["invalid view"], "a forged hash is struck");
          }
        }),
        { numRuns: 120 },
      );
    });
  });

  describe("attacks", () => {
    const attacker = B.accounts[1]!.address;
    const honest = C.accounts[1]!.address;

    it("cuts off a peer after maxStrikes invalid views, refusing its later valid messages, while an honest peer's views still enter (invalid-view flood)", async () => {
      const { node } = solo({ maxStrikes: 3 });
      // Views of A with the signatures of another view: each recovers to no member.
      const junk = Array.from({ length: 6 }, (_, i) => ({ view: toWireView(viewAt(A, 4 + i)), signatures: [...A3().signatures] }));
      for (const j of junk) await node.overlay.handle(attacker, { kind: "view-update", views: [j] });
      assert.deepEqual(reasons(node), ["invalid view", "invalid view", "invalid view", "peer cut off", "peer cut off", "peer cut off"]);
      assert.deepEqual(node.overlay.cutOff, [attacker.toLowerCase()]);
      assert.equal(node.list.offers, 3, "nothing from a cut-off peer is verified");

      await node.overlay.handle(attacker, update(A3()));
      assert.deepEqual(reasons(node).at(-1), "peer cut off");
      assert.equal(node.list.newest(A.chainId), undefined, "its valid view is refused too");

      await node.overlay.handle(honest, update(A3()));
      assert.deepEqual(node.list.newest(A.chainId), A3(), "the honest peer's view enters");
      assert.equal(reasons(node).length, 7, "the honest peer is not refused");
      assert.deepEqual(node.overlay.cutOff, [attacker.toLowerCase()]);
    });

    it("refuses a replayed message as duplicate gossip and processes it once (replay attack)", async () => {
      const { node } = solo();
      node.archive.push(A7());
      const push = update(A3());
      await node.overlay.handle(attacker, push);
      await node.overlay.handle(attacker, structuredClone(push));
      await node.overlay.handle(honest, structuredClone(push));
      assert.equal(node.list.offers, 1, "the view was offered once");
      assert.equal(node.list.version, 1);

      const pull: Message = { kind: "view-pull", chainId: A.chainId.toString(), fromHeight: "3" };
      await node.overlay.handle(attacker, pull);
      await node.overlay.handle(attacker, structuredClone(pull));
      assert.equal(node.pulls.length, 1, "viewsAfter ran once");
      assert.deepEqual(byKind(node, "view-update"), [{ to: attacker, message: update(A7()) }], "answered once");
      assert.deepEqual(reasons(node), ["duplicate gossip", "duplicate gossip", "duplicate gossip"]);
    });

    it("tells a repeat by the text the transport read: the same frame is refused, a respelled one is looked at again and changes nothing", async () => {
      const { node } = solo();
      const push = update(A3());
      const frame = JSON.stringify(push, null, 1); // as a peer that writes JSON its own way sends it
      await node.overlay.handle(attacker, push, frame);
      await node.overlay.handle(honest, structuredClone(push), frame);
      assert.equal(node.list.offers, 1, "the same frame is taken once, from any peer");
      assert.deepEqual(reasons(node), ["duplicate gossip"]);

      await node.overlay.handle(attacker, structuredClone(push), JSON.stringify(push));
      assert.equal(node.list.offers, 2, "the same content in another spelling is offered again");
      assert.equal(node.list.version, 1, "and the view list finds it known");
    });

    it("refuses more than maxPerPeerPerSecond messages from one peer in a second and admits it again a second later (gossip flood)", async () => {
      const { clock, node } = solo({ maxPerPeerPerSecond: 5 });
      const pull = (h: number): Message => ({ kind: "view-pull", chainId: A.chainId.toString(), fromHeight: h.toString() });
      for (let h = 0; h < 7; h++) await node.overlay.handle(attacker, pull(h));
      assert.equal(node.pulls.length, 5, "five served");
      assert.deepEqual(reasons(node), ["gossip rate limited", "gossip rate limited"]);

      await node.overlay.handle(honest, pull(100));
      assert.equal(node.pulls.length, 6, "another peer is not limited");

      await clock.advance(999);
      await node.overlay.handle(attacker, pull(7));
      assert.equal(node.pulls.length, 6, "still within the second");
      await clock.advance(1);
      await node.overlay.handle(attacker, pull(8));
      assert.equal(node.pulls.length, 7, "admitted again one second later");
      assert.equal(reasons(node).length, 3);
      assert.deepEqual(node.overlay.cutOff, [], "being rate limited is not a strike");
    });

    it("strikes and cuts off a peer flooding views with malformed fields instead of throwing (malformed-view flood)", async () => {
      const { node } = solo({ maxStrikes: 3 });
      const thrown: unknown[] = [];
      for (let i = 0; i < 4; i++) {
        const view = { ...toWireView(viewAt(A, 4 + i)), hashes: [...viewAt(A, 4 + i).hashes.slice(1), "0x1234" as Hex] };
        await node.overlay.handle(attacker, { kind: "view-update", views: [{ view, signatures: [...A3().signatures] }] }).catch((error: unknown) => thrown.push(error));
      }
      assert.deepEqual(node.overlay.cutOff, [attacker.toLowerCase()], `cut off after 3 strikes; handle() threw ${thrown.length} times instead`);
      assert.deepEqual(reasons(node), ["invalid view", "invalid view", "invalid view", "peer cut off"]);
    });

    it("attack: one frame of many invalid views (a framed node) earns one strike, not a cut-off", async () => {
      const { node } = solo({ maxStrikes: 3 });
      const junk = Array.from({ length: 10 }, (_, i) => ({ view: toWireView(viewAt(A, 4 + i)), signatures: [...A3().signatures] }));
      await node.overlay.handle(attacker, { kind: "view-update", views: junk });
      assert.deepEqual(reasons(node), ["invalid view"]);
      assert.equal(node.list.offers, 1, "the update is dropped at its first invalid view");
      assert.deepEqual(node.overlay.cutOff, []);
      await node.overlay.handle(attacker, update(A3()));
      assert.deepEqual(node.list.newest(A.chainId), A3(), "the peer's next valid view enters");
    });

    it("takes a cut-off peer back once its strikes decay below maxStrikes, one per strikeDecayMs (strike decay)", async () => {
      const { clock, node } = solo({ maxStrikes: 3, strikeDecayMs: 10_000 });
      const junk = (i: number): Message => ({ kind: "view-update", views: [{ view: toWireView(viewAt(A, 4 + i)), signatures: [...A3().signatures] }] });
      for (let i = 0; i < 3; i++) await node.overlay.handle(attacker, junk(i));
      await node.overlay.handle(attacker, update(A3()));
      assert.deepEqual(reasons(node), ["invalid view", "invalid view", "invalid view", "peer cut off"]);
      assert.deepEqual(node.overlay.cutOff, [attacker.toLowerCase()]);

      await clock.advance(9_999);
      await node.overlay.handle(attacker, update(A3()));
      assert.equal(reasons(node).at(-1), "peer cut off", "still cut off before the interval ends");
      await clock.advance(1);
      assert.deepEqual(node.overlay.cutOff, [], "one strike forgiven: 2 of 3");
      await node.overlay.handle(attacker, update(A3()));
      assert.deepEqual(node.list.newest(A.chainId), A3(), "taken back: its valid view enters");

      // Strikes left from before still count: one more invalid message cuts it off again, and all of them decay in time.
      await node.overlay.handle(attacker, junk(3));
      assert.deepEqual(node.overlay.cutOff, [attacker.toLowerCase()]);
      await clock.advance(30_000);
      for (let i = 4; i < 6; i++) await node.overlay.handle(attacker, junk(i));
      assert.deepEqual(node.overlay.cutOff, [], "every earlier strike forgiven: two new ones are below the limit");
    });

    it("attack: forged evidence of two old views the list cannot relate is checked, refused and struck", async () => {
      const { node } = solo();
      for (const s of [A11(), aEveryBlock.find((s) => s.view.height === 15n)!]) await node.overlay.learn(s);
      // Two branches at height 3, with a gap below every stored window (too old to relate, so the list does not check
      // them), and signatures that recover to nobody: reported and relayed, they would freeze A everywhere.
      const corrupt = (s: SignedView): WireSignedView => ({ ...wire(s), signatures: s.signatures.map((sig) => `${sig.slice(0, 10)}${sig.slice(10, 12) === "00" ? "01" : "00"}${sig.slice(12)}` as Hex) });
      const fork3 = await signSynthetic(A, viewAt(A, 3, branch(A, 2)));
      assert.equal(relate(A3().view, fork3.view), "conflicting");
      await node.overlay.handle(attacker, { kind: "evidence", a: corrupt(A3()), b: corrupt(fork3) });
      assert.deepEqual(node.evidence, []);
      assert.ok(!node.list.isFrozen(A.chainId));
      assert.deepEqual(byKind(node, "evidence"), [], "nothing relayed");
      assert.deepEqual(reasons(node), ["invalid evidence"]);
      // The same two views with their committee's signatures are evidence.
      await node.overlay.handle(honest, evidenceOf(A3(), fork3));
      assert.equal(node.evidence.length, 1);
      assert.ok(node.list.isFrozen(A.chainId));
    });

    it(`keeps the rates and strikes of at most ${OVERLAY_LIMITS.peers} peers (many-identities flood)`, async () => {
      const { node } = solo({ maxStrikes: 1 });
      // One signature, below the threshold: refused before any recovery, so that the flood is cheap to run.
      const junk = (i: number) => ({ view: toWireView(viewAt(A, 5)), signatures: [`0x${i.toString(16).padStart(128, "0")}1b` as Hex] });
      const peers = Array.from({ length: OVERLAY_LIMITS.peers + 100 }, (_, i) => getAddress(`0x${(0xdead0000 + i).toString(16).padStart(40, "0")}`));
      for (const [i, peer] of peers.entries()) await node.overlay.handle(peer, { kind: "view-update", views: [junk(i)] });
      assert.equal(reasons(node).filter((r) => r === "invalid view").length, peers.length);
      assert.equal(node.overlay.cutOff.length, OVERLAY_LIMITS.peers, "the least recent are forgotten");
      await node.overlay.handle(peers.at(-1)!, update(A3()));
      assert.equal(reasons(node).at(-1), "peer cut off", "the most recent are still cut off");
    });
  });
});
