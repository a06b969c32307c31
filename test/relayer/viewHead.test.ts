import assert from "node:assert/strict";
import fc from "fast-check";
import type { Hex } from "viem";
import { buildView, viewStart, type View } from "../../relayer/view/view.js";
import { headOf, malformedHead, viewFromHead, type SignedViewHead } from "../../relayer/view/viewHead.js";
import { prng, randomHash } from "../fixtures/syntheticChain.js";

// A view head is a signed view without the part of its window the receiver holds (viewHead.ts). What a receiver must
// never do: make of a head another view than the one the sender signed, or blame the sender when it holds another history.

const LENGTH = 48;
const chainOf = (seed: number): Hex[] => {
  const random = prng(seed);
  return Array.from({ length: LENGTH }, () => randomHash(random));
};
const viewOf = (hashes: readonly Hex[], k: number, height: number): View => buildView({ chainId: 7n, k, blockHashes: hashes.slice(0, height + 1) });
const SIGNATURES: Hex[] = [`0x${"1b".repeat(65)}`];

/** A chain, a window size, a view height and a base inside its window, and the heights of the views a receiver holds. */
const caseArb = fc
  .record({ seed: fc.nat(), k: fc.integer({ min: 2, max: 12 }), height: fc.integer({ min: 1, max: LENGTH - 1 }), baseAt: fc.nat(), held: fc.uniqueArray(fc.integer({ min: 0, max: LENGTH - 1 }), { maxLength: 8 }) })
  .filter(({ k, height }) => Math.min(k, height + 1) >= 2) // a window of one hash has no base inside it
  .map((c) => {
    const start = Number(viewStart(viewOf(chainOf(c.seed), c.k, c.height)));
    return { ...c, base: start + (c.baseAt % (c.height - start)) };
  });

describe("view heads", () => {
  it("make the signed view whole again from any held view of the same history that reaches from its window's start to its base, and from no other (fast-check)", () => {
    fc.assert(
      fc.property(caseArb, ({ seed, k, height, base, held }) => {
        const hashes = chainOf(seed);
        const view = viewOf(hashes, k, height);
        const head = headOf({ view, signatures: SIGNATURES }, BigInt(base))!;
        assert.equal(malformedHead(head, k), undefined, "a head a sender makes is well formed");
        assert.equal(head.hashes.length, height - base, "it carries the hashes above the base, no more");
        const stored = held.sort((x, y) => x - y).map((h) => viewOf(hashes, k, h));
        const usable = stored.some((s) => viewStart(s) <= viewStart(view) && s.height >= head.base);
        const rebuilt = viewFromHead(head, stored, k);
        if (usable) assert.deepEqual(rebuilt, view);
        else assert.equal(rebuilt, "no base");
      }),
      { numRuns: 300 },
    );
  });

  it("attack: a head of another history (a fork at or below its height) is made into no view but the sender's, and into none when the receiver's views see the fork (fast-check)", () => {
    fc.assert(
      fc.property(caseArb, fc.nat(), fc.nat(), ({ seed, k, height, base, held }, forkAt, fill) => {
        const hashes = chainOf(seed);
        // The receiver's chain differs from the sender's at one height at or below the view's: a fork.
        const fork = forkAt % (height + 1);
        const other = [...hashes];
        other[fork] = randomHash(prng(fill + 1));
        const view = viewOf(hashes, k, height);
        const head = headOf({ view, signatures: SIGNATURES }, BigInt(base))!;
        const stored = held.sort((x, y) => x - y).map((h) => viewOf(other, k, h));
        const rebuilt = viewFromHead(head, stored, k);
        // A fork above every height the receiver holds is beyond its sight: the head then stands for the sender's view,
        // which the view list relates to its own as it would the whole view.
        if (typeof rebuilt !== "string") assert.deepEqual(rebuilt, view, "a view made whole is the sender's, never a mix of two histories");
        // A held view sees the fork when its window reaches the base and the fork lies at or below it (the accumulator
        // through the base), when the head's hashes reach below its window and the fork lies there (its accumulator), or
        // when the fork lies among the heights both hold.
        const sees = stored.some((s) => {
          const below = viewStart(s) - 1n;
          return (base >= below && base <= s.height && fork <= base) || (below > base && below <= height && fork <= below) || (fork > base && fork >= viewStart(s) && fork <= s.height);
        });
        if (sees) assert.equal(rebuilt, "other history");
      }),
      { numRuns: 300 },
    );
  });

  it("are made only with a base inside the view's window and below its height", () => {
    const hashes = chainOf(1);
    const view = viewOf(hashes, 5, 20); // window 16..20
    assert.equal(headOf({ view, signatures: SIGNATURES }, 15n), undefined, "below the window: the whole window is needed");
    assert.equal(headOf({ view, signatures: SIGNATURES }, 20n), undefined, "at its height: nothing new to send");
    assert.deepEqual(headOf({ view, signatures: SIGNATURES }, 16n)?.hashes, hashes.slice(17, 21));
  });

  it("attack: a head that is not one a sender makes is refused, saying why", () => {
    const hashes = chainOf(2);
    const head = headOf({ view: viewOf(hashes, 5, 20), signatures: SIGNATURES }, 18n)!;
    const cases: [SignedViewHead, RegExp][] = [
      [{ ...head, hashes: head.hashes.slice(1) }, /a view head at 20 with base 18 carries 1 hashes/],
      [{ ...head, base: 20n, hashes: [] }, /with base 20/],
      [{ ...head, base: 25n }, /with base 25/],
      [{ ...head, base: 15n, hashes: hashes.slice(16, 21) }, /fewer hashes than the window/],
    ];
    for (const [bad, reason] of cases) assert.match(malformedHead(bad, 5) ?? "", reason);
  });
});
