import assert from "node:assert/strict";
import {
  concat,
  encodeFunctionData,
  getAddress,
  hexToBigInt,
  keccak256,
  numberToHex,
  parseEther,
  parseEventLogs,
  size,
  slice,
  stringToHex,
  toHex,
  type Address,
  type Hash,
  type Hex,
  type Log,
} from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { UpdateResult } from "../../relayer/chain/abis.js";
import { encodeBlockHeader, type RpcBlock } from "../../relayer/chain/blockHeader.js";
import { accBeforeHead, accThrough, buildView, foldAcc, ZERO_HASH, type View } from "../../relayer/view/view.js";
import { orderSignatures } from "../../relayer/view/signView.js";
import { VIEW_TYPES, viewDomain } from "../../relayer/view/viewDigest.js";
import { reverts } from "../fixtures/reverts.js";
import {
  BOND,
  CLAIM_PERIOD,
  COMPENSATION_WINDOW,
  K,
  MAX_LIFETIME,
  POOL_BPS,
  SLASH_REWARD_BPS,
  bridgeFor,
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
/** How a slashed bond is split: the prover's reward, the compensation pool, and the burned rest. */
const REWARD = (BOND * SLASH_REWARD_BPS) / 10_000n;
const POOL = (BOND * POOL_BPS) / 10_000n;
const BURNED = BOND - REWARD - POOL;
/** What open contracts with a counterparty may be worth: the pool share of its bond. */
const CAPACITY = (BOND * POOL_BPS) / 10_000n;
/** The threshold of a committee of 4 at r = 2/3: ceil(8/3). */
const THRESHOLD = 3;

// ---------------------------------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------------------------------



/**
 * Asserts that deploying a contract reverts with the custom error `name(args)`. A reverted deployment has no ABI to decode
 * its error with, so the node's own rendering of the custom error is matched (EDR names it from the build artifacts).
 */
async function deployReverts(promise: Promise<unknown>, name: string, args: readonly bigint[]): Promise<void> {
  const expected = `reverted with custom error '${name}(${args.join(", ")})'`;
  await assert.rejects(promise, (error: unknown) => {
    const texts: string[] = [];
    for (let e = error as { cause?: unknown; message?: string; details?: string } | undefined; e; e = e.cause as typeof e) {
      texts.push(String(e.details ?? ""), String(e.message ?? ""));
    }
    assert.ok(texts.some((t) => t.includes(expected)), `expected ${expected}, got: ${texts.join(" | ").slice(0, 600)}`);
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

/** `hash` changed into another 32-byte word. */
function forge(hash: Hex): Hex {
  return keccak256(concat([hash, stringToHex("forged")]));
}

/** `view` with the hash at `index` replaced: a well-formed view of a block that never existed. */
function withForgedHash(view: View, index: number): View {
  const hashes = [...view.hashes];
  hashes[index] = forge(hashes[index]!);
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
 * A fork attack on `chain`: from its head, an honest branch of `blocks` blocks and a forked one of `forkedBlocks` blocks
 * (made with evm_snapshot/evm_revert; the forked branch opens with a transaction the honest one lacks, so every hash from
 * the first new height on differs). Returns the view of each branch at its head. The chain is left on the forked branch.
 */
async function forkChain(chain: Chain, blocks: number, forkedBlocks = blocks): Promise<{ honest: View; forked: View; base: bigint }> {
  const provider = chain.conn.provider;
  const base = await chain.publicClient.getBlockNumber();
  const snapshot = await provider.request({ method: "evm_snapshot" });
  await mine(chain, blocks);
  const honest = await freshView(chain, base + BigInt(blocks));
  assert.equal(await provider.request({ method: "evm_revert", params: [snapshot] }), true);
  const mallory = chain.users.mallory;
  await mallory.sendTransaction({ to: mallory.account.address, value: 1n });
  if (forkedBlocks > 1) await mine(chain, forkedBlocks - 1);
  assert.equal(await chain.publicClient.getBlockNumber(), base + BigInt(forkedBlocks));
  const forked = await freshView(chain, base + BigInt(forkedBlocks));
  assert.notEqual(forked.hashes.at(-1), honest.hashes.at(-1));
  return { honest, forked, base };
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

/** The registry of `verifier` called by its own Gateway (impersonated): the only caller of submitViewFor and compensate. */
async function registryAsGateway(verifier: Chain) {
  const gateway = verifier.gateway.address;
  await verifier.conn.provider.request({ method: "hardhat_impersonateAccount", params: [gateway] });
  await verifier.conn.provider.request({ method: "hardhat_setBalance", params: [gateway, toHex(parseEther("10"))] });
  const wallet = await verifier.viem.getWalletClient(gateway);
  return verifier.viem.getContractAt("ViewRegistry", verifier.registry.address, { client: { wallet } });
}

/** Everything the verifier stores about `remote`, and the ether the registry holds. */
async function stateOf(verifier: Chain, remote: Chain) {
  const r = verifier.registry.read;
  const id = remote.chainId;
  const height = await r.latestHeight([id]);
  return {
    height,
    word: await r.accThrough([id, height]),
    bond: await r.bondOf([id]),
    pool: await r.poolOf([id]),
    frozen: await r.isFrozen([id]),
    frozenAt: await r.frozenAt([id]),
    balance: await verifier.publicClient.getBalance({ address: verifier.registry.address }),
  };
}

/** Every ViewAccepted event the verifier's registry emitted about `remote` so far. */
async function acceptedEvents(verifier: Chain, remote: Chain) {
  return verifier.publicClient.getContractEvents({
    address: verifier.registry.address,
    abi: verifier.registry.abi,
    eventName: "ViewAccepted",
    args: { chainId: remote.chainId },
    fromBlock: 0n,
  });
}

/** Every ChainFrozen event the verifier's registry emitted about `remote` so far. */
async function frozenEvents(verifier: Chain, remote: Chain) {
  return verifier.publicClient.getContractEvents({
    address: verifier.registry.address,
    abi: verifier.registry.abi,
    eventName: "ChainFrozen",
    args: { chainId: remote.chainId },
    fromBlock: 0n,
  });
}

/** Asserts that `remote` is frozen on `verifier` with its whole bond slashed exactly once and the pool set aside. */
async function assertSlashedOnce(verifier: Chain, remote: Chain, bond = BOND): Promise<void> {
  assert.equal(await verifier.registry.read.isFrozen([remote.chainId]), true);
  assert.equal(await verifier.registry.read.bondOf([remote.chainId]), 0n);
  const pool = (bond * POOL_BPS) / 10_000n;
  assert.deepEqual(await verifier.registry.read.poolOf([remote.chainId]), [pool, pool]);
  assert.equal((await frozenEvents(verifier, remote)).length, 1);
}

/** The single ChainFrozen event of a receipt. */
function chainFrozenIn(verifier: Chain, logs: Log[]) {
  const events = parseEventLogs({ abi: verifier.registry.abi, logs, eventName: "ChainFrozen" });
  assert.equal(events.length, 1, "expected one ChainFrozen");
  return events[0]!.args;
}

/** The single ViewAccepted event of a receipt. */
function viewAcceptedIn(verifier: Chain, logs: Log[]) {
  const events = parseEventLogs({ abi: verifier.registry.abi, logs, eventName: "ViewAccepted" });
  assert.equal(events.length, 1, "expected one ViewAccepted");
  return events[0]!.args;
}

/** The ChainFrozen event a freeze of `remote` with BOND reported by `reporter` must emit. */
function expectedFreeze(remote: Chain, reporter: Address) {
  return { chainId: remote.chainId, reporter: getAddress(reporter), slashed: BOND, reward: REWARD, pool: POOL, burned: BURNED };
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
  async function freezeB() {
    const { view, signatures } = await nextViewOfB();
    const forged = withForgedHash(view, view.hashes.length - 1);
    const hash = await a.registry.write.submitForkEvidence([view, signatures, forged, await sign(b, forged)]);
    const receipt = await a.publicClient.waitForTransactionReceipt({ hash });
    assert.equal(await a.registry.read.isFrozen([b.chainId]), true);
    return receipt;
  }

  describe("constructor", () => {
    it("refuses shares under which less than half of a slashed bond is burned (colluders reclaiming their bond)", async () => {
      const owner = a.users.deployer.account.address;
      for (const [reward, pool] of [[1001n, 4000n], [1000n, 4001n], [0n, 5001n], [5000n, 1n]] as const) {
        await deployReverts(a.viem.deployContract("ViewRegistry", [owner, reward, pool]), "ViewRegistryInvalidShares", [reward, pool]);
      }
      // Exactly half burned is allowed.
      const edge = await a.viem.deployContract("ViewRegistry", [owner, 1000n, 4000n]);
      assert.equal(await edge.read.slashRewardBps(), 1000n);
      assert.equal(await edge.read.poolBps(), 4000n);
      const allPool = await a.viem.deployContract("ViewRegistry", [owner, 0n, 5000n]);
      assert.equal(await allPool.read.poolBps(), 5000n);
    });

    it("refuses a zero pool (a fork that leaves the harmed users nothing, and a Gateway with no capacity)", async () => {
      const owner = a.users.deployer.account.address;
      await deployReverts(a.viem.deployContract("ViewRegistry", [owner, 1000n, 0n]), "ViewRegistryInvalidShares", [1000n, 0n]);
      await deployReverts(a.viem.deployContract("ViewRegistry", [owner, 0n, 0n]), "ViewRegistryInvalidShares", [0n, 0n]);
    });
  });

  describe("registerChain", () => {
    /** A registry on A with nothing registered yet. */
    async function freshRegistry() {
      return a.viem.deployContract("ViewRegistry", [a.users.deployer.account.address, SLASH_REWARD_BPS, POOL_BPS]);
    }

    it("registers a chain with threshold ceil(r·q), its genesis view (emitted as ViewAccepted) and its bond", async () => {
      const registry = await freshRegistry();
      const genesis = await viewOf(b, K);
      const signatures = await sign(b, genesis);
      const hash = await registry.write.registerChain([registrationOf(b), genesis, signatures], { value: BOND });
      const receipt = await a.publicClient.waitForTransactionReceipt({ hash });

      const [committee, threshold, k] = await registry.read.committeeOf([b.chainId]);
      assert.deepEqual(committee, b.committee.map((m) => m.address));
      assert.equal(threshold, BigInt(THRESHOLD));
      assert.equal(k, BigInt(K));
      assert.equal(await registry.read.gatewayOf([b.chainId]), getAddress(b.gateway.address));
      assert.equal(await registry.read.latestHeight([b.chainId]), genesis.height);
      assert.equal(await registry.read.accThrough([b.chainId, genesis.height]), foldAcc(ZERO_HASH, await freshHashes(b, genesis.height)));
      assert.equal(await registry.read.bondOf([b.chainId]), BOND);
      assert.equal(await a.publicClient.getBalance({ address: registry.address }), BOND);
      const accepted = parseEventLogs({ abi: registry.abi, logs: receipt.logs, eventName: "ViewAccepted" });
      assert.equal(accepted.length, 1);
      assert.deepEqual(accepted[0]!.args, { chainId: b.chainId, height: genesis.height, accThrough: accThrough(genesis), view_: genesis, signatures });
    });

    it("refuses a zero threshold, under which a view signed by nobody would pass (zero-threshold attack)", async () => {
      const registry = await freshRegistry();
      const genesis = await viewOf(b, K);
      await reverts(registry.write.registerChain([{ ...registrationOf(b), rNumerator: 0 }, genesis, []]), "ViewRegistryInvalidThreshold", [0n, 4n]);
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

    it("refuses a zero window and one above MAX_K (unbounded view gas)", async () => {
      const registry = await freshRegistry();
      const genesis = await viewOf(b, K);
      const signatures = await sign(b, genesis);
      await reverts(registry.write.registerChain([{ ...registrationOf(b), k: 0n }, genesis, signatures]), "ViewRegistryInvalidWindow", [0n]);
      await reverts(registry.write.registerChain([{ ...registrationOf(b), k: 257n }, genesis, signatures]), "ViewRegistryInvalidWindow", [257n]);
    });

    it("refuses a genesis view of another chain (genesis-substitution attack)", async () => {
      const registry = await freshRegistry();
      const genesisOfC = await viewOf(c, K);
      await reverts(registry.write.registerChain([registrationOf(b), genesisOfC, await sign(c, genesisOfC)]), "ViewRegistryWrongChain", [b.chainId, c.chainId]);
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
      await reverts(byMallory.write.registerChain([registrationOf(b), genesis, await sign(b, genesis)]), "OwnableUnauthorizedAccount", [
        getAddress(a.users.mallory.account.address),
      ]);
    });

    it("refuses to register its own chain (self-registration)", async () => {
      const registry = await freshRegistry();
      const genesis = await viewOf(a, K);
      await reverts(registry.write.registerChain([registrationOf(a), genesis, await sign(a, genesis)]), "ViewRegistryCannotRegisterSelf", [a.chainId]);
    });
  });

  describe("submitView", () => {
    describe("accepting", () => {
      it("accepts a view whose window meets the stored one: stores the accumulator through its head and emits it in full", async () => {
        const { view, signatures, stored } = await nextViewOfB(5n);
        const storedWord = await a.registry.read.accThrough([b.chainId, stored]);
        const registry = await registryAs(a);
        assert.equal((await registry.simulate.submitView([view, signatures, []])).result, UpdateResult.Accepted);
        const { receipt, gain } = await asMallory(a, (r) => r.write.submitView([view, signatures, []]));

        assert.equal(gain, 0n);
        assert.equal(await a.registry.read.latestHeight([b.chainId]), view.height);
        // The word commits to every real block hash of B from genesis to the head.
        assert.equal(await a.registry.read.accThrough([b.chainId, view.height]), foldAcc(ZERO_HASH, await freshHashes(b, view.height)));
        assert.equal(await a.registry.read.accThrough([b.chainId, stored]), storedWord);
        for (let h = stored + 1n; h < view.height; h++) assert.equal(await a.registry.read.accThrough([b.chainId, h]), ZERO_HASH, `height ${h}`);
        assert.deepEqual(viewAcceptedIn(a, receipt.logs), { chainId: b.chainId, height: view.height, accThrough: accThrough(view), view_: view, signatures });
      });

      it("agrees byte for byte with Algorithm 1 once the window slides (acc folds every height below it)", async () => {
        await mine(b, 3 * K + 5);
        const height = await relayView(b, a);
        const expected = await viewOf(b, K, height);
        assert.notEqual(expected.acc, ZERO_HASH);
        assert.equal(expected.hashes.length, K);
        assert.equal(await a.registry.read.accThrough([b.chainId, height]), foldAcc(ZERO_HASH, await freshHashes(b, height)));
        const [event] = (await acceptedEvents(a, b)).slice(-1);
        assert.deepEqual(event!.args.view_, expected);
      });

      it("accepts a view signed by exactly the threshold of the committee", async () => {
        const { view, signatures } = await nextViewOfB(2n, b.committee.slice(1, 1 + THRESHOLD));
        assert.equal(signatures.length, THRESHOLD);
        await a.registry.write.submitView([view, signatures, []]);
        assert.equal(await a.registry.read.latestHeight([b.chainId]), view.height);
        assert.equal(await a.registry.read.accThrough([b.chainId, view.height]), accThrough(view));
      });

      it("a registry that fell 1,000 blocks behind catches up in one submitView with a bridge (stale-registry attack)", async () => {
        const stored = await a.registry.read.latestHeight([b.chainId]);
        const storedWord = await a.registry.read.accThrough([b.chainId, stored]);
        await mine(b, 1000);
        const head = await b.publicClient.getBlockNumber();
        const view = await viewOf(b, K, head);
        const signatures = await sign(b, view);
        const bridge = await bridgeFor(b, view, stored);
        assert.equal(BigInt(bridge.length), head - BigInt(K) - stored); // heights stored+1 .. start-1
        assert.ok(bridge.length >= 1000 - K);

        const registry = await registryAs(a);
        assert.equal((await registry.simulate.submitView([view, signatures, bridge])).result, UpdateResult.Accepted);
        const { receipt } = await asMallory(a, (r) => r.write.submitView([view, signatures, bridge]));

        assert.equal(await a.registry.read.latestHeight([b.chainId]), head);
        const word = await a.registry.read.accThrough([b.chainId, head]);
        const real = await freshHashes(b, head);
        assert.equal(word, foldAcc(ZERO_HASH, real));
        assert.equal(word, accThrough(view));
        assert.equal(await a.registry.read.accThrough([b.chainId, stored]), storedWord);
        assert.deepEqual(viewAcceptedIn(a, receipt.logs), { chainId: b.chainId, height: head, accThrough: word, view_: view, signatures });

        // A proof taken later at the accepted head: keccak(accBeforeHead ‖ keccak(header)) is the stored word ...
        const block = (await b.publicClient.request({ method: "eth_getBlockByNumber", params: [toHex(head), false] })) as RpcBlock;
        const header = encodeBlockHeader(block);
        assert.equal(keccak256(header), real.at(-1));
        assert.equal(keccak256(concat([accBeforeHead(view), keccak256(header)])), word);
        assert.equal(accBeforeHead(view), foldAcc(ZERO_HASH, real.slice(0, -1)));
        // ... and the header of any other block is not.
        const parent = encodeBlockHeader((await b.publicClient.request({ method: "eth_getBlockByNumber", params: [toHex(head - 1n), false] })) as RpcBlock);
        assert.notEqual(keccak256(concat([accBeforeHead(view), keccak256(parent)])), word);
      });
    });

    describe("signatures", () => {
      it("refuses a view signed by fewer than the threshold (below-threshold attack)", async () => {
        const before = await stateOf(a, b);
        const { view, signatures } = await nextViewOfB(3n, b.committee.slice(0, THRESHOLD - 1));
        await reverts(a.registry.write.submitView([view, signatures, []]), "ViewRegistryBelowThreshold", [BigInt(THRESHOLD - 1), BigInt(THRESHOLD)]);
        assert.deepEqual(await stateOf(a, b), before);
      });

      it("refuses one member's signature counted twice (duplicate-signer attack)", async () => {
        const before = await stateOf(a, b);
        const { view, signatures } = await nextViewOfB(3n, b.committee.slice(0, THRESHOLD - 1));
        const padded = [signatures[0]!, signatures[0]!, signatures[1]!];
        await reverts(a.registry.write.submitView([view, padded, []]), "ViewRegistryDuplicateSigner", [b.committee[0]!.address]);
        assert.deepEqual(await stateOf(a, b), before);
      });

      it("refuses signatures out of ascending signer order (duplicate hidden by reordering)", async () => {
        const before = await stateOf(a, b);
        const { view, signatures } = await nextViewOfB();
        await reverts(a.registry.write.submitView([view, [...signatures].reverse(), []]), "ViewRegistrySignersNotSorted", [1n]);
        assert.deepEqual(await stateOf(a, b), before);
      });

      it("refuses a signature of a key outside the committee (unknown-signer attack)", async () => {
        const before = await stateOf(a, b);
        const [outsider] = outsiders(1);
        const { view } = await nextViewOfB();
        const signatures = await sign(b, view, [...b.committee.slice(0, THRESHOLD - 1), outsider!]);
        await reverts(a.registry.write.submitView([view, signatures, []]), "ViewRegistryUnknownSigner", [outsider!.address]);
        assert.deepEqual(await stateOf(a, b), before);
      });

      it("refuses the malleable twin of a valid signature (high-s signature-malleability attack)", async () => {
        const { view, signatures } = await nextViewOfB(3n, b.committee.slice(0, THRESHOLD));
        const twin = malleableTwin(signatures[1]!);
        assert.notEqual(twin, signatures[1]);
        await reverts(a.registry.write.submitView([view, [signatures[0]!, twin, signatures[2]!], []]), "ViewRegistryInvalidSignature", [1n]);
        // The original encoding is accepted: only the re-encoding was refused.
        await a.registry.write.submitView([view, signatures, []]);
        assert.equal(await a.registry.read.latestHeight([b.chainId]), view.height);
      });

      it("refuses a view of B signed by chain C's committee (foreign-committee attack)", async () => {
        const { view } = await nextViewOfB();
        const signatures = await sign(b, view, c.committee); // B's domain, C's keys
        await reverts(a.registry.write.submitView([view, signatures, []]), "ViewRegistryUnknownSigner", [c.committee[0]!.address]);
      });

      it("refuses chain C's signed view relabelled as a view of B (cross-chain replay)", async () => {
        await mine(c, 3);
        const viewOfC = await viewOf(c, K);
        const signaturesOfC = await sign(c, viewOfC);
        assert.equal((await a.registry.simulate.submitView([viewOfC, signaturesOfC, []])).result, UpdateResult.Accepted); // valid for C
        await reverts(a.registry.write.submitView([{ ...viewOfC, chainId: b.chainId }, signaturesOfC, []]), "ViewRegistryUnknownSigner");
        assert.equal(await a.registry.read.isFrozen([b.chainId]), false);
      });

      it("refuses B's committee signatures made under chain C's EIP-712 domain (domain-confusion replay)", async () => {
        const { view } = await nextViewOfB();
        const signatures = await signUnderDomain(view, b.committee, { chainId: c.chainId, gateway: c.gateway.address });
        await reverts(a.registry.write.submitView([view, signatures, []]), "ViewRegistryUnknownSigner");
      });

      it("refuses signatures made for another deployment's Gateway on B (cross-deployment replay)", async () => {
        // A second deployment of the protocol on chain B: right chainId, another Gateway in the domain.
        const other = await b.viem.deployContract("Gateway", [b.users.deployer.account.address, b.registry.address, COMPENSATION_WINDOW, MAX_LIFETIME, CLAIM_PERIOD]);
        assert.notEqual(getAddress(other.address), getAddress(b.gateway.address));
        const before = await stateOf(a, b);
        const { view } = await nextViewOfB();
        const signatures = await sign(b, view, b.committee, other.address);
        await reverts(a.registry.write.submitView([view, signatures, []]), "ViewRegistryUnknownSigner");
        assert.deepEqual(await stateOf(a, b), before);
      });
    });

    describe("window", () => {
      it("refuses a view with the wrong number of hashes (malformed-window attack)", async () => {
        const before = await stateOf(a, b);
        const { view } = await nextViewOfB();
        const short = { ...view, hashes: view.hashes.slice(1) };
        await reverts(a.registry.write.submitView([short, await sign(b, short), []]), "ViewRegistryMalformedView", [view.height, BigInt(short.hashes.length)]);
        const long = { ...view, hashes: [view.hashes[0]!, ...view.hashes] };
        await reverts(a.registry.write.submitView([long, await sign(b, long), []]), "ViewRegistryMalformedView", [view.height, BigInt(long.hashes.length)]);
        assert.deepEqual(await stateOf(a, b), before);
      });

      it("refuses a short window past k that a bridge would otherwise make fit (malformed window hidden by a bridge)", async () => {
        const { view, stored } = await nextViewOfB(BigInt(2 * K));
        const short = { ...view, acc: foldAcc(view.acc, view.hashes.slice(0, 1)), hashes: view.hashes.slice(1) };
        assert.equal(accThrough(short), accThrough(view));
        const bridge = [...(await bridgeFor(b, view, stored)), view.hashes[0]!];
        await reverts(a.registry.write.submitView([short, await sign(b, short), bridge]), "ViewRegistryMalformedView", [view.height, BigInt(K - 1)]);
        assert.equal(await a.registry.read.latestHeight([b.chainId]), stored);
      });

      it("refuses a view whose window reaches height 0 but carries a non-zero acc (phantom history)", async () => {
        const { view } = await nextViewOfB();
        assert.ok(view.height + 1n <= BigInt(K));
        const phantom = withForgedAcc(view);
        await reverts(a.registry.write.submitView([phantom, await sign(b, phantom), []]), "ViewRegistryMalformedView", [view.height, BigInt(view.hashes.length)]);
        assert.equal(await a.registry.read.isFrozen([b.chainId]), false);
      });

      it("refuses a view of a chain that was never registered (unregistered-chain attack)", async () => {
        const { view, signatures } = await nextViewOfB();
        await reverts(a.registry.write.submitView([{ ...view, chainId: 4242n }, signatures, []]), "ViewRegistryUnknownChain", [4242n]);
      });

      it("refuses any view of a frozen chain (post-freeze update attack)", async () => {
        await freezeB();
        const before = await stateOf(a, b);
        const { view, signatures } = await nextViewOfB(5n);
        await reverts(a.registry.write.submitView([view, signatures, []]), "ViewRegistryChainFrozen", [b.chainId]);
        assert.deepEqual(await stateOf(a, b), before);
      });
    });

    describe("bridge", () => {
      /** B 40 blocks past what A stored: a view whose window starts well after the stored height, and its true bridge. */
      async function aheadWithBridge() {
        const { view, signatures, stored } = await nextViewOfB(40n);
        const bridge = await bridgeFor(b, view, stored);
        assert.equal(BigInt(bridge.length), view.height - BigInt(K) - stored);
        assert.ok(bridge.length >= 3);
        return { view, signatures, stored, bridge };
      }

      /** Refused, and A's record of B is exactly as it was: nothing accepted, nothing frozen, nothing paid. */
      async function assertRefused(view: View, signatures: Hex[], bridge: Hex[], stored: bigint): Promise<void> {
        const before = await stateOf(a, b);
        await reverts(a.registry.write.submitView([view, signatures, bridge]), "ViewRegistryBridgeMismatch", [stored, view.height, BigInt(bridge.length)]);
        assert.deepEqual(await stateOf(a, b), before);
        assert.equal(before.frozen, false);
        assert.equal(before.bond, BOND);
        assert.equal(await a.registry.read.accThrough([b.chainId, view.height]), ZERO_HASH);
      }

      it("refuses a bridge with one wrong intermediate hash (forged-bridge attack), and takes the true one", async () => {
        const { view, signatures, stored, bridge } = await aheadWithBridge();
        const wrong = [...bridge];
        const middle = Math.floor(bridge.length / 2);
        wrong[middle] = forge(wrong[middle]!);
        await assertRefused(view, signatures, wrong, stored);
        // The same signed view with the true bridge goes through: only the bridge was at fault.
        await a.registry.write.submitView([view, signatures, bridge]);
        assert.equal(await a.registry.read.latestHeight([b.chainId]), view.height);
        assert.equal(await a.registry.read.accThrough([b.chainId, view.height]), accThrough(view));
      });

      it("refuses a bridge one hash short (skipped-block attack)", async () => {
        const { view, signatures, stored, bridge } = await aheadWithBridge();
        await assertRefused(view, signatures, bridge.slice(0, -1), stored);
        await assertRefused(view, signatures, bridge.slice(1), stored);
        await assertRefused(view, signatures, [], stored);
      });

      it("refuses a bridge one hash too long (extra-block attack)", async () => {
        const { view, signatures, stored, bridge } = await aheadWithBridge();
        await assertRefused(view, signatures, [...bridge, view.hashes[0]!], stored); // runs into the window
        const storedHash = (await freshHashes(b, stored)).at(-1)!;
        await assertRefused(view, signatures, [storedHash, ...bridge], stored); // repeats the stored head
      });

      it("never takes a wrong bridge as fork evidence (framing an honest committee with an unsigned bridge)", async () => {
        const { view, signatures, stored, bridge } = await aheadWithBridge();
        const registry = await registryAs(a);
        const wrong = bridge.map(forge);
        await reverts(registry.simulate.submitView([view, signatures, wrong]), "ViewRegistryBridgeMismatch", [stored, view.height, BigInt(bridge.length)]);
        await assertRefused(view, signatures, wrong, stored);
        assert.equal((await frozenEvents(a, b)).length, 0);
      });
    });

    describe("stale and repeated views", () => {
      it("answers NoOp to the accepted view submitted again, with no event and no change (replay of the newest view)", async () => {
        const { view, signatures } = await nextViewOfB();
        await a.registry.write.submitView([view, signatures, []]);
        const before = await stateOf(a, b);
        const registry = await registryAs(a);
        assert.equal((await registry.simulate.submitView([view, signatures, []])).result, UpdateResult.NoOp);
        const { receipt, gain } = await asMallory(a, (r) => r.write.submitView([view, signatures, []]));
        assert.equal(receipt.logs.length, 0);
        assert.equal(gain, 0n);
        assert.deepEqual(await stateOf(a, b), before);
        assert.equal((await acceptedEvents(a, b)).length, 2); // genesis + the view, once
      });

      it("answers NoOp to an older view, with no event and no change (replay of an old view)", async () => {
        const { view: first, signatures: firstSignatures } = await nextViewOfB(2n);
        await a.registry.write.submitView([first, firstSignatures, []]);
        const { view: middle, signatures: middleSignatures } = await nextViewOfB(2n);
        const { view: newest, signatures: newestSignatures } = await nextViewOfB(4n);
        await a.registry.write.submitView([newest, newestSignatures, []]);
        const before = await stateOf(a, b);
        assert.equal(before.height, newest.height);

        const registry = await registryAs(a);
        for (const [view, signatures] of [[middle, middleSignatures], [first, firstSignatures]] as const) {
          assert.equal((await registry.simulate.submitView([view, signatures, []])).result, UpdateResult.NoOp);
          const { receipt } = await asMallory(a, (r) => r.write.submitView([view, signatures, []]));
          assert.equal(receipt.logs.length, 0);
        }
        assert.deepEqual(await stateOf(a, b), before);
        assert.equal(await a.registry.read.accThrough([b.chainId, middle.height]), ZERO_HASH);
      });

      it("answers NoOp to a forged view at a height it never accepted below the newest, which stays fork evidence", async () => {
        const { view: newest, signatures: newestSignatures } = await nextViewOfB(6n);
        await a.registry.write.submitView([newest, newestSignatures, []]);
        const before = await stateOf(a, b);
        const old = await viewOf(b, K, newest.height - 2n); // never accepted
        const forged = withForgedHash(old, old.hashes.length - 1);
        const forgedSignatures = await sign(b, forged);
        const registry = await registryAs(a);
        assert.equal((await registry.simulate.submitView([forged, forgedSignatures, []])).result, UpdateResult.NoOp);
        await a.registry.write.submitView([forged, forgedSignatures, []]);
        assert.deepEqual(await stateOf(a, b), before);
        // Nothing is lost: against the accepted view it is a fork, proven with submitForkEvidence.
        const { receipt, gain } = await asMallory(a, (r) => r.write.submitForkEvidence([newest, newestSignatures, forged, forgedSignatures]));
        assert.deepEqual(chainFrozenIn(a, receipt.logs), expectedFreeze(b, a.users.mallory.account.address));
        assert.equal(gain, REWARD);
        await assertSlashedOnce(a, b);
      });
    });

    describe("conflicting views", () => {
      it("freezes B when its committee signs a second view at an accepted height (equivocation at one height)", async () => {
        const { honest, forked } = await forkChain(b, 4);
        const honestSignatures = await sign(b, honest);
        await a.registry.write.submitView([honest, honestSignatures, []]);
        const forkedSignatures = await sign(b, forked);
        const before = await stateOf(a, b);

        const registry = await registryAs(a);
        assert.equal((await registry.simulate.submitView([forked, forkedSignatures, []])).result, UpdateResult.Misbehaviour);
        const { receipt, gain } = await asMallory(a, (r) => r.write.submitView([forked, forkedSignatures, []]));

        assert.deepEqual(chainFrozenIn(a, receipt.logs), expectedFreeze(b, a.users.mallory.account.address));
        assert.equal(parseEventLogs({ abi: a.registry.abi, logs: receipt.logs, eventName: "ViewAccepted" }).length, 0);
        // The view that froze B is announced with the accepted height it contradicts: relayers pair it with that
        // height's ViewAccepted view and take the fork to every other chain, whoever called (fork hidden in a freeze).
        const conflicted = parseEventLogs({ abi: a.registry.abi, logs: receipt.logs, eventName: "ViewConflicted" });
        assert.deepEqual(conflicted.map((log) => log.args), [{ chainId: b.chainId, acceptedHeight: honest.height, view_: forked, signatures: forkedSignatures }]);
        assert.equal(gain, REWARD);
        await assertSlashedOnce(a, b);
        const after = await stateOf(a, b);
        assert.equal(before.balance - after.balance, REWARD); // the registry keeps pool + burned
        assert.equal(after.frozenAt, receipt.blockNumber);
        // The branch A had accepted stays B's identity.
        assert.equal(after.height, honest.height);
        assert.equal(after.word, accThrough(honest));
        // Once: the same view, or the pair as evidence, is refused now.
        await reverts(a.registry.write.submitView([forked, forkedSignatures, []]), "ViewRegistryChainFrozen", [b.chainId]);
        await reverts(a.registry.write.submitForkEvidence([honest, honestSignatures, forked, forkedSignatures]), "ViewRegistryChainFrozen", [b.chainId]);
        await assertSlashedOnce(a, b);
      });

      it("freezes B on a signed view at an accepted height with the same hashes but another acc (history rewrite at one height)", async () => {
        await mine(b, 2 * K);
        await relayView(b, a);
        const { view, signatures } = await nextViewOfB(3n);
        assert.ok(view.height + 1n > BigInt(K));
        await a.registry.write.submitView([view, signatures, []]);
        const rewritten = withForgedAcc(view);
        const { receipt, gain } = await asMallory(a, async (r) => r.write.submitView([rewritten, await sign(b, rewritten), []]));
        assert.deepEqual(chainFrozenIn(a, receipt.logs), expectedFreeze(b, a.users.mallory.account.address));
        assert.equal(gain, REWARD);
        await assertSlashedOnce(a, b);
      });

      it("freezes B on a newer signed view whose prefix disagrees with the accepted word (fork in the overlap)", async () => {
        const { honest, forked, base } = await forkChain(b, 4, 9);
        const honestSignatures = await sign(b, honest);
        await a.registry.write.submitView([honest, honestSignatures, []]);
        assert.ok(forked.height > honest.height && forked.height + 1n - BigInt(forked.hashes.length) <= honest.height + 1n); // windows meet
        assert.notEqual(forked.hashes[Number(base + 1n - (forked.height + 1n - BigInt(forked.hashes.length)))], honest.hashes.at(-4)); // base+1 differs
        const forkedSignatures = await sign(b, forked);
        const before = await stateOf(a, b);
        const reporter = a.users.mallory.account.address;

        const registry = await registryAs(a);
        assert.equal((await registry.simulate.submitView([forked, forkedSignatures, []])).result, UpdateResult.Misbehaviour);
        const { receipt, gain } = await asMallory(a, (r) => r.write.submitView([forked, forkedSignatures, []]));

        assert.deepEqual(chainFrozenIn(a, receipt.logs), expectedFreeze(b, reporter));
        assert.equal(parseEventLogs({ abi: a.registry.abi, logs: receipt.logs, eventName: "ViewAccepted" }).length, 0);
        assert.equal(gain, REWARD);
        const after = await stateOf(a, b);
        assert.deepEqual(after, {
          height: honest.height,
          word: accThrough(honest),
          bond: 0n,
          pool: [POOL, POOL],
          frozen: true,
          frozenAt: receipt.blockNumber,
          balance: before.balance - REWARD, // pool + burned stay in the registry
        });
        assert.equal(await a.registry.read.accThrough([b.chainId, forked.height]), ZERO_HASH);
        await assertSlashedOnce(a, b);
        // A second piece of evidence is refused: one bond, slashed once.
        await reverts(a.registry.write.submitForkEvidence([honest, honestSignatures, forked, forkedSignatures]), "ViewRegistryChainFrozen", [b.chainId]);
        await reverts(a.registry.write.submitView([forked, forkedSignatures, []]), "ViewRegistryChainFrozen", [b.chainId]);
        assert.deepEqual(await stateOf(a, b), after);
      });

      it("freezes B on a newer signed view whose acc disagrees with the accepted word (forged-history attack)", async () => {
        await mine(b, 2 * K);
        await relayView(b, a);
        const { view } = await nextViewOfB(3n);
        assert.ok(view.height + 1n > BigInt(K));
        const rewritten = withForgedAcc(view); // real hashes, another history below them
        const { receipt, gain } = await asMallory(a, async (r) => r.write.submitView([rewritten, await sign(b, rewritten), []]));
        assert.deepEqual(chainFrozenIn(a, receipt.logs), expectedFreeze(b, a.users.mallory.account.address));
        assert.equal(gain, REWARD);
        await assertSlashedOnce(a, b);
      });

      it("freezes B on a signed view that rewrites an accepted height below the newest (deep-rewrite attack)", async () => {
        await mine(b, 3 * K);
        const older = await relayView(b, a);
        await mine(b, 3 * K);
        const newest = await relayView(b, a);
        const rewritten = withForgedHash(await viewOf(b, K, older), 0); // its window lies wholly below the newest one
        const { receipt, gain } = await asMallory(a, async (r) => r.write.submitView([rewritten, await sign(b, rewritten), []]));
        assert.deepEqual(chainFrozenIn(a, receipt.logs), expectedFreeze(b, a.users.mallory.account.address));
        assert.equal(gain, REWARD);
        await assertSlashedOnce(a, b);
        assert.equal(await a.registry.read.latestHeight([b.chainId]), newest);
      });
    });
  });

  describe("ViewAccepted", () => {
    it("carries the full view and signatures when the view is posted through a contract (a view posted through a contract escapes the overlay)", async () => {
      const forwarder = await a.viem.deployContract("Forwarder");
      const { view, signatures, stored } = await nextViewOfB(20n);
      const bridge = await bridgeFor(b, view, stored);
      assert.ok(bridge.length > 0);
      const data = encodeFunctionData({ abi: a.registry.abi, functionName: "submitView", args: [view, signatures, bridge] });
      const hash = await forwarder.write.forward([a.registry.address, data]);
      const receipt = await a.publicClient.waitForTransactionReceipt({ hash });
      // The transaction calls the forwarder: its input is no submitView a relayer watching the registry would decode.
      assert.equal(getAddress(receipt.to!), getAddress(forwarder.address));
      assert.equal(await a.registry.read.latestHeight([b.chainId]), view.height);

      const decoded = viewAcceptedIn(a, receipt.logs);
      assert.equal(decoded.chainId, b.chainId);
      assert.equal(decoded.height, view.height);
      assert.equal(decoded.accThrough, accThrough(view));
      assert.deepEqual(decoded.view_, view);
      assert.deepEqual(decoded.signatures, signatures);

      // What the event carries is evidence enough: with a conflicting signed view it freezes B on any chain.
      const conflicting = withForgedHash(decoded.view_ as View, decoded.view_.hashes.length - 1);
      const conflictingSignatures = await sign(b, conflicting);
      await c.registry.write.submitForkEvidence([decoded.view_, decoded.signatures, conflicting, conflictingSignatures]);
      await assertSlashedOnce(c, b);
      const { receipt: frozen, gain } = await asMallory(a, (r) => r.write.submitForkEvidence([decoded.view_, decoded.signatures, conflicting, conflictingSignatures]));
      assert.deepEqual(chainFrozenIn(a, frozen.logs), expectedFreeze(b, a.users.mallory.account.address));
      assert.equal(gain, REWARD);
      await assertSlashedOnce(a, b);
    });

    it("pays the reward to the contract that reported a fork through submitView (reporter is the caller, not the sender)", async () => {
      const forwarder = await a.viem.deployContract("Forwarder");
      const { view, signatures } = await nextViewOfB();
      await a.registry.write.submitView([view, signatures, []]);
      const forged = withForgedHash(view, view.hashes.length - 1);
      const data = encodeFunctionData({ abi: a.registry.abi, functionName: "submitView", args: [forged, await sign(b, forged), []] });
      const hash = await forwarder.write.forward([a.registry.address, data]);
      const receipt = await a.publicClient.waitForTransactionReceipt({ hash });
      assert.deepEqual(chainFrozenIn(a, receipt.logs), expectedFreeze(b, forwarder.address));
      assert.equal(await a.publicClient.getBalance({ address: forwarder.address }), REWARD);
      await assertSlashedOnce(a, b);
    });
    it("freezes B even when the reporter refuses the reward (a reporter cannot block a freeze): the reward is forfeited, burned", async () => {
      const refusing = await a.viem.deployContract("RefusingReceiver", [0]); // Mode.Refuse: receive() reverts
      const { view, signatures } = await nextViewOfB();
      await a.registry.write.submitView([view, signatures, []]);
      const forged = withForgedHash(view, view.hashes.length - 1);
      const registryBefore = await a.publicClient.getBalance({ address: a.registry.address });
      await a.conn.provider.request({ method: "hardhat_impersonateAccount", params: [refusing.address] });
      await a.conn.provider.request({ method: "hardhat_setBalance", params: [refusing.address, toHex(10n ** 20n)] });
      const asRefusing = await a.viem.getContractAt("ViewRegistry", a.registry.address, { client: { wallet: await a.viem.getWalletClient(refusing.address) } });
      const receipt = await a.publicClient.waitForTransactionReceipt({ hash: await asRefusing.write.submitView([forged, await sign(b, forged), []]) });
      assert.equal(receipt.status, "success");
      assert.deepEqual(chainFrozenIn(a, receipt.logs), expectedFreeze(b, refusing.address));
      const forfeited = parseEventLogs({ abi: a.registry.abi, logs: receipt.logs, eventName: "RewardForfeited" });
      assert.deepEqual(forfeited.map((log) => log.args.reward), [REWARD]);
      assert.equal(await a.publicClient.getBalance({ address: a.registry.address }), registryBefore);
      await assertSlashedOnce(a, b);
    });
  });

  describe("submitViewFor", () => {
    it("refuses a caller other than the Gateway (reward-redirection attack)", async () => {
      const { view, signatures } = await nextViewOfB();
      const before = await stateOf(a, b);
      const mallory = getAddress(a.users.mallory.account.address);
      const registry = await registryAs(a);
      await reverts(registry.write.submitViewFor([view, signatures, [], mallory]), "ViewRegistryOnlyGateway", [mallory]);
      // Not even the owner.
      await reverts(a.registry.write.submitViewFor([view, signatures, [], mallory]), "ViewRegistryOnlyGateway", [getAddress(a.users.deployer.account.address)]);
      assert.deepEqual(await stateOf(a, b), before);
    });

    it("accepts a view from the Gateway and pays a freeze's reward to the reporter it names, not to the Gateway", async () => {
      const { honest, forked } = await forkChain(b, 4);
      const asGateway = await registryAsGateway(a);
      const carol = a.users.carol.account.address;
      const honestSignatures = await sign(b, honest);
      const accepted = await a.publicClient.waitForTransactionReceipt({ hash: await asGateway.write.submitViewFor([honest, honestSignatures, [], carol]) });
      assert.deepEqual(viewAcceptedIn(a, accepted.logs), { chainId: b.chainId, height: honest.height, accThrough: accThrough(honest), view_: honest, signatures: honestSignatures });

      const carolBefore = await a.publicClient.getBalance({ address: carol });
      const gatewayBefore = await a.publicClient.getBalance({ address: a.gateway.address });
      const forkedSignatures = await sign(b, forked);
      assert.equal((await asGateway.simulate.submitViewFor([forked, forkedSignatures, [], carol], { account: a.gateway.address })).result, UpdateResult.Misbehaviour);
      const receipt = await a.publicClient.waitForTransactionReceipt({ hash: await asGateway.write.submitViewFor([forked, forkedSignatures, [], carol]) });
      assert.deepEqual(chainFrozenIn(a, receipt.logs), expectedFreeze(b, carol));
      assert.equal((await a.publicClient.getBalance({ address: carol })) - carolBefore, REWARD);
      const gas = receipt.gasUsed * receipt.effectiveGasPrice;
      assert.equal(await a.publicClient.getBalance({ address: a.gateway.address }), gatewayBefore - gas);
      await assertSlashedOnce(a, b);
    });
  });

  describe("submitForkEvidence", () => {
    it("freezes B and slashes its bond once on two conflicting views signed by its committee (fork attack)", async () => {
      const stored = await stateOf(a, b);
      const { honest, forked } = await forkChain(b, 4);
      const sigHonest = await sign(b, honest);
      const sigForked = await sign(b, forked);

      const { receipt, gain } = await asMallory(a, (r) => r.write.submitForkEvidence([honest, sigHonest, forked, sigForked]));

      assert.deepEqual(chainFrozenIn(a, receipt.logs), expectedFreeze(b, a.users.mallory.account.address));
      const proven = parseEventLogs({ abi: a.registry.abi, logs: receipt.logs, eventName: "ForkProven" });
      assert.deepEqual(proven.map((log) => log.args), [{ chainId: b.chainId, a: honest, sigA: sigHonest, b: forked, sigB: sigForked }]);
      assert.equal(gain, REWARD);
      await assertSlashedOnce(a, b);
      const after = await stateOf(a, b);
      assert.equal(stored.balance - after.balance, REWARD);
      assert.equal(after.height, stored.height);
      assert.equal(after.word, stored.word);
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
      assert.equal(await a.registry.read.bondOf([b.chainId]), BOND);
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
      await reverts(a.registry.write.submitForkEvidence([viewOfB, sigB, viewOfC, await sign(c, viewOfC)]), "ViewRegistryWrongChain", [b.chainId, c.chainId]);
      assert.equal(await a.registry.read.isFrozen([b.chainId]), false);
      assert.equal(await a.registry.read.isFrozen([c.chainId]), false);
    });

    it("refuses evidence whose conflicting view carries forged signatures (framing an honest committee)", async () => {
      const before = await stateOf(a, b);
      const { view, signatures } = await nextViewOfB();
      const forged = withForgedHash(view, 0);
      await reverts(a.registry.write.submitForkEvidence([view, signatures, forged, await sign(b, forged, outsiders(4))]), "ViewRegistryUnknownSigner");
      // Signatures of B's committee over another view do not sign the forged one either.
      await reverts(a.registry.write.submitForkEvidence([view, signatures, forged, signatures]), "ViewRegistryUnknownSigner");
      assert.deepEqual(await stateOf(a, b), before);
      assert.equal(before.bond, BOND);
    });

    it("refuses evidence signed by a minority of the committee (corrupt-minority framing)", async () => {
      const { view, signatures } = await nextViewOfB();
      const forged = withForgedHash(view, 0);
      const minority = await sign(b, forged, b.committee.slice(0, THRESHOLD - 1));
      const below = [BigInt(THRESHOLD - 1), BigInt(THRESHOLD)];
      await reverts(a.registry.write.submitForkEvidence([view, signatures, forged, minority]), "ViewRegistryBelowThreshold", below);
      await reverts(a.registry.write.submitForkEvidence([forged, minority, view, signatures]), "ViewRegistryBelowThreshold", below);
      assert.equal(await a.registry.read.bondOf([b.chainId]), BOND);
      assert.equal(await a.registry.read.isFrozen([b.chainId]), false);
    });

    it("refuses evidence whose views were signed for another chain's domain (cross-domain replay of evidence)", async () => {
      const { view } = await nextViewOfB();
      const forged = withForgedHash(view, 0);
      const domain = { chainId: c.chainId, gateway: c.gateway.address };
      await reverts(
        a.registry.write.submitForkEvidence([view, await signUnderDomain(view, b.committee, domain), forged, await signUnderDomain(forged, b.committee, domain)]),
        "ViewRegistryUnknownSigner",
      );
      assert.equal(await a.registry.read.isFrozen([b.chainId]), false);
    });

    it("takes two views at one height with the same hashes but different acc as evidence (history-rewrite fork)", async () => {
      await mine(b, 2 * K);
      const view = await viewOf(b, K);
      assert.ok(view.height + 1n > BigInt(K));
      const rewritten = withForgedAcc(view);
      assert.deepEqual(rewritten.hashes, view.hashes);
      const { receipt, gain } = await asMallory(a, async (r) => r.write.submitForkEvidence([view, await sign(b, view), rewritten, await sign(b, rewritten)]));
      assert.deepEqual(chainFrozenIn(a, receipt.logs), expectedFreeze(b, a.users.mallory.account.address));
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

  describe("compensate", () => {
    it("refuses a caller other than the Gateway (pool-draining attack)", async () => {
      await freezeB();
      const mallory = getAddress(a.users.mallory.account.address);
      const registry = await registryAs(a);
      await reverts(registry.write.compensate([b.chainId, mallory, 1n]), "ViewRegistryOnlyGateway", [mallory]);
      await reverts(a.registry.write.compensate([b.chainId, mallory, 1n]), "ViewRegistryOnlyGateway", [getAddress(a.users.deployer.account.address)]);
      assert.deepEqual(await a.registry.read.poolOf([b.chainId]), [POOL, POOL]);
    });

    it("pays the Gateway's claims out of the pool and never past it (pool-overdraw attack)", async () => {
      const asGateway = await registryAsGateway(a);
      // Before a freeze there is no pool to pay from.
      await reverts(asGateway.write.compensate([b.chainId, a.users.carol.account.address, 1n]), "ViewRegistryPoolExhausted", [b.chainId, 1n, 0n]);
      await freezeB();
      const carol = a.users.carol.account.address;
      const carolBefore = await a.publicClient.getBalance({ address: carol });
      const registryBefore = await a.publicClient.getBalance({ address: a.registry.address });
      const half = POOL / 2n;
      const receipt = await a.publicClient.waitForTransactionReceipt({ hash: await asGateway.write.compensate([b.chainId, carol, half]) });
      const paid = parseEventLogs({ abi: a.registry.abi, logs: receipt.logs, eventName: "CompensationPaid" });
      assert.deepEqual(paid.map((e) => e.args), [{ chainId: b.chainId, to: getAddress(carol), amount: half }]);
      assert.equal((await a.publicClient.getBalance({ address: carol })) - carolBefore, half);
      assert.equal(registryBefore - (await a.publicClient.getBalance({ address: a.registry.address })), half);
      assert.deepEqual(await a.registry.read.poolOf([b.chainId]), [POOL, POOL - half]);
      await reverts(asGateway.write.compensate([b.chainId, carol, POOL - half + 1n]), "ViewRegistryPoolExhausted", [b.chainId, POOL - half + 1n, POOL - half]);
      // The burned half is out of reach: draining the pool leaves exactly it (and C's bond) in the registry.
      await asGateway.write.compensate([b.chainId, carol, POOL - half]);
      assert.deepEqual(await a.registry.read.poolOf([b.chainId]), [POOL, 0n]);
      assert.equal(await a.publicClient.getBalance({ address: a.registry.address }), BURNED + BOND);
    });
  });

  describe("counterparty", () => {
    it("reports capacity = 40 % of the bond, grown by postBond (exposure beyond what a fork's pool can repay)", async () => {
      const cp = await a.registry.read.counterparty([b.chainId]);
      assert.deepEqual(cp, { gateway: getAddress(b.gateway.address), frozen: false, frozenAt: 0n, height: await a.registry.read.latestHeight([b.chainId]), capacity: CAPACITY });
      const extra = parseEther("10");
      const { receipt } = await asMallory(a, (r) => r.write.postBond([b.chainId], { value: extra }));
      const posted = parseEventLogs({ abi: a.registry.abi, logs: receipt.logs, eventName: "BondPosted" });
      assert.deepEqual(posted.map((e) => e.args), [{ chainId: b.chainId, from: getAddress(a.users.mallory.account.address), amount: extra, bond: BOND + extra }]);
      assert.equal((await a.registry.read.counterparty([b.chainId])).capacity, ((BOND + extra) * POOL_BPS) / 10_000n);
    });

    it("keeps views accepted before a freeze readable, and the chain frozen with no capacity (proofs after a freeze)", async () => {
      const genesis = await a.registry.read.latestHeight([b.chainId]);
      const genesisWord = await a.registry.read.accThrough([b.chainId, genesis]);
      await mine(b, 2 * K);
      const height = await relayView(b, a);
      const view = await viewOf(b, K, height);
      const receipt = await freezeB();

      assert.deepEqual(await a.registry.read.counterparty([b.chainId]), {
        gateway: getAddress(b.gateway.address),
        frozen: true,
        frozenAt: receipt.blockNumber,
        height,
        capacity: 0n,
      });
      assert.equal(await a.registry.read.frozenAt([b.chainId]), receipt.blockNumber);
      assert.equal(await a.registry.read.latestHeight([b.chainId]), height);
      assert.equal(await a.registry.read.accThrough([b.chainId, height]), accThrough(view));
      assert.equal(await a.registry.read.accThrough([b.chainId, genesis]), genesisWord);
      // A header proof at the accepted height still checks against the kept word.
      const header = encodeBlockHeader((await b.publicClient.request({ method: "eth_getBlockByNumber", params: [toHex(height), false] })) as RpcBlock);
      assert.equal(keccak256(concat([accBeforeHead(view), keccak256(header)])), await a.registry.read.accThrough([b.chainId, height]));
      // No more bond for a frozen chain (it would be stuck behind a slashed committee).
      await reverts(a.registry.write.postBond([b.chainId], { value: 1n }), "ViewRegistryChainFrozen", [b.chainId]);
      // C is untouched.
      assert.equal((await a.registry.read.counterparty([c.chainId])).capacity, CAPACITY);
    });
  });
});
