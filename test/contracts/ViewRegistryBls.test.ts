import assert from "node:assert/strict";
import { bls12_381 } from "@noble/curves/bls12-381.js";
import fc from "fast-check";
import { bytesToHex, concatHex, hexToBytes, keccak256, numberToHex, type Hex } from "viem";
import {
  BLS_POP_DST,
  BLS_VIEW_DST,
  aggregateViewSignatures,
  encodeG1,
  encodeG2,
  refuseViewAggregate,
  signViewBls,
  verifyProofOfPossession,
} from "../../relayer/view/blsScheme.js";
import { accThrough, type View } from "../../relayer/view/view.js";
import { viewDigest } from "../../relayer/view/viewDigest.js";
import { registerBls, registrationOfBls, signBls, syntheticChain, syntheticView, type SyntheticChain } from "../fixtures/blsCommittee.js";
import { BOND, deploySystem, type Chain } from "../fixtures/system.js";
import { revertOf, reverts } from "../fixtures/reverts.js";

/*
 * The attacker of these tests controls who submits what: any view, any signer bitmap, any bytes as the aggregate
 * signature or as a key and its proof, and the keys of colluding members that registered honestly. It does not know
 * the honest members' secret keys. Each refusal must leave the registry as it was.
 */

const { shortSignatures: scheme, G1, G2, fields } = bls12_381;



/** A G1 point on the curve y² = x³ + 4 outside the prime-order subgroup (the curve's cofactor is not 1). */
function g1OutsideSubgroup(): Hex {
  const { Fp } = fields;
  for (let x = 1n; ; x++) {
    const rhs = Fp.add(Fp.pow(x, 3n), 4n);
    let y: bigint;
    try {
      y = Fp.sqrt(rhs);
    } catch {
      continue;
    }
    const point = G1.Point.fromAffine({ x, y });
    if (!point.isTorsionFree()) return encodeG1(point);
  }
}

/** A G2 point on the twist y² = x³ + 4(1 + i) outside the prime-order subgroup. */
function g2OutsideSubgroup(): Hex {
  const { Fp2 } = fields;
  const b = Fp2.create({ c0: 4n, c1: 4n });
  for (let c0 = 1n; ; c0++) {
    const x = Fp2.create({ c0, c1: 1n });
    let y;
    try {
      y = Fp2.sqrt(Fp2.add(Fp2.pow(x, 3n), b));
    } catch {
      continue;
    }
    const point = G2.Point.fromAffine({ x, y });
    if (!point.isTorsionFree()) return encodeG2(point);
  }
}

/** A G1 encoding of a point off the curve: (1, 1). */
const G1_OFF_CURVE = concatHex([numberToHex(1n, { size: 64 }), numberToHex(1n, { size: 64 })]);
const G1_INFINITY: Hex = `0x${"00".repeat(128)}`;

/** The proof entry with its 128-byte signature replaced. */
const withSignature = (entry: Hex, signature: Hex): Hex => concatHex([`0x${entry.slice(2, 66)}`, signature]);
/** The proof entry with another bitmap. */
const withBitmap = (entry: Hex, bitmap: bigint): Hex => concatHex([numberToHex(bitmap, { size: 32 }), `0x${entry.slice(66)}`]);

describe("ViewRegistry with a BLS12-381 committee", function () {
  // A verifies three chains that exist only as data: D (q = 6, threshold 4), E (the same keys, r = 1/3: threshold 2,
  // so its views sum the signers' keys instead of subtracting the others') and F (q = 6, for freezes).
  let a: Chain;
  let d: SyntheticChain;
  let e: SyntheticChain;
  let f: SyntheticChain;
  let harness: Awaited<ReturnType<typeof deployHarness>>;
  const deployHarness = (chain: Chain) => chain.viem.deployContract("BlsHarness", []);

  before(async () => {
    [a] = (await deploySystem({ networks: ["chainA"] })) as [Chain];
    d = syntheticChain(7001n, 6);
    e = { ...syntheticChain(7002n, 6), members: d.members };
    f = syntheticChain(7003n, 6);
    await registerBls(a, d, { bond: BOND });
    await registerBls(a, e, { rNumerator: 1, rDenominator: 3 });
    await registerBls(a, f, { bond: BOND });
    harness = await deployHarness(a);
  });

  /** Submits `view` with `entry` as Mallory would (anyone may) and returns the result of the call. */
  async function submit(view: View, entry: Hex[]) {
    const { result } = await a.registry.simulate.submitView([view, entry, []]);
    await a.registry.write.submitView([view, entry, []]);
    return result;
  }

  /** Asserts nothing moved for `chain` on A: its height and word, and it is not frozen. */
  async function unchanged(chain: SyntheticChain, height: bigint, action: () => Promise<void>): Promise<void> {
    const before = await a.registry.read.accThrough([chain.chainId, height]);
    await action();
    assert.equal(await a.registry.read.latestHeight([chain.chainId]), height);
    assert.equal(await a.registry.read.accThrough([chain.chainId, height]), before);
    assert.equal(await a.registry.read.isFrozen([chain.chainId]), false);
  }

  describe("hash to G1", () => {
    it("equals @noble/curves' RFC 9380 hash_to_curve on random messages and tags (expand_message_xmd, MAP_FP_TO_G1)", async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(BLS_VIEW_DST, BLS_POP_DST, "QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"), async (message, dst) => {
          const onChain = await harness.read.hashToG1([bytesToHex(message), bytesToHex(new TextEncoder().encode(dst))]);
          assert.equal(onChain, encodeG1(G1.hashToCurve(message, { DST: dst }) as ReturnType<typeof scheme.hash>));
        }),
        { numRuns: 24 },
      );
    });
  });

  describe("proveBlsKey", () => {
    it("records a key with its proof of possession, and each chain's registration names the BLS scheme and its keys", async () => {
      for (const m of d.members) assert.equal(await a.registry.read.blsKeyProven([keccak256(m.key)]), true);
      assert.equal(await a.registry.read.isBlsCommittee([d.chainId]), true);
      assert.deepEqual(await a.registry.read.blsKeysOf([d.chainId]), d.members.map((m) => m.key));
      const [committee, threshold, k] = await a.registry.read.committeeOf([d.chainId]);
      assert.deepEqual(committee, d.members.map((m) => m.address));
      assert.equal(threshold, 4n);
      assert.equal(k, BigInt(d.k));
    });

    it("attack: a rogue key (an attacker's key minus an honest member's) has no proof of possession and cannot be proven", async () => {
      const attacker = scheme.keygen();
      const honest = G2.Point.fromAffine(scheme.getPublicKey(d.members[0]!.secretKey).toAffine());
      const rogue = encodeG2(attacker.publicKey.subtract(honest));
      // Its aggregate with the honest key is the attacker's own key, so the attacker could sign for both; with a proof
      // of possession required, the best proof the attacker can make is under its own key, which does not verify.
      const attempt = encodeG1(scheme.sign(scheme.hash(hexToBytes(rogue), BLS_POP_DST), attacker.secretKey));
      assert.equal(verifyProofOfPossession(rogue, attempt), false);
      await reverts(a.registry.write.proveBlsKey([rogue, attempt]), "ViewRegistryInvalidProofOfPossession");
      assert.equal(await a.registry.read.blsKeyProven([keccak256(rogue)]), false);
    });

    it("attack: a view signature offered as a proof of possession (another domain) is refused", async () => {
      const member = d.members[1]!;
      const signature = signViewBls(member.secretKey, syntheticView(d, 0n), d.gateway);
      const other = syntheticChain(7100n, 1).members[0]!;
      // A signature of the key's bytes under the view tag, not the proof-of-possession tag.
      const wrongTag = encodeG1(scheme.sign(scheme.hash(hexToBytes(other.key), BLS_VIEW_DST), other.secretKey));
      await reverts(a.registry.write.proveBlsKey([member.key, signature]), "ViewRegistryInvalidProofOfPossession");
      await reverts(a.registry.write.proveBlsKey([other.key, wrongTag]), "ViewRegistryInvalidProofOfPossession");
      assert.equal(await a.registry.read.blsKeyProven([keccak256(other.key)]), false);
    });

    it("attack: the point at infinity as a key with an infinite proof (it would verify every message) is refused", async () => {
      await reverts(a.registry.write.proveBlsKey([`0x${"00".repeat(256)}`, G1_INFINITY]), "ViewRegistryInfinityPoint");
    });

    it("attack: a key outside G2's subgroup, or off the curve, is refused by the pairing precompile", async () => {
      const other = syntheticChain(7101n, 1).members[0]!;
      await reverts(a.registry.write.proveBlsKey([g2OutsideSubgroup(), other.proof]), "ViewRegistryInvalidPoint");
      const offCurve = concatHex([other.key.slice(0, 2 + 2 * 192) as Hex, numberToHex(1n, { size: 64 })]);
      await reverts(a.registry.write.proveBlsKey([offCurve, other.proof]), "ViewRegistryInvalidPoint");
      await reverts(a.registry.write.proveBlsKey([other.key, g1OutsideSubgroup()]), "ViewRegistryInvalidPoint");
    });
  });

  describe("registerBlsChain", () => {
    it("attack: a committee naming a key without a proof of possession (rogue-key attack) is refused", async () => {
      const g = syntheticChain(7200n, 4);
      for (const m of g.members.slice(0, 3)) await a.registry.write.proveBlsKey([m.key, m.proof]);
      const genesis = syntheticView(g, 0n);
      await reverts(
        a.registry.write.registerBlsChain([registrationOfBls(g), g.members.map((m) => m.key), genesis, signBls(g, genesis)]),
        "ViewRegistryKeyWithoutProof",
        [3n],
      );
    });

    it("attack: one key listed for two members (one holder counted twice) is refused", async () => {
      const g = syntheticChain(7201n, 4);
      for (const m of g.members) await a.registry.write.proveBlsKey([m.key, m.proof]);
      const keys = g.members.map((m) => m.key);
      keys[2] = keys[1]!;
      const genesis = syntheticView(g, 0n);
      await reverts(a.registry.write.registerBlsChain([registrationOfBls(g), keys, genesis, signBls(g, genesis)]), "ViewRegistryDuplicateKey", [2n]);
    });
  });

  describe("submitView", () => {
    it("accepts a view signed by exactly the threshold, and one signed by all (the stored aggregate minus the non-signers)", async () => {
      const first = syntheticView(d, 5n);
      assert.equal(await submit(first, signBls(d, first, [0, 2, 3, 5])), 0);
      assert.equal(await a.registry.read.accThrough([d.chainId, 5n]), accThrough(first));
      const second = syntheticView(d, 9n);
      assert.equal(await submit(second, signBls(d, second)), 0);
      assert.equal(await a.registry.read.latestHeight([d.chainId]), 9n);
    });

    it("accepts a view signed by fewer than half (r = 1/3: the signers' negated keys summed)", async () => {
      const view = syntheticView(e, 4n);
      assert.equal(refuseViewAggregate(view, signBls(e, view, [1, 4])[0]!, e.members.map((m) => m.key), 2, e.gateway), undefined);
      assert.equal(await submit(view, signBls(e, view, [1, 4])), 0);
      assert.equal(await a.registry.read.latestHeight([e.chainId]), 4n);
    });

    it("attack: any signer bitmap below the threshold is refused, however the signers are chosen", async () => {
      const view = syntheticView(d, 20n);
      const height = await a.registry.read.latestHeight([d.chainId]);
      await unchanged(d, height, async () => {
        await fc.assert(
          fc.asyncProperty(fc.subarray([0, 1, 2, 3, 4, 5], { maxLength: 3 }), async (signers) => {
            const entry = signers.length === 0 ? withBitmap(signBls(d, view, [0])[0]!, 0n) : signBls(d, view, signers)[0]!;
            await reverts(a.registry.write.submitView([view, [entry], []]), "ViewRegistryBelowThreshold", [BigInt(signers.length), 4n]);
          }),
          { numRuns: 12 },
        );
      });
    });

    it("attack: a bitmap claiming more signers than signed, or a signer beyond the committee, is refused", async () => {
      const view = syntheticView(d, 21n);
      const height = await a.registry.read.latestHeight([d.chainId]);
      await unchanged(d, height, async () => {
        // Three colluders sign and claim a fourth, honest member.
        const entry = signBls(d, view, [0, 1, 2])[0]!;
        await reverts(a.registry.write.submitView([view, [withBitmap(entry, 0b1111n)], []]), "ViewRegistryInvalidSignature", [0n]);
        await reverts(a.registry.write.submitView([view, [withBitmap(entry, 0b1000111n)], []]), "ViewRegistrySignerOutsideCommittee", [0b1000111n]);
      });
    });

    it("attack: an aggregate over another view, another domain or another tag is refused", async () => {
      const view = syntheticView(d, 22n);
      const height = await a.registry.read.latestHeight([d.chainId]);
      const all = d.members.map((_, i) => i);
      const otherTag = aggregateViewSignatures(
        new Map(all.map((i) => [i, encodeG1(scheme.sign(scheme.hash(hexToBytes(viewDigest(view, d.gateway)), BLS_POP_DST), d.members[i]!.secretKey))])),
      );
      await unchanged(d, height, async () => {
        await reverts(a.registry.write.submitView([view, signBls(d, syntheticView(d, 23n)), []]), "ViewRegistryInvalidSignature", [0n]);
        await reverts(a.registry.write.submitView([view, signBls(d, view, all, e.gateway), []]), "ViewRegistryInvalidSignature", [0n]);
        await reverts(a.registry.write.submitView([view, [otherTag], []]), "ViewRegistryInvalidSignature", [0n]);
      });
    });

    it("attack: a view of another chain signed by the same keys (E's aggregate relabelled as D's) is refused", async () => {
      const ofE = syntheticView(e, 24n);
      const relabelled = { ...ofE, chainId: d.chainId };
      const height = await a.registry.read.latestHeight([d.chainId]);
      await unchanged(d, height, async () => {
        await reverts(a.registry.write.submitView([relabelled, signBls(e, ofE), []]), "ViewRegistryInvalidSignature", [0n]);
      });
    });

    it("attack: a signature at infinity, off the curve or outside G1's subgroup is refused", async () => {
      const view = syntheticView(d, 25n);
      const entry = signBls(d, view)[0]!;
      const height = await a.registry.read.latestHeight([d.chainId]);
      await unchanged(d, height, async () => {
        await reverts(a.registry.write.submitView([view, [withSignature(entry, G1_INFINITY)], []]), "ViewRegistryInfinityPoint");
        await reverts(a.registry.write.submitView([view, [withSignature(entry, G1_OFF_CURVE)], []]), "ViewRegistryInvalidPoint");
        await reverts(a.registry.write.submitView([view, [withSignature(entry, g1OutsideSubgroup())], []]), "ViewRegistryInvalidPoint");
      });
    });

    it("attack: ECDSA signatures, two entries, or a cut entry are refused as malformed", async () => {
      const view = syntheticView(d, 26n);
      const entry = signBls(d, view)[0]!;
      const height = await a.registry.read.latestHeight([d.chainId]);
      await unchanged(d, height, async () => {
        await reverts(a.registry.write.submitView([view, [entry, entry], []]), "ViewRegistryMalformedAggregate");
        await reverts(a.registry.write.submitView([view, [entry.slice(0, -2) as Hex], []]), "ViewRegistryMalformedAggregate");
        await reverts(a.registry.write.submitView([view, [`0x${"1b".repeat(65)}`], []]), "ViewRegistryMalformedAggregate");
      });
    });

    it("attack: whoever signs and whatever bitmap is claimed, the relayer's check and the registry agree (accepted only when the bitmap names exactly the signers, at least the threshold)", async () => {
      // A view that connects to the accepted one by its window alone, so that only its aggregate decides (a view too far
      // ahead would be refused for its missing bridge whatever its signers).
      const height = await a.registry.read.latestHeight([d.chainId]);
      const view = syntheticView(d, height + 4n);
      const keys = d.members.map((m) => m.key);
      const shares = new Map(d.members.map((m, i) => [i, signViewBls(m.secretKey, view, d.gateway)]));
      await unchanged(d, height, async () => {
        await fc.assert(
          // Half the time the bitmap names exactly the signers (a random one rarely does), so that accepted cases are tried too.
          fc.asyncProperty(fc.subarray([0, 1, 2, 3, 4, 5], { minLength: 1 }), fc.option(fc.integer({ min: 0, max: 63 }), { nil: undefined, freq: 1 }), async (signers, random) => {
            const exactBits = signers.reduce((bits, i) => bits | (1 << i), 0);
            const claimed = random ?? exactBits;
            const entry = withBitmap(aggregateViewSignatures(new Map(signers.map((i) => [i, shares.get(i)!]))), BigInt(claimed));
            const exact = claimed === exactBits;
            const expected = exact && signers.length >= 4;
            assert.equal(refuseViewAggregate(view, entry, keys, 4, d.gateway) === undefined, expected, `relayer, signers ${signers}, bitmap ${claimed}`);
            const onChain = await a.registry.simulate.submitView([view, [entry], []]).then(
              () => true,
              () => false,
            );
            assert.equal(onChain, expected, `registry, signers ${signers}, bitmap ${claimed}`);
          }),
          { numRuns: 20 },
        );
      });
    });

    it("attack: corrupted aggregate bytes are never accepted (and the relayer's check refuses them as well)", async () => {
      const view = syntheticView(d, 27n);
      const entry = signBls(d, view)[0]!;
      const keys = d.members.map((m) => m.key);
      const height = await a.registry.read.latestHeight([d.chainId]);
      await unchanged(d, height, async () => {
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 32, max: 159 }), fc.integer({ min: 1, max: 255 }), async (at, flip) => {
            const bytes = hexToBytes(entry);
            bytes[at] = bytes[at]! ^ flip;
            const corrupted = bytesToHex(bytes);
            assert.notEqual(refuseViewAggregate(view, corrupted, keys, 4, d.gateway), undefined);
            await assert.rejects(a.registry.write.submitView([view, [corrupted], []]), (error: unknown) => {
              assert.ok(["ViewRegistryInvalidPoint", "ViewRegistryInvalidSignature"].includes(revertOf(error)?.errorName ?? ""), String(error));
              return true;
            });
          }),
          { numRuns: 16 },
        );
      });
    });
  });

  describe("forks", () => {
    it("freezes F on two aggregate-signed conflicting views (submitForkEvidence), and on a conflicting submitView", async () => {
      const honest = syntheticView(f, 12n);
      const forked = syntheticView(f, 12n, { name: "fork", from: 11n });
      await a.registry.write.submitForkEvidence([honest, signBls(f, honest, [0, 1, 2, 3]), forked, signBls(f, forked, [2, 3, 4, 5])]);
      assert.equal(await a.registry.read.isFrozen([f.chainId]), true);
      assert.equal(await a.registry.read.bondOf([f.chainId]), 0n);

      // D accepted a view at 9; a signed view at 9 of another history freezes it through submitView.
      const rewrite = syntheticView(d, 9n, { name: "rewrite", from: 8n });
      assert.equal(await submit(rewrite, signBls(d, rewrite)), 2);
      assert.equal(await a.registry.read.isFrozen([d.chainId]), true);
    });

    it("attack: evidence whose second view is signed below the threshold (framing with a minority) is refused", async () => {
      const honest = syntheticView(e, 30n);
      const forked = syntheticView(e, 30n, { name: "minority", from: 29n });
      await reverts(
        a.registry.write.submitForkEvidence([honest, signBls(e, honest, [0, 1]), forked, signBls(e, forked, [3])]),
        "ViewRegistryBelowThreshold",
        [1n, 2n],
      );
      assert.equal(await a.registry.read.isFrozen([e.chainId]), false);
    });
  });
});
