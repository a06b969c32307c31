import assert from "node:assert/strict";
import {
  concat,
  getAddress,
  keccak256,
  numberToHex,
  parseEventLogs,
  size,
  slice,
  stringToHex,
  hexToBigInt,
  type Address,
  type Hash,
  type Hex,
  type Log,
} from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { buildView, type View } from "../../relayer/view/view.js";
import { orderSignatures } from "../../relayer/view/signView.js";
import { VIEW_TYPES, viewDomain } from "../../relayer/view/viewDigest.js";
import {
  BOND,
  K,
  SLASH_REWARD_BPS,
  committeeOf,
  deploySystem,
  mine,
  registrationOf,
  relayView,
  sign,
  viewOf,
  type Chain,
} from "../fixtures/system.js";

/** Order of the secp256k1 group: (r, s) and (r, n − s) are the two encodings of one signature. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** What a fork prover earns from a slashed bond, and what is kept for the harmed users. */
const REWARD = (BOND * SLASH_REWARD_BPS) / 10_000n;
const COMPENSATION = BOND - REWARD;
/** The threshold of a committee of 4 at r = 2/3: ceil(8/3). */
const THRESHOLD = 3;

// ---------------------------------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------------------------------

/** The decoded custom error of a reverted viem call, found anywhere on its cause chain. */
function revertOf(error: unknown): { errorName?: string; args?: readonly unknown[] } | undefined {
  for (let e = error as { cause?: unknown; data?: { errorName?: string; args?: readonly unknown[] } } | undefined; e; e = e.cause as typeof e) {
    if (e.data?.errorName) return e.data;
  }
  return undefined;
}

/** Asserts that `promise` reverts with the custom error `name` and, when given, exactly `args`. */
async function reverts(promise: Promise<unknown>, name: string, args?: readonly unknown[]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    const revert = revertOf(error);
    assert.equal(revert?.errorName, name, `expected ${name}, got: ${String((error as Error)?.message ?? error).slice(0, 400)}`);
    if (args) assert.deepEqual(revert?.args, args);
    return true;
  });
}

/** Block hashes of heights 0..height straight from the node, bypassing the fixture's cache (which a revert makes stale). */
async function freshHashes(chain: Chain, height: bigint): Promise<Hex[]> {
  const heights = Array.from({ length: Number(height) + 1 }, (_, h) => BigInt(h));
  return Promise.all(heights.map(async (blockNumber) => (await chain.publicClient.getBlock({ blockNumber })).hash));
}

/** The view of `chain` at `height` built by Algorithm 1 from hashes fetched now. */
async function freshView(chain: Chain, height: bigint): Promise<View> {
  return buildView({ chainId: chain.chainId, k: K, blockHashes: await freshHashes(chain, height) });
}

/** `view` with the hash at `index` replaced: a well-formed view of a block that never existed. */
function withForgedHash(view: View, index: number): View {
  const hashes = [...view.hashes];
  hashes[index] = keccak256(concat([hashes[index]!, stringToHex("forged")]));
  return { ...view, hashes };
}

/** `view` with another accumulator: the same window over a different history. */
function withForgedAcc(view: View): View {
  return { ...view, acc: keccak256(concat([view.acc, stringToHex("forged history")])) };
}

/** The malleable twin of a 65-byte signature: (r, n − s, v ^ 1), valid for plain ecrecover and the same signer. */
function malleableTwin(signature: Hex): Hex {
  assert.equal(size(signature), 65);
  const s = hexToBigInt(slice(signature, 32, 64));
  const v = Number(hexToBigInt(slice(signature, 64, 65)));
  assert.ok(v === 27 || v === 28, `unexpected v ${v}`);
  return concat([slice(signature, 0, 32), numberToHex(SECP256K1_N - s, { size: 32 }), numberToHex(v === 27 ? 28 : 27, { size: 1 })]);
}

/** Signatures of `signers` over `view` under an arbitrary EIP-712 domain (chainId, verifying Gateway), in registry order. */
async function signUnderDomain(view: View, signers: readonly PrivateKeyAccount[], domain: { chainId: bigint; gateway: Address }): Promise<Hex[]> {
  const signed = await Promise.all(
    signers.map(async (account) => ({
      signer: account.address,
      signature: await account.signTypedData({ domain: viewDomain(domain.chainId, domain.gateway), types: VIEW_TYPES, primaryType: "View", message: view }),
    })),
  );
  return orderSignatures(signed);
}

/** Keys that belong to no committee. */
function outsiders(count: number): PrivateKeyAccount[] {
  return Array.from({ length: count }, (_, i) => privateKeyToAccount(keccak256(stringToHex(`outsider/${i}`))));
}

/**
 * A fork attack on `chain`: from its head, two branches of `blocks` blocks each (made with evm_snapshot/evm_revert;
 * the second branch opens with a transaction the first lacks, so their hashes differ). Returns the view of each branch
 * at the same height. The chain is left on the second branch.
 */
async function forkChain(chain: Chain, blocks: number): Promise<{ honest: View; forked: View }> {
  const provider = chain.conn.provider;
  const snapshot = await provider.request({ method: "evm_snapshot" });
  await mine(chain, blocks);
  const height = await chain.publicClient.getBlockNumber();
  const honest = await freshView(chain, height);
  assert.equal(await provider.request({ method: "evm_revert", params: [snapshot] }), true);
  const mallory = chain.users.mallory;
  await mallory.sendTransaction({ to: mallory.account.address, value: 1n });
  await mine(chain, blocks - 1);
  assert.equal(await chain.publicClient.getBlockNumber(), height);
  const forked = await freshView(chain, height);
  assert.notDeepEqual(forked.hashes, honest.hashes);
  return { honest, forked };
}

/** The registry of `verifier`, called by Mallory (any account may submit views and evidence). */
async function registryAs(verifier: Chain) {
  return verifier.viem.getContractAt("ViewRegistry", verifier.registry.address, { client: { wallet: verifier.users.mallory } });
}

/** Runs a write from `verifier`'s Mallory and returns the receipt and her balance change net of gas. */
async function asMallory(verifier: Chain, send: (registry: Awaited<ReturnType<typeof registryAs>>) => Promise<Hash>) {
  const mallory = verifier.users.mallory.account.address;
  const before = await verifier.publicClient.getBalance({ address: mallory });
  const hash = await send(await registryAs(verifier));
  const receipt = await verifier.publicClient.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, "success");
  const after = await verifier.publicClient.getBalance({ address: mallory });
  return { receipt, gain: after - before + receipt.gasUsed * receipt.effectiveGasPrice };
}

/** Everything the verifier stores about `remote`: newest view, bond, compensation and the frozen flag. */
async function stateOf(verifier: Chain, remote: Chain) {
  const r = verifier.registry.read;
  const id = remote.chainId;
  return {
    latestView: await r.latestView([id]),
    bond: await r.bondOf([id]),
    compensation: await r.compensationOf([id]),
    frozen: await r.isFrozen([id]),
  };
}

/** Asserts that `remote` is frozen on `verifier` with its whole bond slashed exactly once. */
async function assertSlashedOnce(verifier: Chain, remote: Chain): Promise<void> {
  assert.equal(await verifier.registry.read.isFrozen([remote.chainId]), true);
  assert.equal(await verifier.registry.read.bondOf([remote.chainId]), 0n);
  assert.equal(await verifier.registry.read.compensationOf([remote.chainId]), COMPENSATION);
  const frozen = await verifier.publicClient.getContractEvents({
    address: verifier.registry.address,
    abi: verifier.registry.abi,
    eventName: "ChainFrozen",
    args: { chainId: remote.chainId },
    fromBlock: 0n,
  });
  assert.equal(frozen.length, 1);
}

/** The single ChainFrozen event of a receipt. */
function chainFrozenIn(verifier: Chain, logs: Log[]) {
  const events = parseEventLogs({ abi: verifier.registry.abi, logs, eventName: "ChainFrozen" });
  assert.equal(events.length, 1);
  return events[0]!.args;
}

// ---------------------------------------------------------------------------------------------------------------------

describe("ViewRegistry", () => {
  // A verifies B (and C); every chain is registered on every other with BOND.
  let a: Chain;
  let b: Chain;
  let c: Chain;
  beforeEach(async () => {
    [a, b, c] = (await deploySystem({ networks: ["chainA", "chainB", "chainC"], q: 4 })) as [Chain, Chain, Chain];
  });

  /** B's view `ahead` heights past what A stored, signed by `signers` (default: B's whole committee). */
  async function nextViewOfB(ahead = 3n, signers = b.committee): Promise<{ view: View; signatures: Hex[]; stored: bigint }> {
    const stored = await a.registry.read.latestHeight([b.chainId]);
    const head = await b.publicClient.getBlockNumber();
    if (head < stored + ahead) await mine(b, Number(stored + ahead - head));
    const view = await viewOf(b, K, stored + ahead);
    return { view, signatures: await sign(b, view, signers), stored };
  }

  /** Freezes B on A with fork evidence (a real view and one with a forged hash, both signed by B's committee). */
  async function freezeB(): Promise<void> {
    const { view, signatures } = await nextViewOfB();
    const forged = withForgedHash(view, view.hashes.length - 1);
    await a.registry.write.submitForkEvidence([view, signatures, forged, await sign(b, forged)]);
    assert.equal(await a.registry.read.isFrozen([b.chainId]), true);
  }

  describe("submitView", () => {
    describe("accepting", () => {
      it("accepts a view that connects: advances the height and records the real block hash of every new height", async () => {
        const { view, signatures, stored } = await nextViewOfB(5n);
        const registry = await registryAs(a);
        assert.equal((await registry.simulate.submitView([view, signatures])).result, true);
        const { receipt } = await asMallory(a, (r) => r.write.submitView([view, signatures]));

        assert.equal(await a.registry.read.latestHeight([b.chainId]), stored + 5n);
        for (let h = stored + 1n; h <= view.height; h++) {
          const real = (await b.publicClient.getBlock({ blockNumber: h })).hash;
          assert.equal(await a.registry.read.blockHashAt([b.chainId, h]), real, `height ${h}`);
        }
        assert.equal(await a.registry.read.blockHashAt([b.chainId, view.height + 1n]), `0x${"00".repeat(32)}`);
        assert.deepEqual(await a.registry.read.latestView([b.chainId]), view);

        const accepted = parseEventLogs({ abi: a.registry.abi, logs: receipt.logs, eventName: "ViewAccepted" });
        assert.equal(accepted.length, 1);
        assert.deepEqual(accepted[0]!.args, { chainId: b.chainId, height: view.height, acc: view.acc, blockHash: view.hashes.at(-1)! });
      });

      it("agrees byte for byte with Algorithm 1 once the window slides (acc folds every height below it)", async () => {
        await mine(b, 3 * K + 5);
        const height = await relayView(b, a); // k heights per view: exactly the largest gap allowed
        const expected = await viewOf(b, K, height);
        assert.notEqual(expected.acc, `0x${"00".repeat(32)}`);
        assert.equal(expected.hashes.length, K);
        assert.deepEqual(await a.registry.read.latestView([b.chainId]), expected);
        const real = await freshHashes(b, height);
        for (let h = 0n; h <= height; h++) {
          assert.equal(await a.registry.read.blockHashAt([b.chainId, h]), real[Number(h)], `height ${h}`);
        }
      });

      it("accepts a view signed by exactly the threshold of the committee", async () => {
        const { view, signatures } = await nextViewOfB(2n, b.committee.slice(1, 1 + THRESHOLD));
        await a.registry.write.submitView([view, signatures]);
        assert.deepEqual(await a.registry.read.latestView([b.chainId]), view);
      });
    });

    describe("signatures", () => {
      it("refuses a view signed by fewer than the threshold (below-threshold attack)", async () => {
        const before = await stateOf(a, b);
        const { view, signatures } = await nextViewOfB(3n, b.committee.slice(0, THRESHOLD - 1));
        await reverts(a.registry.write.submitView([view, signatures]), "ViewRegistryBelowThreshold", [BigInt(THRESHOLD - 1), BigInt(THRESHOLD)]);
        assert.deepEqual(await stateOf(a, b), before);
      });

      it("refuses one member's signature counted twice (duplicate-signer attack)", async () => {
        const before = await stateOf(a, b);
        const { view, signatures } = await nextViewOfB(3n, b.committee.slice(0, THRESHOLD - 1));
        const padded = [signatures[0]!, signatures[0]!, signatures[1]!];
        await reverts(a.registry.write.submitView([view, padded]), "ViewRegistryDuplicateSigner", [b.committee[0]!.address]);
        assert.deepEqual(await stateOf(a, b), before);
      });

      it("refuses signatures out of ascending signer order (duplicate hidden by reordering)", async () => {
        const { view, signatures } = await nextViewOfB();
        await reverts(a.registry.write.submitView([view, [...signatures].reverse()]), "ViewRegistrySignersNotSorted", [1n]);
      });

      it("refuses a signature of a key outside the committee (unknown-signer attack)", async () => {
        const [outsider] = outsiders(1);
        const { view } = await nextViewOfB();
        const signatures = await sign(b, view, [...b.committee.slice(0, THRESHOLD - 1), outsider!]);
        await reverts(a.registry.write.submitView([view, signatures]), "ViewRegistryUnknownSigner", [outsider!.address]);
      });

      it("refuses the malleable twin of a valid signature (signature-malleability attack)", async () => {
        const { view, signatures } = await nextViewOfB(3n, b.committee.slice(0, THRESHOLD));
        const twin = malleableTwin(signatures[1]!);
        assert.notEqual(twin, signatures[1]);
        await reverts(a.registry.write.submitView([view, [signatures[0]!, twin, signatures[2]!]]), "ViewRegistryInvalidSignature", [1n]);
        // The original encoding is accepted: only the re-encoding was refused.
        await a.registry.write.submitView([view, signatures]);
        assert.equal(await a.registry.read.latestHeight([b.chainId]), view.height);
      });

      it("refuses a view of B signed by chain C's committee (foreign-committee attack)", async () => {
        const { view } = await nextViewOfB();
        const signatures = await sign(b, view, c.committee); // B's domain, C's keys
        await reverts(a.registry.write.submitView([view, signatures]), "ViewRegistryUnknownSigner", [c.committee[0]!.address]);
      });

      it("refuses chain C's signed view relabelled as a view of B (cross-chain replay)", async () => {
        await mine(c, 3);
        const viewOfC = await viewOf(c, K);
        const signaturesOfC = await sign(c, viewOfC);
        assert.equal((await a.registry.simulate.submitView([viewOfC, signaturesOfC])).result, true); // valid for C
        await reverts(a.registry.write.submitView([{ ...viewOfC, chainId: b.chainId }, signaturesOfC]), "ViewRegistryUnknownSigner");
      });

      it("refuses B's committee signatures made under chain C's EIP-712 domain (domain-confusion replay)", async () => {
        const { view } = await nextViewOfB();
        const signatures = await signUnderDomain(view, b.committee, { chainId: c.chainId, gateway: c.gateway.address });
        await reverts(a.registry.write.submitView([view, signatures]), "ViewRegistryUnknownSigner");
      });

      it("refuses signatures made for another deployment's Gateway (cross-deployment replay)", async () => {
        // A second deployment of the protocol on chain B: right chainId, another Gateway in the domain.
        const other = await b.viem.deployContract("Gateway", [b.users.deployer.account.address, b.registry.address, 0n]);
        assert.notEqual(getAddress(other.address), getAddress(b.gateway.address));
        const { view } = await nextViewOfB();
        const signatures = await sign(b, view, b.committee, other.address);
        await reverts(a.registry.write.submitView([view, signatures]), "ViewRegistryUnknownSigner");
        assert.equal(await a.registry.read.isFrozen([b.chainId]), false);
      });
    });

    describe("connect rule", () => {
      it("refuses a view more than k heights past the stored one (unverifiable gap: its acc cannot be checked)", async () => {
        const { view, signatures, stored } = await nextViewOfB(BigInt(K) + 1n);
        await reverts(a.registry.write.submitView([view, signatures]), "ViewRegistryGapTooLarge", [stored, stored + BigInt(K) + 1n, BigInt(K)]);
        assert.equal(await a.registry.read.latestHeight([b.chainId]), stored);
        // Exactly k past connects.
        const reachable = await viewOf(b, K, stored + BigInt(K));
        await a.registry.write.submitView([reachable, await sign(b, reachable)]);
        assert.equal(await a.registry.read.latestHeight([b.chainId]), stored + BigInt(K));
      });

      it("refuses a view with the wrong number of hashes (malformed-window attack)", async () => {
        const { view } = await nextViewOfB();
        const short = { ...view, hashes: view.hashes.slice(1) };
        await reverts(a.registry.write.submitView([short, await sign(b, short)]), "ViewRegistryMalformedView", [view.height, BigInt(short.hashes.length)]);
        const long = { ...view, hashes: [view.hashes[0]!, ...view.hashes] };
        await reverts(a.registry.write.submitView([long, await sign(b, long)]), "ViewRegistryMalformedView", [view.height, BigInt(long.hashes.length)]);
      });

      it("refuses a view whose window reaches height 0 but carries a non-zero acc (phantom history)", async () => {
        const { view } = await nextViewOfB();
        assert.ok(view.height + 1n <= BigInt(K));
        const phantom = withForgedAcc(view);
        await reverts(a.registry.write.submitView([phantom, await sign(b, phantom)]), "ViewRegistryMalformedView");
      });

      it("refuses the stored view submitted again (replay of the newest view)", async () => {
        const { view, signatures } = await nextViewOfB();
        await a.registry.write.submitView([view, signatures]);
        await reverts(a.registry.write.submitView([view, signatures]), "ViewRegistryStaleView", [view.height, view.height]);
      });

      it("refuses an older view consistent with what is stored (replay of an old view)", async () => {
        const { view: old, signatures: oldSignatures } = await nextViewOfB(2n);
        await a.registry.write.submitView([old, oldSignatures]);
        const { view: newer, signatures } = await nextViewOfB(4n);
        await a.registry.write.submitView([newer, signatures]);
        await reverts(a.registry.write.submitView([old, oldSignatures]), "ViewRegistryStaleView", [old.height, newer.height]);
        assert.deepEqual(await a.registry.read.latestView([b.chainId]), newer);
      });

      it("refuses any view of a frozen chain (post-freeze update attack)", async () => {
        await freezeB();
        const { view, signatures } = await nextViewOfB(5n);
        await reverts(a.registry.write.submitView([view, signatures]), "ViewRegistryChainFrozen", [b.chainId]);
      });

      it("refuses a view of a chain that was never registered (unregistered-chain attack)", async () => {
        const { view, signatures } = await nextViewOfB();
        await reverts(a.registry.write.submitView([{ ...view, chainId: 4242n }, signatures]), "ViewRegistryUnknownChain", [4242n]);
      });
    });

    describe("conflicting views", () => {
      it("freezes B and slashes its bond when B's committee signs a second branch (equivocation via submitView)", async () => {
        const { honest, forked } = await forkChain(b, 4);
        await a.registry.write.submitView([honest, await sign(b, honest)]);
        const forkedSignatures = await sign(b, forked);

        const registry = await registryAs(a);
        assert.equal((await registry.simulate.submitView([forked, forkedSignatures])).result, false);
        const { receipt, gain } = await asMallory(a, (r) => r.write.submitView([forked, forkedSignatures]));

        assert.deepEqual(chainFrozenIn(a, receipt.logs), { chainId: b.chainId, reporter: getAddress(a.users.mallory.account.address), slashed: BOND, reward: REWARD });
        assert.equal(parseEventLogs({ abi: a.registry.abi, logs: receipt.logs, eventName: "ViewAccepted" }).length, 0);
        assert.equal(gain, REWARD);
        await assertSlashedOnce(a, b);
        // The branch A had accepted stays B's identity; the other is refused.
        assert.deepEqual(await a.registry.read.latestView([b.chainId]), honest);
        assert.equal(await a.registry.read.blockHashAt([b.chainId, honest.height]), honest.hashes.at(-1));
      });

      it("freezes B on a signed view that rewrites a height below the stored window (deep-rewrite attack)", async () => {
        await mine(b, 3 * K);
        await relayView(b, a);
        const stored = await a.registry.read.latestHeight([b.chainId]);
        const old = await viewOf(b, K, stored - 2n * BigInt(K)); // entirely below the stored window
        const rewritten = withForgedHash(old, 0);
        const { gain } = await asMallory(a, async (r) => r.write.submitView([rewritten, await sign(b, rewritten)]));
        assert.equal(gain, REWARD);
        await assertSlashedOnce(a, b);
        assert.equal(await a.registry.read.latestHeight([b.chainId]), stored);
      });

      it("freezes B on a newer signed view whose acc disagrees with the stored window (forged-history attack)", async () => {
        await mine(b, 2 * K);
        await relayView(b, a);
        const { view } = await nextViewOfB(3n);
        assert.ok(view.height + 1n > BigInt(K));
        const rewritten = withForgedAcc(view); // real hashes, another history below them
        const { gain } = await asMallory(a, async (r) => r.write.submitView([rewritten, await sign(b, rewritten)]));
        assert.equal(gain, REWARD);
        await assertSlashedOnce(a, b);
      });
    });
  });

  describe("submitForkEvidence", () => {
    it("freezes B and slashes its bond once on two conflicting views signed by its committee (fork attack)", async () => {
      const stored = await a.registry.read.latestView([b.chainId]);
      const { honest, forked } = await forkChain(b, 4);
      const sigHonest = await sign(b, honest);
      const sigForked = await sign(b, forked);

      const { receipt, gain } = await asMallory(a, (r) => r.write.submitForkEvidence([honest, sigHonest, forked, sigForked]));

      assert.deepEqual(chainFrozenIn(a, receipt.logs), { chainId: b.chainId, reporter: getAddress(a.users.mallory.account.address), slashed: BOND, reward: REWARD });
      assert.equal(gain, REWARD);
      await assertSlashedOnce(a, b);
      assert.deepEqual(await a.registry.read.latestView([b.chainId]), stored);
      // The same evidence freezes B on every chain it reaches.
      await c.registry.write.submitForkEvidence([forked, sigForked, honest, sigHonest]);
      await assertSlashedOnce(c, b);
    });

    it("slashes once when the same evidence is submitted twice (double-slash attack)", async () => {
      const { honest, forked } = await forkChain(b, 3);
      const evidence = [honest, await sign(b, honest), forked, await sign(b, forked)] as const;
      await a.registry.write.submitForkEvidence([...evidence]);
      const after = await stateOf(a, b);

      await reverts(a.registry.write.submitForkEvidence([...evidence]), "ViewRegistryChainFrozen", [b.chainId]);
      await reverts(a.registry.write.submitForkEvidence([evidence[2], evidence[3], evidence[0], evidence[1]]), "ViewRegistryChainFrozen", [b.chainId]);
      await assertSlashedOnce(a, b);
      assert.deepEqual(await stateOf(a, b), after);
    });

    it("does not take one view twice as evidence (self-conflict framing)", async () => {
      const { view, signatures } = await nextViewOfB();
      await reverts(a.registry.write.submitForkEvidence([view, signatures, view, signatures]), "ViewRegistryNotConflicting");
      assert.deepEqual((await stateOf(a, b)).bond, BOND);
    });

    it("does not take two views of one branch as evidence (framing with consistent views)", async () => {
      const { view: older, signatures: sigOlder } = await nextViewOfB(2n);
      const { view: newer, signatures: sigNewer } = await nextViewOfB(2n + BigInt(K)); // connects to `older` over the window
      await reverts(a.registry.write.submitForkEvidence([older, sigOlder, newer, sigNewer]), "ViewRegistryNotConflicting");
      await reverts(a.registry.write.submitForkEvidence([newer, sigNewer, older, sigOlder]), "ViewRegistryNotConflicting");
      assert.equal(await a.registry.read.isFrozen([b.chainId]), false);
    });

    it("does not take views of two different chains as evidence (cross-chain framing)", async () => {
      const { view: viewOfB, signatures: sigB } = await nextViewOfB();
      await mine(c, 2);
      const viewOfC = await viewOf(c, K);
      await reverts(
        a.registry.write.submitForkEvidence([viewOfB, sigB, viewOfC, await sign(c, viewOfC)]),
        "ViewRegistryWrongChain",
        [b.chainId, c.chainId],
      );
      assert.equal(await a.registry.read.isFrozen([b.chainId]), false);
      assert.equal(await a.registry.read.isFrozen([c.chainId]), false);
    });

    it("refuses evidence whose conflicting view carries forged signatures (framing an honest committee)", async () => {
      const before = await stateOf(a, b);
      const { view, signatures } = await nextViewOfB();
      const forged = withForgedHash(view, 0);
      const fakeCommittee = outsiders(4);
      await reverts(a.registry.write.submitForkEvidence([view, signatures, forged, await sign(b, forged, fakeCommittee)]), "ViewRegistryUnknownSigner");
      // Signatures of B's committee over another view do not sign the forged one either.
      await reverts(a.registry.write.submitForkEvidence([view, signatures, forged, signatures]), "ViewRegistryUnknownSigner");
      assert.deepEqual(await stateOf(a, b), before);
      assert.equal(before.bond, BOND);
    });

    it("refuses evidence signed by a minority of the committee (corrupt-minority framing)", async () => {
      const { view, signatures } = await nextViewOfB();
      const forged = withForgedHash(view, 0);
      const minority = await sign(b, forged, b.committee.slice(0, THRESHOLD - 1));
      await reverts(a.registry.write.submitForkEvidence([view, signatures, forged, minority]), "ViewRegistryBelowThreshold", [BigInt(THRESHOLD - 1), BigInt(THRESHOLD)]);
      await reverts(a.registry.write.submitForkEvidence([forged, minority, view, signatures]), "ViewRegistryBelowThreshold", [BigInt(THRESHOLD - 1), BigInt(THRESHOLD)]);
      assert.equal(await a.registry.read.bondOf([b.chainId]), BOND);
      assert.equal(await a.registry.read.isFrozen([b.chainId]), false);
    });

    it("takes two views at one height with the same hashes but different acc as evidence (history-rewrite fork)", async () => {
      await mine(b, 2 * K);
      const view = await viewOf(b, K);
      assert.ok(view.height + 1n > BigInt(K));
      const rewritten = withForgedAcc(view);
      assert.deepEqual(rewritten.hashes, view.hashes);
      const { gain } = await asMallory(a, async (r) => r.write.submitForkEvidence([view, await sign(b, view), rewritten, await sign(b, rewritten)]));
      assert.equal(gain, REWARD);
      await assertSlashedOnce(a, b);
    });

    it("refuses evidence about a chain that was never registered", async () => {
      const { view, signatures } = await nextViewOfB();
      const forged = withForgedHash(view, 0);
      await reverts(
        a.registry.write.submitForkEvidence([{ ...view, chainId: 4242n }, signatures, { ...forged, chainId: 4242n }, signatures]),
        "ViewRegistryUnknownChain",
        [4242n],
      );
    });
  });

  describe("registerChain", () => {
    /** A registry on A with nothing registered yet. */
    async function freshRegistry() {
      return a.viem.deployContract("ViewRegistry", [a.users.deployer.account.address, SLASH_REWARD_BPS]);
    }

    it("registers a chain with threshold ceil(r·q), its genesis view and its bond", async () => {
      const registry = await freshRegistry();
      const genesis = await viewOf(b, K);
      await registry.write.registerChain([registrationOf(b), genesis, await sign(b, genesis)], { value: BOND });
      const [committee, threshold, k] = await registry.read.committeeOf([b.chainId]);
      assert.deepEqual(committee, b.committee.map((m) => m.address));
      assert.equal(threshold, BigInt(THRESHOLD));
      assert.equal(k, BigInt(K));
      assert.equal(await registry.read.gatewayOf([b.chainId]), getAddress(b.gateway.address));
      assert.deepEqual(await registry.read.latestView([b.chainId]), genesis);
      assert.equal(await registry.read.bondOf([b.chainId]), BOND);
      assert.equal(await a.publicClient.getBalance({ address: registry.address }), BOND);
    });

    it("refuses a zero threshold, under which a view signed by nobody would pass (zero-threshold attack)", async () => {
      const registry = await freshRegistry();
      const genesis = await viewOf(b, K);
      await reverts(
        registry.write.registerChain([{ ...registrationOf(b), rNumerator: 0 }, genesis, []]),
        "ViewRegistryInvalidThreshold",
        [0n, 4n],
      );
    });

    it("refuses a threshold ratio above one (a chain that can never be updated)", async () => {
      const registry = await freshRegistry();
      const genesis = await viewOf(b, K);
      await reverts(
        registry.write.registerChain([{ ...registrationOf(b), rNumerator: 4, rDenominator: 3 }, genesis, await sign(b, genesis)]),
        "ViewRegistryInvalidThreshold",
      );
    });

    it("refuses a committee listing one member twice (quorum-inflation attack)", async () => {
      const registry = await freshRegistry();
      const genesis = await viewOf(b, K);
      const [m0, m1, m2] = b.committee.map((m) => m.address);
      await reverts(
        registry.write.registerChain([{ ...registrationOf(b), committee: [m0!, m0!, m1!, m2!] }, genesis, await sign(b, genesis)]),
        "ViewRegistryInvalidCommittee",
      );
    });

    it("refuses a genesis view signed below the threshold (forged-genesis attack)", async () => {
      const registry = await freshRegistry();
      const genesis = await viewOf(b, K);
      await reverts(
        registry.write.registerChain([registrationOf(b), genesis, await sign(b, genesis, b.committee.slice(0, THRESHOLD - 1))]),
        "ViewRegistryBelowThreshold",
        [BigInt(THRESHOLD - 1), BigInt(THRESHOLD)],
      );
    });

    it("refuses to register a chain again (committee-replacement attack)", async () => {
      const evil = committeeOf(7777n, 4);
      const genesis = await viewOf(b, K);
      const registration = { ...registrationOf(b), committee: evil.map((m) => m.address) };
      await reverts(a.registry.write.registerChain([registration, genesis, await sign(b, genesis, evil)]), "ViewRegistryChainAlreadyRegistered", [b.chainId]);
      const [committee] = await a.registry.read.committeeOf([b.chainId]);
      assert.deepEqual(committee, b.committee.map((m) => m.address));
    });

    it("refuses a registration by anyone but the owner (rogue-registration attack)", async () => {
      const registry = await freshRegistry();
      const byMallory = await a.viem.getContractAt("ViewRegistry", registry.address, { client: { wallet: a.users.mallory } });
      const genesis = await viewOf(b, K);
      await reverts(
        byMallory.write.registerChain([registrationOf(b), genesis, await sign(b, genesis)]),
        "OwnableUnauthorizedAccount",
        [getAddress(a.users.mallory.account.address)],
      );
    });

    it("refuses to register its own chain", async () => {
      const registry = await freshRegistry();
      const genesis = await viewOf(a, K);
      await reverts(registry.write.registerChain([registrationOf(a), genesis, await sign(a, genesis)]), "ViewRegistryCannotRegisterSelf", [a.chainId]);
    });
  });
});
