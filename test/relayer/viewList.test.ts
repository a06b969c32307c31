import assert from "node:assert/strict";
import { keccak256, stringToHex, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ViewList, type Offer } from "../../relayer/gossip/viewList.js";
import type { SignedView } from "../../relayer/view/signedView.js";
import type { WireSignedView } from "../../relayer/net/message.js";
import { relate } from "../../relayer/view/relate.js";
import { verifySignedView } from "../../relayer/view/verifySignedView.js";
import { branch, signSynthetic, testChain, THRESHOLD, viewAt, wire, type TestChain } from "../fixtures/syntheticChain.js";

// ---------------------------------------------------------------------------------------------------------------------
// Synthetic chains: random block hashes, a committee of q = 4 test keys, threshold ceil(2q/3) = 3. No blockchain.
// ---------------------------------------------------------------------------------------------------------------------

const listOf = (...chains: TestChain[]) => new ViewList({ committees: new Map(chains.map((c) => [c.chainId, c.committee])) });

/** A list of `chain` whose verifier records the height of every view whose signatures it checks. */
function countingList(chain: TestChain) {
  const verified: bigint[] = [];
  const list = new ViewList({
    committees: new Map([[chain.chainId, chain.committee]]),
    verify: async (view, signatures, committee) => {
      verified.push(view.height);
      await verifySignedView(view, signatures, committee);
    },
  });
  return { list, verified };
}

/** A signature with one byte of r flipped: well-formed, but it recovers to nobody in the committee. */
function corrupt(signature: Hex): Hex {
  const byte = (parseInt(signature.slice(10, 12), 16) ^ 0xff).toString(16).padStart(2, "0");
  return `${signature.slice(0, 10)}${byte}${signature.slice(12)}` as Hex;
}

function assertInvalid(offer: Offer, reason?: RegExp): void {
  assert.equal(offer.result, "invalid", `expected invalid, got ${JSON.stringify(offer, (_, v) => (typeof v === "bigint" ? v.toString() : v))}`);
  if (reason !== undefined && offer.result === "invalid") assert.match(offer.reason, reason);
}

// ---------------------------------------------------------------------------------------------------------------------

describe("ViewList", () => {
  const A = testChain(1001n, 4, { label: "view list test", seed: Number(1001n) });
  const B = testChain(1002n, 8, { label: "view list test", seed: Number(1002n) });
  /** Views of A at every height 0..15, signed by the committee: those k apart connect to each other. */
  const honestA = new Map<number, SignedView>();
  let honestB5: SignedView;
  let honestB9: SignedView;

  before(async () => {
    for (let h = 0; h <= 15; h++) honestA.set(h, await signSynthetic(A, viewAt(A, h)));
    honestB5 = await signSynthetic(B, viewAt(B, 5));
    honestB9 = await signSynthetic(B, viewAt(B, 9));
  });
  const a = (height: number): SignedView => honestA.get(height)!;

  describe("offer", () => {
    it("takes a chain's first signed view as new, makes it the newest and bumps the version", async () => {
      const list = listOf(A, B);
      assert.equal(list.version, 0);
      assert.deepEqual(await list.offer(wire(a(3))), { result: "new" });
      assert.equal(list.version, 1);
      assert.deepEqual(list.newest(A.chainId), a(3));
      assert.equal(list.newest(B.chainId), undefined);
      assert.deepEqual(list.entries(), [a(3)]);
    });

    it("takes a newer view that connects as new, and counts every change in its version", async () => {
      const list = listOf(A, B);
      assert.equal((await list.offer(wire(a(3)))).result, "new"); // version 1: A
      assert.equal((await list.offer(wire(honestB5))).result, "new"); // version 2: B
      assert.equal((await list.offer(wire(a(7)))).result, "new"); // version 3: A again
      assert.equal(list.version, 3);
      assert.deepEqual(list.newest(A.chainId), a(7));

      const chainsOf = (views: SignedView[]) => views.map((s) => s.view.chainId).sort();
      assert.deepEqual(chainsOf(list.entries()), [A.chainId, B.chainId]);

      assert.equal((await list.offer(wire(honestB9))).result, "new");
      assert.equal(list.version, 4);
      assert.deepEqual(list.newest(B.chainId), honestB9);
    });

    for (const chain of [A, B]) {
      it(`takes a view exactly k = ${chain.k} ahead as new, and one k + 1 ahead as unverifiable from the newest known height`, async () => {
        const list = listOf(chain);
        const start = await signSynthetic(chain, viewAt(chain, 3));
        assert.equal((await list.offer(wire(start))).result, "new");
        const tooFar = await signSynthetic(chain, viewAt(chain, 3 + chain.k + 1));
        assert.deepEqual(await list.offer(wire(tooFar)), { result: "unverifiable", from: 3n });
        assert.equal(list.version, 1, "an unverifiable view does not enter");
        assert.deepEqual(list.newest(chain.chainId), start);

        const justFar = await signSynthetic(chain, viewAt(chain, 3 + chain.k));
        assert.deepEqual(await list.offer(wire(justFar)), { result: "new" });
        assert.deepEqual(await list.offer(wire(tooFar)), { result: "new" }, "connects once the list caught up");
        assert.equal(list.newest(chain.chainId)?.view.height, BigInt(3 + chain.k + 1));
      });
    }

    it("takes a view far ahead known to connect (its registry accepted it, bridging the gap; or its own committee certified it), and still catches one of another branch", async () => {
      const list = listOf(A);
      assert.equal((await list.offer(wire(await signSynthetic(A, viewAt(A, 3))))).result, "new");
      const far = await signSynthetic(A, viewAt(A, 3 + 4 * A.k));
      assert.deepEqual(await list.offer(wire(far), { connects: true }), { result: "new" });
      assert.deepEqual(list.newest(A.chainId), far);
      // Accepted or not, a signed view of another branch at a height the list covers is evidence.
      const fork = await signSynthetic(A, viewAt(A, 3 + 4 * A.k, branch(A, 3 + 4 * A.k)));
      const offer = await list.offer(wire(fork), { connects: true });
      assert.equal(offer.result, "conflict");
      const unsigned = { ...far, signatures: far.signatures.slice(0, THRESHOLD - 1) };
      assertInvalid(await listOf(A).offer(wire(unsigned), { connects: true }), /threshold/);
    });

    it("answers known for the same view again without verifying it again (replay with corrupted signatures)", async () => {
      const list = listOf(A);
      await list.offer(wire(a(3)));
      await list.offer(wire(a(7)));
      assert.deepEqual(await list.offer(wire(a(7))), { result: "known" });
      // The same view with signatures that verify for nobody: the list recognizes the view and does not look at them.
      const corrupted = { ...wire(a(7)), signatures: a(7).signatures.map(corrupt) };
      assert.deepEqual(await list.offer(corrupted), { result: "known" });
      const older = { ...wire(a(3)), signatures: [] };
      assert.deepEqual(await list.offer(older), { result: "known" }, "also for an older stored view");
      assert.equal(list.version, 2);
      assert.deepEqual(list.newest(A.chainId), a(7), "the stored signatures are kept, not replaced");
      // Proof that those signatures would not have verified: the same view is refused by a fresh list.
      assertInvalid(await listOf(A).offer(corrupted), /not in the committee|unreadable/);
    });

    it("answers known for an older view consistent with the list, and leaves the list as it was", async () => {
      const list = listOf(A);
      await list.offer(wire(a(7)));
      await list.offer(wire(a(11)));
      for (const h of [8, 3]) {
        assert.deepEqual(await list.offer(wire(a(h))), { result: "known" }, `height ${h}`);
      }
      assert.equal(list.version, 2);
      assert.deepEqual(list.newest(A.chainId), a(11));
    });

    it("answers conflict for a view of another branch at a height it covers (equivocating committee), with evidence that relates as conflicting", async () => {
      const list = listOf(A);
      await list.offer(wire(a(7)));
      const fork = await signSynthetic(A, viewAt(A, 7, branch(A, 6)));
      const offer = await list.offer(wire(fork));
      assert.equal(offer.result, "conflict");
      if (offer.result !== "conflict") return;
      assert.deepEqual(offer.evidence.a, a(7), "a: the stored view");
      assert.deepEqual(offer.evidence.b, fork, "b: the offered view");
      assert.equal(relate(offer.evidence.a.view, offer.evidence.b.view), "conflicting");
      assert.equal(list.version, 1, "the conflicting view does not enter");
      assert.deepEqual(list.newest(A.chainId), a(7));
    });

    it("answers conflict for a newer view whose folded history forks below its window (rewritten history)", async () => {
      const list = listOf(A);
      await list.offer(wire(a(7)));
      // Block 5 replaced: the view at 10 (window 7..10) carries a different acc, the only trace of the fork.
      const rewritten = await signSynthetic(A, viewAt(A, 10, branch(A, 5)));
      assert.deepEqual(rewritten.view.hashes, viewAt(A, 10).hashes, "same window as the honest view");
      const offer = await list.offer(wire(rewritten));
      assert.equal(offer.result, "conflict");
      if (offer.result === "conflict") assert.equal(relate(offer.evidence.a.view, offer.evidence.b.view), "conflicting");
    });

    it("answers conflict against an older stored view when the newest one cannot be related to it (fork behind the newest)", async () => {
      const list = listOf(A);
      for (const h of [3, 7, 11, 15]) assert.equal((await list.offer(wire(a(h)))).result, "new");
      // A fork of block 9: consistent with the stored view at 7, conflicting with the one at 11, too far from 15.
      const fork = await signSynthetic(A, viewAt(A, 9, branch(A, 9)));
      assert.equal(relate(a(15).view, fork.view), "unverifiable", "the newest alone would call it known");
      const offer = await list.offer(wire(fork));
      assert.equal(offer.result, "conflict");
      if (offer.result !== "conflict") return;
      assert.deepEqual(offer.evidence.a, a(11), "caught against the stored view at 11");
      assert.deepEqual(offer.evidence.b, fork);
      assert.equal(relate(offer.evidence.a.view, offer.evidence.b.view), "conflicting");
      assert.deepEqual(list.newest(A.chainId), a(15));
    });

    it("attack: a flood of valid but old views — none has its signatures checked, and the list is unchanged", async () => {
      const { list, verified } = countingList(A);
      for (const h of [7, 11, 15]) assert.equal((await list.offer(wire(a(h)))).result, "new");
      assert.deepEqual(verified, [7n, 11n, 15n]);
      // Old signed views of the chain's one history, each new to the list: heights its stored windows cover (consistent)
      // and heights below them all (too old to relate). A peer may send them by the thousand; each signature costs a recovery.
      const old = [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 13, 14].map(a);
      for (let round = 0; round < 20; round++) {
        for (const s of old) assert.deepEqual(await list.offer(wire(s)), { result: "known" }, `height ${s.view.height}`);
      }
      assert.deepEqual(verified, [7n, 11n, 15n], "no signature of an old view was checked");
      assert.equal(list.version, 3);
      assert.deepEqual(list.after(A.chainId, 0n), [a(7), a(11), a(15)]);
    });

    it("checks the signatures of an old view that conflicts: evidence when they hold, invalid when forged", async () => {
      const { list, verified } = countingList(A);
      for (const h of [7, 11, 15]) await list.offer(wire(a(h)));
      // Block 9 of another branch: below the newest, in the window of the stored view at 11.
      const fork = await signSynthetic(A, viewAt(A, 9, branch(A, 9)));
      assertInvalid(await list.offer({ ...wire(fork), signatures: fork.signatures.map(corrupt) }), /not in the committee|unreadable/);
      const offer = await list.offer(wire(fork));
      assert.equal(offer.result, "conflict");
      if (offer.result === "conflict") assert.deepEqual([offer.evidence.a, offer.evidence.b], [a(11), fork]);
      assert.deepEqual(verified, [7n, 11n, 15n, 9n, 9n], "the forged and the signed fork were both checked");
      assert.equal(list.version, 3);
    });

    it("checks the signatures of a newer view before it enters, and of one too far ahead before answering unverifiable", async () => {
      const { list, verified } = countingList(A);
      await list.offer(wire(a(3)));
      assertInvalid(await list.offer({ ...wire(a(7)), signatures: a(7).signatures.map(corrupt) }));
      assertInvalid(await list.offer({ ...wire(a(15)), signatures: a(15).signatures.map(corrupt) }), /not in the committee|unreadable/);
      assert.deepEqual(await list.offer(wire(a(15))), { result: "unverifiable", from: 3n });
      assert.deepEqual(verified, [3n, 7n, 15n, 15n]);
      assert.deepEqual(list.newest(A.chainId), a(3));
    });

    describe("refuses as invalid", () => {
      it("a view signed by fewer than the threshold (below-threshold attack)", async () => {
        const list = listOf(A);
        assertInvalid(await list.offer(wire(await signSynthetic(A, viewAt(A, 3), A.accounts.slice(0, THRESHOLD - 1)))), /2 signatures, threshold 3/);
        assertInvalid(await list.offer({ ...wire(a(3)), signatures: [] }), /threshold/);
        assert.equal(list.version, 0);
        assert.equal(list.newest(A.chainId), undefined);
      });

      it("a view with a signature from outside the committee (unknown-signer attack)", async () => {
        const list = listOf(A);
        const stranger = privateKeyToAccount(keccak256(stringToHex("stranger")));
        assertInvalid(await list.offer(wire(await signSynthetic(A, viewAt(A, 3), [...A.accounts.slice(0, 2), stranger]))), /not in the committee/);
        assertInvalid(await list.offer({ ...wire(a(3)), signatures: a(3).signatures.map(corrupt) }), /not in the committee|unreadable/);
        assert.equal(list.version, 0);
      });

      it("a view with one member's signature counted twice (duplicate-signer attack)", async () => {
        const list = listOf(A);
        const [first, second] = a(3).signatures;
        assertInvalid(await list.offer({ ...wire(a(3)), signatures: [first!, second!, second!] }), /distinct/);
        assert.equal(list.version, 0);
      });

      it("a view of a chain with no committee (unknown chain)", async () => {
        const list = listOf(A);
        assertInvalid(await list.offer(wire(honestB5)), /unknown chain 1002/);
        assert.deepEqual(list.entries(), []);
      });

      it("another chain's signed view relabelled as this chain's (cross-chain replay)", async () => {
        const C = testChain(1003n, A.k, { label: "view list test", seed: Number(1003n) });
        const list = listOf(A, C);
        const ofC = wire(await signSynthetic(C, viewAt(C, 7)));
        assert.equal((await listOf(C).offer(ofC)).result, "new", "valid as C's view");
        assertInvalid(await list.offer({ ...ofC, view: { ...ofC.view, chainId: A.chainId.toString() } }), /not in the committee/);
        assert.equal(list.version, 0);
      });

      it("malformed views: unreadable numbers, a window of the wrong size, a non-zero acc reaching genesis, bad signature bytes", async () => {
        const list = listOf(A);
        const good = wire(a(7));
        const malformed: unknown[] = [
          { ...good, view: { ...good.view, height: "seven" } },
          { ...good, view: { ...good.view, chainId: "0x" } },
          { ...good, view: undefined },
          { ...good, signatures: 42 },
          { view: { ...good.view, hashes: good.view.hashes.slice(1) }, signatures: (await signSynthetic(A, { ...a(7).view, hashes: a(7).view.hashes.slice(1) })).signatures },
          { ...good, signatures: good.signatures.map((s) => s.slice(0, 100)) },
        ];
        const young = viewAt(A, 2);
        const phantom = { ...young, acc: A.hashes[0]! };
        malformed.push(wire(await signSynthetic(A, phantom)));
        for (const m of malformed) assertInvalid(await list.offer(m as WireSignedView));
        assert.equal(list.version, 0);
        assert.deepEqual(list.entries(), []);
      });

      it("a view whose hash is not 32 bytes or whose height is out of range, answered not thrown (malformed-field attack)", async () => {
        const list = listOf(A);
        const good = wire(a(7));
        const fields = [
          { ...good, view: { ...good.view, hashes: [...good.view.hashes.slice(1), "0x1234" as Hex] } },
          { ...good, view: { ...good.view, height: "-1" } },
          { ...good, view: { ...good.view, height: (2n ** 64n).toString() } },
        ];
        for (const m of fields) {
          let offer: Offer | undefined;
          let thrown: unknown;
          try {
            offer = await list.offer(m);
          } catch (error) {
            thrown = error;
          }
          assert.ok(thrown === undefined, `offer() threw ${(thrown as Error | undefined)?.name}: ${(thrown as Error | undefined)?.message.split("\n")[0]}`);
          assertInvalid(offer!);
        }
      });
    });

    it("answers frozen after freeze(chainId) for any view of that chain, and keeps taking other chains", async () => {
      const list = listOf(A, B);
      await list.offer(wire(a(3)));
      assert.equal(list.isFrozen(A.chainId), false);
      list.freeze(A.chainId);
      assert.equal(list.isFrozen(A.chainId), true);
      assert.deepEqual(await list.offer(wire(a(7))), { result: "frozen" }, "a valid newer view");
      assert.deepEqual(await list.offer(wire(a(3))), { result: "frozen" }, "the stored view");
      const fork = await signSynthetic(A, viewAt(A, 7, branch(A, 6)));
      assert.deepEqual(await list.offer(wire(fork)), { result: "frozen" }, "a conflicting view");
      assert.deepEqual(await list.offer({ ...wire(a(7)), signatures: [] }), { result: "frozen" }, "an unsigned view");
      assert.equal(list.version, 1);
      assert.deepEqual(list.newest(A.chainId), a(3));
      assert.deepEqual(await list.offer(wire(honestB5)), { result: "new" });
    });
  });
});
