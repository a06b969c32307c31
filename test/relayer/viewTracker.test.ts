import assert from "node:assert/strict";
import fc from "fast-check";
import {
  bytesToHex,
  concat,
  getAddress,
  hexToBigInt,
  keccak256,
  numberToHex,
  size,
  slice,
  stringToHex,
  type Address,
  type Hex,
} from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { UpdateResult } from "../../relayer/chain/abis.js";
import type { Message } from "../../relayer/net/message.js";
import { systemClock } from "../../relayer/clock.js";
import { Store } from "../../relayer/store/store.js";
import { Cosigner } from "../../relayer/node/cosigner.js";
import { relate, type Relation } from "../../relayer/view/relate.js";
import { signView } from "../../relayer/view/signView.js";
import { SignedViewError, verifySignedView, type Committee } from "../../relayer/view/verifySignedView.js";
import { accThrough, buildView, foldAcc, ZERO_HASH, type View } from "../../relayer/view/view.js";
import { viewDigest } from "../../relayer/view/viewDigest.js";
import { ViewGapError, ViewTracker } from "../../relayer/view/viewTracker.js";
import { fromWireView } from "../../relayer/view/wireView.js";
import { committeeOf, deploySystem, mine, relayView, sign, viewOf, type Chain } from "../fixtures/system.js";

type Cosign = Extract<Message, { kind: "cosign" }>;

/** Order of the secp256k1 group: (r, s) and (r, n − s) are the two encodings of one signature. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

// ---------------------------------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------------------------------

/** One deployment (chains A and B, each registered on the other) per window size k: the registry's k is fixed at registration. */
const deployments = new Map<number, Promise<[Chain, Chain]>>();
function systemWith(k: number): Promise<[Chain, Chain]> {
  let system = deployments.get(k);
  if (system === undefined) deployments.set(k, (system = deploySystem({ k }).then((chains) => chains as [Chain, Chain])));
  return system;
}

/** The decoded custom error of a reverted viem call, found anywhere on its cause chain. */
function revertOf(error: unknown): { errorName?: string } | undefined {
  for (let e = error as { cause?: unknown; data?: { errorName?: string } } | undefined; e; e = e.cause as typeof e) {
    if (e.data?.errorName) return e.data;
  }
  return undefined;
}

async function reverts(promise: Promise<unknown>, name: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal(revertOf(error)?.errorName, name, `expected ${name}, got: ${String((error as Error)?.message ?? error).slice(0, 300)}`);
    return true;
  });
}

const label = (text: string): Hex => keccak256(stringToHex(text));

/** A chain of `length` made-up block hashes. */
const fakeChain = (length: number, salt = ""): Hex[] => Array.from({ length }, (_, h) => label(`block ${h}${salt}`));

/** `view` with the hash at `index` replaced. */
function withHash(view: View, index: number, hash: Hex): View {
  const hashes = [...view.hashes];
  hashes[index] = hash;
  return { ...view, hashes };
}

/** The malleable twin of a 65-byte signature: (r, n − s, v ^ 1), valid for plain ecrecover and the same signer. */
function highSTwin(signature: Hex): Hex {
  const s = hexToBigInt(slice(signature, 32, 64));
  const v = Number(hexToBigInt(slice(signature, 64, 65)));
  return concat([slice(signature, 0, 32), numberToHex(SECP256K1_N - s, { size: 32 }), numberToHex(v === 27 ? 28 : 27, { size: 1 })]);
}

/** The same signature with its last byte written as the y parity (0/1) instead of v (27/28). */
function yParityTwin(signature: Hex): Hex {
  assert.equal(size(signature), 65);
  const v = Number(hexToBigInt(slice(signature, 64, 65)));
  return concat([slice(signature, 0, 64), numberToHex(v - 27, { size: 1 })]);
}

function outsider(i = 0): PrivateKeyAccount {
  return privateKeyToAccount(label(`outsider/${i}`));
}

// ---------------------------------------------------------------------------------------------------------------------
// The connect rule, written again from DESIGN.md as a reference for relate()
// ---------------------------------------------------------------------------------------------------------------------

/**
 * What a view claims about its chain: the hash of every height in its window, and the accumulator of every height
 * from its window's start to one past its head (acc at h folds every block below h).
 */
function claims(view: View): { hashAt: Map<bigint, Hex>; accAt: Map<bigint, Hex> } {
  const first = view.height + 1n - BigInt(view.hashes.length);
  const hashAt = new Map<bigint, Hex>();
  const accAt = new Map<bigint, Hex>([[first, view.acc]]);
  let acc = view.acc;
  view.hashes.forEach((hash, i) => {
    hashAt.set(first + BigInt(i), hash);
    acc = keccak256(concat([acc, hash]));
    accAt.set(first + BigInt(i) + 1n, acc);
  });
  return { hashAt, accAt };
}

/**
 * Two views of one chain conflict when they disagree on anything both claim (a block hash or the accumulator at a
 * height). They are consistent when they share an accumulator height (the newer window starts at most one past the
 * older head) and agree everywhere; with no shared accumulator height (a gap larger than k) they are unverifiable.
 */
function referenceRelate(x: View, y: View): Relation {
  const cx = claims(x);
  const cy = claims(y);
  for (const [h, hash] of cx.hashAt) if (cy.hashAt.has(h) && cy.hashAt.get(h) !== hash) return "conflicting";
  let sharedAcc = false;
  for (const [h, acc] of cx.accAt) {
    if (!cy.accAt.has(h)) continue;
    sharedAcc = true;
    if (cy.accAt.get(h) !== acc) return "conflicting";
  }
  return sharedAcc ? "consistent" : "unverifiable";
}

const MAX_HEIGHT = 40;
const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => bytesToHex(bytes));
const chainArb = fc.array(hashArb, { minLength: MAX_HEIGHT + 1, maxLength: MAX_HEIGHT + 1 });
type Tamper = { kind: "none" } | { kind: "hash"; inFirst: boolean; index: number; hash: Hex } | { kind: "acc"; inFirst: boolean; acc: Hex };
const tamperArb: fc.Arbitrary<Tamper> = fc.oneof(
  { arbitrary: fc.constant({ kind: "none" as const }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("hash" as const), inFirst: fc.boolean(), index: fc.nat(), hash: hashArb }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("acc" as const), inFirst: fc.boolean(), acc: hashArb }), weight: 1 },
);

type ViewPair = { k: number; first: View; second: View; sameChain: boolean; tampered: boolean };

/**
 * Two well-formed views of chain `chainId` with window `k`: at random heights of one random chain, or of two branches
 * that split at a random height, and sometimes with one hash or the acc of one of them changed.
 */
function viewPairArb(chainId: bigint, kArb: fc.Arbitrary<number>): fc.Arbitrary<ViewPair> {
  return fc
    .record({
      k: kArb,
      chain: chainArb,
      branch: fc.option(fc.record({ at: fc.nat(MAX_HEIGHT), hashes: chainArb }), { freq: 3 }),
      firstHeight: fc.nat(MAX_HEIGHT),
      secondHeight: fc.nat(MAX_HEIGHT),
      tamper: tamperArb,
    })
    .map(({ k, chain, branch, firstHeight, secondHeight, tamper }) => {
      const other = branch === null ? chain : [...chain.slice(0, branch.at), ...branch.hashes.slice(branch.at)];
      let first = buildView({ chainId, k, blockHashes: chain.slice(0, firstHeight + 1) });
      let second = buildView({ chainId, k, blockHashes: other.slice(0, secondHeight + 1) });
      let tampered = false;
      if (tamper.kind === "hash") {
        const target = tamper.inFirst ? first : second;
        const changed = withHash(target, tamper.index % target.hashes.length, tamper.hash);
        [first, second] = tamper.inFirst ? [changed, second] : [first, changed];
        tampered = true;
      } else if (tamper.kind === "acc") {
        const target = tamper.inFirst ? first : second;
        // A window that reaches height 0 must carry acc 0: only a view with history below its window has an acc to change.
        if (target.height + 1n > BigInt(k)) {
          const changed = { ...target, acc: tamper.acc };
          [first, second] = tamper.inFirst ? [changed, second] : [first, changed];
          tampered = true;
        }
      }
      const sameChain = branch === null || branch.at > Math.min(firstHeight, secondHeight);
      return { k, first, second, sameChain, tampered };
    });
}

// ---------------------------------------------------------------------------------------------------------------------

describe("ViewTracker", () => {
  for (const k of [4, 16]) {
    describe(`with k = ${k}`, () => {
      let a: Chain;
      let b: Chain;
      before(async () => {
        [a, b] = await systemWith(k);
      });

      it("equals buildView at every height of an in-process chain, before and after the window fills", async () => {
        const tracker = new ViewTracker({ chainId: b.chainId, k });
        let sawPartial = false;
        let sawFull = false;
        for (const blocks of [0, 1, k - 1, k + 2, 2 * k]) {
          if (blocks > 0) await mine(b, blocks);
          const hashes = await b.blockHashes();
          for (let h = tracker.next; h < BigInt(hashes.length); h++) {
            tracker.push(h, hashes[Number(h)]!);
            const view = tracker.view();
            assert.deepEqual(view, buildView({ chainId: b.chainId, k, blockHashes: hashes.slice(0, Number(h) + 1) }), `height ${h}`);
            if (view.hashes.length < k) {
              assert.equal(view.acc, ZERO_HASH, `height ${h}: a window reaching height 0 folds nothing`);
              sawPartial = true;
            } else {
              sawFull = true;
            }
          }
        }
        assert.ok(sawPartial && sawFull, "covers both a partial and a full window");
        assert.notEqual(tracker.view().acc, ZERO_HASH);
      });

      it("resumed from its view at any height continues exactly as the tracker that never stopped", async () => {
        const hashes = await b.blockHashes();
        assert.ok(hashes.length > 2 * k);
        const views = hashes.map((_, h) => buildView({ chainId: b.chainId, k, blockHashes: hashes.slice(0, h + 1) }));
        for (let from = 0; from < hashes.length - 1; from++) {
          const resumed = new ViewTracker({ chainId: b.chainId, k, from: views[from]! });
          assert.equal(resumed.next, BigInt(from + 1));
          assert.deepEqual(resumed.view(), views[from]);
          for (let h = from + 1; h < hashes.length; h++) {
            resumed.push(BigInt(h), hashes[h]!);
            assert.deepEqual(resumed.view(), views[h], `resumed from ${from}, at ${h}`);
          }
        }
      });

      it("agrees with the word the ViewRegistry stores after relayView (accThrough), and with its digest", async () => {
        const tracker = new ViewTracker({ chainId: b.chainId, k });
        const catchUp = async (height: bigint) => {
          const hashes = await b.blockHashes(height);
          for (let h = tracker.next; h <= height; h++) tracker.push(h, hashes[Number(h)]!);
        };
        for (const blocks of [0, 2, k - 1, 3 * k + 1]) {
          if (blocks > 0) await mine(b, blocks);
          const height = blocks === 0 ? await a.registry.read.latestHeight([b.chainId]) : await relayView(b, a, k);
          await catchUp(height);
          const ours = tracker.view();
          assert.equal(await a.registry.read.latestHeight([b.chainId]), height);
          assert.equal(await a.registry.read.accThrough([b.chainId, height]), accThrough(ours), `the registry's word at height ${height}`);
          assert.equal(await a.registry.read.digestOf([ours]), viewDigest(ours, b.gateway.address), `digest at ${height}`);
        }
        assert.equal(tracker.view().hashes.length, k);
      });
    });
  }

  describe("push", () => {
    it("throws ViewGapError for a block that skips ahead (missed block) and keeps its view", () => {
      const hashes = fakeChain(4);
      const tracker = new ViewTracker({ chainId: 1002n, k: 2 });
      for (let h = 0; h < 3; h++) tracker.push(BigInt(h), hashes[h]!);
      const before = tracker.view();
      assert.throws(
        () => tracker.push(5n, hashes[3]!),
        (error: unknown) => error instanceof ViewGapError && error.expected === 3n && error.got === 5n,
      );
      assert.deepEqual(tracker.view(), before);
      assert.equal(tracker.next, 3n);
    });

    it("throws ViewGapError for a block it already has (replayed block) and for the first block out of order", () => {
      const hashes = fakeChain(3);
      const tracker = new ViewTracker({ chainId: 1002n, k: 2 });
      assert.throws(() => tracker.push(1n, hashes[1]!), (error: unknown) => error instanceof ViewGapError && error.expected === 0n && error.got === 1n);
      tracker.push(0n, hashes[0]!);
      tracker.push(1n, hashes[1]!);
      assert.throws(() => tracker.push(1n, label("rewritten")), ViewGapError);
      assert.throws(() => tracker.push(0n, hashes[0]!), ViewGapError);
      assert.deepEqual(tracker.view(), buildView({ chainId: 1002n, k: 2, blockHashes: hashes.slice(0, 2) }));
    });

    it("has no view before its first block, and refuses to resume from a view of another chain or window", () => {
      assert.throws(() => new ViewTracker({ chainId: 1002n, k: 4 }).view());
      const view = buildView({ chainId: 1002n, k: 4, blockHashes: fakeChain(10) });
      assert.throws(() => new ViewTracker({ chainId: 1003n, k: 4, from: view }));
      assert.throws(() => new ViewTracker({ chainId: 1002n, k: 5, from: view }));
      assert.throws(() => new ViewTracker({ chainId: 1002n, k: 4, from: { ...view, hashes: view.hashes.slice(1) } }));
    });
  });
});

describe("foldAcc", () => {
  const plainFold = (acc: Hex, hashes: readonly Hex[]) => hashes.reduce<Hex>((a, h) => keccak256(concat([a, h])), acc);
  const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(bytesToHex);

  it("gives keccak256(acc ‖ hash) folded, for the same steps asked again and for many bridges from one acc (attack: unsigned bridges)", () => {
    // An answerer controls a bridge, so it can make a node fold one acc with ever new hashes: the steps the fold
    // remembers must stay right when it forgets some of them, in every order of asking.
    fc.assert(
      fc.property(hash, fc.array(fc.array(hash, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (acc, bridges, order) => {
        for (const bridge of bridges) assert.equal(foldAcc(acc, bridge), plainFold(acc, bridge));
        for (const i of order) {
          const bridge = bridges[i % bridges.length]!;
          assert.equal(foldAcc(acc, bridge), plainFold(acc, bridge), "asked again");
        }
      }),
      { numRuns: 60, seed: 20240612 },
    );
  });
});

describe("relate", () => {
  it("agrees with the connect rule of DESIGN.md on random pairs of views (heights 0..40, k 1..8, tampered or forked)", () => {
    const seen: Record<Relation, number> = { consistent: 0, conflicting: 0, unverifiable: 0 };
    fc.assert(
      fc.property(viewPairArb(1002n, fc.integer({ min: 1, max: 8 })), ({ first, second }) => {
        const expected = referenceRelate(first, second);
        assert.equal(relate(first, second), expected);
        assert.equal(relate(second, first), expected, "symmetric");
        seen[expected]++;
      }),
      { numRuns: 400, seed: 20240611 },
    );
    for (const relation of Object.keys(seen) as Relation[]) assert.ok(seen[relation] > 10, `${relation} covered: ${JSON.stringify(seen)}`);
  });

  it("never calls two honest views of one chain conflicting, and calls them unverifiable exactly when the gap exceeds k", () => {
    fc.assert(
      fc.property(viewPairArb(1002n, fc.integer({ min: 1, max: 8 })), ({ k, first, second, sameChain, tampered }) => {
        if (!sameChain || tampered) return;
        const gap = first.height > second.height ? first.height - second.height : second.height - first.height;
        assert.equal(relate(first, second), gap > BigInt(k) ? "unverifiable" : "consistent");
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it("calls two branches conflicting whenever both views reach past the fork within k (fork evidence)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), chainArb, chainArb, fc.nat(MAX_HEIGHT), fc.nat(MAX_HEIGHT), fc.nat(MAX_HEIGHT), (k, chain, other, at, x, y) => {
        const [low, high] = x <= y ? [x, y] : [y, x];
        if (at > low || high - low > k) return; // the fork must lie at or below both heads, and the views must connect
        const branch = [...chain.slice(0, at), ...other.slice(at)];
        const va = buildView({ chainId: 1002n, k, blockHashes: chain.slice(0, x + 1) });
        const vb = buildView({ chainId: 1002n, k, blockHashes: branch.slice(0, y + 1) });
        assert.equal(relate(va, vb), "conflicting");
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  describe("against the ViewRegistry (k = 4)", () => {
    const K_ONCHAIN = 4;
    let a: Chain;
    let b: Chain;
    before(async () => {
      [a, b] = await systemWith(K_ONCHAIN);
    });

    it("submitForkEvidence freezes exactly on the pairs relate() calls conflicting, and reverts NotConflicting otherwise", async () => {
      const samples = fc.sample(viewPairArb(b.chainId, fc.constant(K_ONCHAIN)), { numRuns: 300, seed: 42 });
      const quota: Record<Relation, number> = { conflicting: 5, consistent: 3, unverifiable: 2 };
      const cases: { pair: ViewPair; relation: Relation }[] = [];
      for (const pair of samples) {
        const relation = relate(pair.first, pair.second);
        if (quota[relation] === 0) continue;
        quota[relation]--;
        cases.push({ pair, relation });
      }
      assert.deepEqual(quota, { conflicting: 0, consistent: 0, unverifiable: 0 }, "the sample covers every relation");

      const provider = a.conn.provider;
      for (const { pair, relation } of cases) {
        assert.equal(relation, referenceRelate(pair.first, pair.second));
        const sigFirst = await sign(b, pair.first);
        const sigSecond = await sign(b, pair.second);
        const what = `${relation}: heights ${pair.first.height}/${pair.second.height}`;
        if (relation === "conflicting") {
          const snapshot = await provider.request({ method: "evm_snapshot" });
          await a.registry.write.submitForkEvidence([pair.first, sigFirst, pair.second, sigSecond]);
          assert.equal(await a.registry.read.isFrozen([b.chainId]), true, what);
          assert.equal(await provider.request({ method: "evm_revert", params: [snapshot] }), true);
        } else {
          await reverts(a.registry.write.submitForkEvidence([pair.first, sigFirst, pair.second, sigSecond]), "ViewRegistryNotConflicting");
        }
        assert.equal(await a.registry.read.isFrozen([b.chainId]), false, what);
      }
    });
  });
});

describe("verifySignedView", () => {
  const K_ONCHAIN = 4;
  let a: Chain;
  let b: Chain;
  let committee: Committee;
  /** B's view one height past what A stored: the registry would accept it with enough signatures. */
  let next: View;

  before(async () => {
    [a, b] = await systemWith(K_ONCHAIN);
    const [members, threshold, k] = await a.registry.read.committeeOf([b.chainId]);
    committee = { gateway: b.gateway.address, members, threshold: Number(threshold), k: Number(k) };
    assert.equal(committee.threshold, 3);
  });
  beforeEach(async () => {
    const stored = await a.registry.read.latestHeight([b.chainId]);
    if ((await b.publicClient.getBlockNumber()) <= stored) await mine(b, 1);
    next = await viewOf(b, K_ONCHAIN, stored + 1n);
  });

  /** The registry refuses the signed view with `error`, and so must the relayer's check. */
  async function refusedLikeTheRegistry(view: View, signatures: Hex[], error: string): Promise<void> {
    await reverts(a.registry.simulate.submitView([view, signatures, []]), error);
    await assert.rejects(verifySignedView(view, signatures, committee), SignedViewError);
  }

  it("accepts a view signed by the threshold, and by the whole committee, as the registry does", async () => {
    for (const signers of [b.committee.slice(1, 4), b.committee]) {
      const signatures = await sign(b, next, signers);
      await verifySignedView(next, signatures, committee);
      assert.equal((await a.registry.simulate.submitView([next, signatures, []])).result, UpdateResult.Accepted);
    }
  });

  it("refuses a view signed by fewer than the threshold (below-threshold attack)", async () => {
    await refusedLikeTheRegistry(next, await sign(b, next, b.committee.slice(0, 2)), "ViewRegistryBelowThreshold");
  });

  it("refuses a signature of a key outside the committee (unknown-signer attack)", async () => {
    await refusedLikeTheRegistry(next, await sign(b, next, [...b.committee.slice(0, 2), outsider()]), "ViewRegistryUnknownSigner");
  });

  it("refuses one member's signature counted twice (duplicate-signer attack)", async () => {
    const [first, second] = await sign(b, next, b.committee.slice(0, 2));
    await refusedLikeTheRegistry(next, [first!, first!, second!], "ViewRegistryDuplicateSigner");
  });

  it("refuses signatures out of ascending signer order (duplicate hidden by reordering)", async () => {
    await refusedLikeTheRegistry(next, (await sign(b, next)).reverse(), "ViewRegistrySignersNotSorted");
  });

  it("refuses the high-s twin of a member's signature (signature-malleability attack)", async () => {
    const signatures = await sign(b, next, b.committee.slice(0, 3));
    await refusedLikeTheRegistry(next, [signatures[0]!, highSTwin(signatures[1]!), signatures[2]!], "ViewRegistryInvalidSignature");
  });

  it("refuses a signature whose last byte is the y parity 0/1 instead of v 27/28 (v-encoding twin the registry cannot recover)", async () => {
    const signatures = await sign(b, next, b.committee.slice(0, 3));
    await refusedLikeTheRegistry(next, [signatures[0]!, yParityTwin(signatures[1]!), signatures[2]!], "ViewRegistryInvalidSignature");
  });

  it("refuses a properly signed window of the wrong size (malformed-window attack)", async () => {
    const short = { ...next, hashes: next.hashes.slice(1) };
    await refusedLikeTheRegistry(short, await sign(b, short), "ViewRegistryMalformedView");
    const long = { ...next, hashes: [next.hashes[0]!, ...next.hashes] };
    await refusedLikeTheRegistry(long, await sign(b, long), "ViewRegistryMalformedView");
  });

  it("refuses a window reaching height 0 with a non-zero acc (phantom-history attack)", async () => {
    const young = await viewOf(b, K_ONCHAIN, BigInt(K_ONCHAIN - 2));
    const phantom = { ...young, acc: label("history before genesis") };
    await refusedLikeTheRegistry(phantom, await sign(b, phantom), "ViewRegistryMalformedView");
  });

  it("refuses the committee's signatures of another chain's view relabelled as B's (cross-chain replay)", async () => {
    const ofA = await viewOf(a, K_ONCHAIN);
    const relabelled = { ...ofA, chainId: b.chainId };
    await refusedLikeTheRegistry(relabelled, await sign(a, ofA), "ViewRegistryUnknownSigner");
  });
});

describe("Cosigner", () => {
  const CHAIN_ID = 1002n;
  const GATEWAY: Address = getAddress("0x00000000000000000000000000000000000000ee");
  const THRESHOLD = 3;
  const accounts = committeeOf(CHAIN_ID, 4);
  const members = accounts.map((account) => account.address);
  const committee: Committee = { gateway: GATEWAY, members, threshold: THRESHOLD, k: 4 };
  const views = Array.from({ length: 8 }, (_, h) => buildView({ chainId: CHAIN_ID, k: 4, blockHashes: fakeChain(h + 1) }));

  type Envelope = { from: Address; to: Address; message: Cosign };
  type Member = { account: PrivateKeyAccount; store: Store; cosigner: Cosigner };
  let nodes: Member[];
  /** Every member signs every height unasked in the tests that do not set it. */
  let signEvery = 1;
  /** Co-signatures sent and not yet delivered. */
  let queue: Envelope[];

  beforeEach(() => {
    queue = [];
    nodes = accounts.map((account) => {
      const store = new Store({ path: ":memory:" });
      const send = (to: Address, message: Message) => {
        assert.equal(message.kind, "cosign");
        queue.push({ from: account.address, to, message: message as Cosign });
      };
      const cosigner = new Cosigner({ account, chainId: CHAIN_ID, gateway: GATEWAY, members, threshold: THRESHOLD, signEvery, store, send, clock: systemClock });
      return { account, store, cosigner };
    });
  });
  afterEach(() => {
    for (const node of nodes) node.store.close();
  });

  /** Delivers the queued co-signatures that match (default: all), in order; returns onCosign's answers. */
  async function deliver(match: (envelope: Envelope) => boolean = () => true): Promise<boolean[]> {
    const now = queue.filter(match);
    queue = queue.filter((envelope) => !match(envelope));
    const results: boolean[] = [];
    for (const { from, to, message } of now) {
      const node = nodes.find((n) => n.account.address === to)!;
      results.push(await node.cosigner.onCosign(from, message));
    }
    return results;
  }
  const to = (i: number) => (envelope: Envelope) => envelope.to === members[i];
  const certified = (i: number, height: bigint) => nodes[i]!.store.signedView(CHAIN_ID, height);

  /** The certified view at `height` of node `i`: `view` with signatures of exactly `signers` that pass verifySignedView. */
  async function assertCertified(i: number, view: View, signers: number[]): Promise<void> {
    const stored = certified(i, view.height);
    assert.ok(stored, `node ${i} certified height ${view.height}`);
    assert.deepEqual(fromWireView(stored.view), view);
    await verifySignedView(view, stored.signatures, committee);
    const expected = await Promise.all(signers.map(async (s) => (await signView(accounts[s]!, view, GATEWAY)).signature));
    assert.deepEqual(new Set(stored.signatures), new Set(expected), `node ${i} signers at ${view.height}`);
  }

  /** A message from `signer` co-signing `view`, as its Cosigner would send it. */
  async function cosignOf(signer: PrivateKeyAccount, view: View): Promise<Cosign> {
    const { signature } = await signView(signer, view, GATEWAY);
    return { kind: "cosign", chainId: view.chainId.toString(), height: view.height.toString(), signer: signer.address, signature };
  }

  it("certifies each height in every member's store once the threshold of members signed the same view", async () => {
    for (const view of views) {
      await nodes[0]!.cosigner.onOwnView(view);
      await nodes[1]!.cosigner.onOwnView(view);
      assert.ok((await deliver()).every(Boolean));
      for (let i = 0; i < 4; i++) assert.equal(certified(i, view.height), undefined, `two signatures certify nothing (node ${i})`);

      await nodes[2]!.cosigner.onOwnView(view); // counts the two it was sent before it got there
      await assertCertified(2, view, [0, 1, 2]);
      assert.ok((await deliver()).every(Boolean));
      await assertCertified(0, view, [0, 1, 2]);
      await assertCertified(1, view, [0, 1, 2]);

      await nodes[3]!.cosigner.onOwnView(view);
      assert.ok((await deliver()).every(Boolean));
      // Certified once: the fourth signature does not rewrite what was stored.
      for (let i = 0; i < 3; i++) await assertCertified(i, view, [0, 1, 2]);
      assert.ok(certified(3, view.height));
      await verifySignedView(view, certified(3, view.height)!.signatures, committee);
    }
    assert.equal(nodes[0]!.store.latestSignedView(CHAIN_ID)?.height, views.at(-1)!.height);
  });

  it("does not count a member that signs a different view of the height (equivocating member)", async () => {
    const view = views[5]!;
    const other = withHash(view, view.hashes.length - 1, label("a block of another branch"));
    await nodes[0]!.cosigner.onOwnView(view);
    await nodes[1]!.cosigner.onOwnView(view);
    await nodes[3]!.cosigner.onOwnView(other);
    const toZero = await deliver(to(0));
    assert.deepEqual(toZero, [true, false], "member 1 counted, member 3 refused");
    assert.equal(certified(0, view.height), undefined, "one honest signature short of the threshold");

    await deliver();
    assert.equal(certified(3, view.height), undefined, "the odd one out certifies nothing");

    await nodes[2]!.cosigner.onOwnView(view);
    await deliver();
    for (const i of [0, 1, 2]) await assertCertified(i, view, [0, 1, 2]);
    assert.equal(certified(3, view.height), undefined);
  });

  it("counts a member's signature once however often it arrives (replayed co-signature)", async () => {
    const view = views[3]!;
    await nodes[0]!.cosigner.onOwnView(view);
    const message = await cosignOf(accounts[1]!, view);
    for (let i = 0; i < 3; i++) await nodes[0]!.cosigner.onCosign(members[1]!, message);
    assert.equal(certified(0, view.height), undefined);
    assert.equal(await nodes[0]!.cosigner.onCosign(members[2]!, await cosignOf(accounts[2]!, view)), true);
    await assertCertified(0, view, [0, 1, 2]);
  });

  it("keeps a co-signature that arrives before the node reached the height and counts it then", async () => {
    const view = views[6]!;
    await nodes[0]!.cosigner.onOwnView(views[4]!); // node 0 is two heights behind
    await nodes[1]!.cosigner.onOwnView(view);
    await nodes[2]!.cosigner.onOwnView(view);
    assert.deepEqual(await deliver(to(0)), [true, true], "kept while early");
    assert.equal(certified(0, view.height), undefined);

    await nodes[0]!.cosigner.onOwnView(views[5]!);
    assert.equal(certified(0, views[5]!.height), undefined, "early signatures of height 6 do not count for height 5");
    await nodes[0]!.cosigner.onOwnView(view);
    await assertCertified(0, view, [0, 1, 2]);
  });

  it("drops an early co-signature of a different view once the node reaches the height (early equivocation)", async () => {
    const view = views[6]!;
    const other = { ...view, acc: label("another history") };
    await nodes[0]!.cosigner.onOwnView(views[4]!);
    await nodes[1]!.cosigner.onOwnView(view);
    await nodes[3]!.cosigner.onOwnView(other);
    assert.deepEqual(await deliver(to(0)), [true, true], "both kept while early: the view is not known yet");
    await nodes[0]!.cosigner.onOwnView(view);
    assert.equal(certified(0, view.height), undefined, "member 3's signature of another view was not counted");
    await nodes[2]!.cosigner.onOwnView(view);
    await deliver(to(0));
    await assertCertified(0, view, [0, 1, 2]);
  });

  it("refuses a co-signature from outside the committee (non-member attack)", async () => {
    const view = views[2]!;
    const stranger = outsider();
    await nodes[0]!.cosigner.onOwnView(view);
    await nodes[1]!.cosigner.onOwnView(view);
    await deliver(to(0));
    assert.equal(await nodes[0]!.cosigner.onCosign(stranger.address, await cosignOf(stranger, view)), false);
    assert.equal(certified(0, view.height), undefined, "the stranger's signature is not counted");
  });

  it("refuses a co-signature whose signer is not its sender (impersonation and relayed signatures)", async () => {
    const view = views[2]!;
    await nodes[0]!.cosigner.onOwnView(view);
    await nodes[1]!.cosigner.onOwnView(view);
    await deliver(to(0));
    const ofTwo = await cosignOf(accounts[2]!, view);
    // Member 1 passes member 2's signature off, and a stranger replays it: neither is member 2 speaking.
    assert.equal(await nodes[0]!.cosigner.onCosign(members[1]!, ofTwo), false);
    assert.equal(await nodes[0]!.cosigner.onCosign(outsider().address, ofTwo), false);
    // Member 1 claims to be member 2 with its own signature.
    const forged = { ...(await cosignOf(accounts[1]!, view)), signer: members[2]! };
    assert.equal(await nodes[0]!.cosigner.onCosign(members[1]!, forged), false);
    assert.equal(certified(0, view.height), undefined, "none of them counted");
    assert.equal(await nodes[0]!.cosigner.onCosign(members[2]!, ofTwo), true);
    await assertCertified(0, view, [0, 1, 2]);
  });

  it("refuses a co-signature for another chain (cross-chain replay)", async () => {
    const view = views[2]!;
    await nodes[0]!.cosigner.onOwnView(view);
    await nodes[1]!.cosigner.onOwnView(view);
    await deliver(to(0));
    const message = { ...(await cosignOf(accounts[2]!, view)), chainId: "1003" };
    assert.equal(await nodes[0]!.cosigner.onCosign(members[2]!, message), false);
    assert.equal(certified(0, view.height), undefined);
  });

  it("refuses a co-signature for a height far beyond the horizon (memory-exhaustion attack)", async () => {
    await nodes[0]!.cosigner.onOwnView(views[1]!);
    const far = { ...(await cosignOf(accounts[1]!, views[1]!)), height: "1000000" };
    assert.equal(await nodes[0]!.cosigner.onCosign(members[1]!, far), false);
  });

  it("still counts the honest members' early co-signatures when one member floods that height first (early-buffer squatting)", async () => {
    const view = views[6]!;
    await nodes[0]!.cosigner.onOwnView(views[4]!);
    const junk = { ...(await cosignOf(accounts[3]!, { ...view, acc: label("junk") })) };
    for (let i = 0; i < 8; i++) await nodes[0]!.cosigner.onCosign(members[3]!, junk);
    await nodes[1]!.cosigner.onOwnView(view);
    await nodes[2]!.cosigner.onOwnView(view);
    await deliver(to(0));
    await nodes[0]!.cosigner.onOwnView(view);
    await assertCertified(0, view, [0, 1, 2]);
  });
  describe("certifying only what is needed", () => {
    before(() => {
      signEvery = 100;
    });
    after(() => {
      signEvery = 1;
    });

    it("signs nothing between pacemaker heights while no one needs a view", async () => {
      for (const view of views.slice(1)) for (const node of nodes) await node.cosigner.onOwnView(view);
      assert.equal(queue.length, 0, "no co-signature sent");
      assert.deepEqual(nodes.map((n) => n.cosigner.signatures), [0, 0, 0, 0]);
      assert.equal(nodes[0]!.store.latestSignedView(CHAIN_ID), undefined);
    });

    it("certifies the demanded height in one round: one signature per member, every store certified", async () => {
      const view = views[5]!;
      for (const node of nodes) for (const v of views.slice(1, 6)) await node.cosigner.onOwnView(v);
      const certifiedAtZero = nodes[0]!.cosigner.certify(view.height, 10_000);
      while (queue.length < 3 && nodes[0]!.cosigner.signatures === 1) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(queue.length, 3, "node 0 asks the three others by co-signing");
      await deliver(); // the others check it and sign the same height
      await deliver();
      assert.equal(await certifiedAtZero, true);
      for (let i = 0; i < 4; i++) assert.ok(certified(i, view.height), `node ${i} certified ${view.height}`);
      assert.deepEqual(nodes.map((n) => n.cosigner.signatures), [1, 1, 1, 1], "each member signed once");
      assert.equal(await nodes[1]!.cosigner.certify(view.height - 2n, 10_000), true, "an older demand is met by the newer certified view");
      assert.equal(nodes[1]!.cosigner.signatures, 1, "without signing again");
    });

    it("signs the first view that reaches a height demanded before the chain got there", async () => {
      for (const node of nodes) await node.cosigner.onOwnView(views[2]!);
      const demand = nodes[0]!.cosigner.certify(views[4]!.height, 10_000);
      await nodes[0]!.cosigner.onOwnView(views[3]!);
      assert.equal(queue.length, 0, "height 3 is not what was asked for");
      await nodes[0]!.cosigner.onOwnView(views[4]!);
      assert.equal(queue.length, 3);
      await deliver(); // kept as early: the others have not reached height 4
      for (const node of nodes.slice(1)) await node.cosigner.onOwnView(views[4]!);
      await deliver();
      assert.equal(await demand, true);
      const stored = certified(0, views[4]!.height);
      assert.ok(stored, "node 0 certified height 4");
      await verifySignedView(views[4]!, stored.signatures, committee);
    });

    it("answers false when the committee does not sign in time", async () => {
      for (const node of nodes) await node.cosigner.onOwnView(views[3]!);
      assert.equal(await nodes[0]!.cosigner.certify(views[3]!.height, 50), false);
      assert.equal(certified(0, views[3]!.height), undefined);
    });

    it("signs each height at most once however many co-signatures a member sends (signing-amplification attack)", async () => {
      for (const node of nodes) for (const v of views.slice(1, 8)) await node.cosigner.onOwnView(v);
      for (const v of views.slice(1, 8)) {
        const message = await cosignOf(accounts[3]!, v);
        for (let i = 0; i < 5; i++) assert.equal(await nodes[0]!.cosigner.onCosign(members[3]!, message), true);
      }
      assert.equal(nodes[0]!.cosigner.signatures, 7, "one signature per height asked for, not per message");
      const forged = { ...(await cosignOf(accounts[3]!, { ...views[7]!, acc: label("junk") })), height: views[6]!.height.toString() };
      assert.equal(await nodes[1]!.cosigner.onCosign(members[3]!, forged), false, "a co-signature of another view asks for nothing");
      assert.equal(nodes[1]!.cosigner.signatures, 0);
    });
  });
});
