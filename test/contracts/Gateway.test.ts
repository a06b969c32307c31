import assert from "node:assert/strict";
import {
  encodeAbiParameters,
  encodeErrorResult,
  encodeFunctionData,
  decodeErrorResult,
  keccak256,
  pad,
  parseEther,
  parseEventLogs,
  toHex,
  type Abi,
  type Address,
  type Hex,
  type TransactionReceipt,
} from "viem";
import { Status } from "../../relayer/chain/abis.js";
import { getRecordProofs, NO_HEADER_PROOF } from "../../relayer/chain/recordProof.js";
import { accBeforeHead, type View } from "../../relayer/view/view.js";
import {
  BOND,
  COMPENSATION_WINDOW,
  K,
  MAX_LIFETIME,
  NO_POST,
  POOL_BPS,
  SLASH_REWARD_BPS,
  bridgeFor,
  deploySystem,
  mine,
  mineTo,
  recordProofs,
  relayView,
  sign,
  viewOf,
  type BatchProof,
  type Chain,
} from "../fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg, type Registration, type Swap } from "../fixtures/swap.js";
import { flipByte } from "../fixtures/tamper.js";

const TTL = 40n;
/** What one terminate of one contract may cost, whatever the waiting list holds. */
const TERMINATE_GAS_BOUND = 200_000n;
/** What one insert or remove of the waiting list may cost, as a whole transaction. */
const WAITING_LIST_OP_GAS_BOUND = 50_000n;
/** Storage slot of the Gateway's `_waitingList` (after Ownable's `_owner`, `_assetValue` and `_exposure`). */
const WAITING_LIST_SLOT = 3n;

type Wallet = Chain["users"]["alice"];
type Account = Wallet["account"];
type ViewPost = { view_: View; signatures: Hex[]; bridge: Hex[] };

// ---------------------------------------------------------------------------------------------------------------------
// Reverts
// ---------------------------------------------------------------------------------------------------------------------

/** The raw revert data of a rejected viem call, found anywhere on its cause chain. */
function revertData(error: unknown): Hex | undefined {
  for (let e = error as { cause?: unknown; raw?: unknown; data?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.raw === "string" && e.raw.startsWith("0x")) return e.raw as Hex;
    if (typeof e.data === "string" && e.data.startsWith("0x")) return e.data as Hex;
  }
  return undefined;
}

/**
 * Asserts that `promise` reverts with the custom error `name` (decoded against `chain`'s Gateway, registry and token and
 * `abis`: errors bubble up from the registry and tokens) and, when given, `args` (an `undefined` entry matches anything).
 */
async function reverts(chain: Chain, promise: Promise<unknown>, name: string, args?: readonly unknown[], abis: readonly Abi[] = []) {
  await assert.rejects(promise, (error: unknown) => {
    const data = revertData(error);
    assert.ok(data, `expected ${name}, got no revert data: ${String((error as Error)?.message ?? error).slice(0, 400)}`);
    let decoded: { errorName: string; args?: readonly unknown[] | undefined } | undefined;
    for (const abi of [chain.gateway.abi, chain.registry.abi, chain.token.abi, ...abis] as Abi[]) {
      try {
        decoded = decodeErrorResult({ abi, data });
        break;
      } catch {
        // not this ABI's error
      }
    }
    assert.equal(decoded?.errorName, name, `expected ${name}, got ${decoded?.errorName ?? data}`);
    if (args) {
      assert.equal((decoded?.args ?? []).length, args.length, `${name}: wrong number of arguments`);
      args.forEach((arg, i) => {
        if (arg !== undefined) same(decoded?.args?.[i], arg, `${name}: argument ${i}`);
      });
    }
    return true;
  });
}

/** `value` with every address lower-cased: viem checksums what it decodes, Hardhat's accounts are lower case. */
function norm(value: unknown): unknown {
  if (typeof value === "string" && /^0x[0-9a-fA-F]{40}$/.test(value)) return value.toLowerCase();
  if (Array.isArray(value)) return value.map(norm);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, norm(v)]));
  return value;
}

/** deepEqual up to the case of addresses. */
function same(actual: unknown, expected: unknown, message?: string) {
  if (message === undefined) assert.deepEqual(norm(actual), norm(expected));
  else assert.deepEqual(norm(actual), norm(expected), message);
}

/** The revert data of `name(args)` as the Gateway raises it: what a StepSkipped event carries. */
function gatewayError(chain: Chain, errorName: string, args: readonly unknown[]): Hex {
  return encodeErrorResult({ abi: chain.gateway.abi as Abi, errorName, args });
}

// ---------------------------------------------------------------------------------------------------------------------
// Swaps and steps
// ---------------------------------------------------------------------------------------------------------------------

type SwapOptions = {
  salt?: Hex;
  ttlX?: bigint;
  ttlY?: bigint;
  /** Absolute expiries, instead of now + ttl. */
  expiryX?: bigint;
  expiryY?: bigint;
  registerByX?: bigint;
  registerByY?: bigint;
  amountX?: bigint;
  amountY?: bigint;
  /** An ERC-20 other than x's TestToken for the x leg (minted and approved by the caller). */
  assetX?: Address;
  beneficiaryX?: Address;
  beneficiaryY?: Address;
};

/** Alice pays 100 tokens on x to Bob; Bob pays 1 coin on y to Alice. Mints Alice the tokens she pays. */
async function tokenForCoin(x: Chain, y: Chain, o: SwapOptions = {}): Promise<Swap> {
  const { alice, bob } = x.users;
  const amountX = o.amountX ?? 100n;
  if (o.assetX === undefined) await x.token.write.mint([alice.account.address, amountX]);
  const nowX = await x.publicClient.getBlockNumber();
  const nowY = await y.publicClient.getBlockNumber();
  return prepareSwap(
    {
      chain: x,
      payer: alice,
      beneficiary: o.beneficiaryX ?? bob.account.address,
      asset: o.assetX ?? x.token.address,
      amount: amountX,
      expiry: o.expiryX ?? nowX + (o.ttlX ?? TTL),
      ...(o.registerByX === undefined ? {} : { registerBy: o.registerByX }),
    },
    {
      chain: y,
      payer: y.users.bob,
      beneficiary: o.beneficiaryY ?? alice.account.address,
      asset: NATIVE,
      amount: o.amountY ?? parseEther("1"),
      expiry: o.expiryY ?? nowY + (o.ttlY ?? TTL),
      ...(o.registerByY === undefined ? {} : { registerBy: o.registerByY }),
    },
    o.salt,
  );
}

async function registerBoth(swap: Swap) {
  await registerLeg(swap.x, swap.regX);
  await registerLeg(swap.y, swap.regY);
}

/** Registers the x leg of `swap` paid in `token` (an ERC-20 that is not x's TestToken). */
async function registerWith(token: { write: { approve: (args: [Address, bigint], o: { account: Account }) => Promise<Hex> } }, swap: Swap) {
  const account = swap.x.payer.account;
  await token.write.approve([swap.x.chain.gateway.address, swap.regX.amount], { account });
  await swap.x.chain.gateway.write.register([swap.regX], { account });
}

/** One contract as a step sees it: the chain it lives on, its counterparty, its terms, its id and its mirror's id. */
type Item = { here: Chain; there: Chain; reg: Registration; id: Hex; mirror: Hex };
const onX = (s: Swap): Item => ({ here: s.x.chain, there: s.y.chain, reg: s.regX, id: s.idX, mirror: s.idY });
const onY = (s: Swap): Item => ({ here: s.y.chain, there: s.x.chain, reg: s.regY, id: s.idY, mirror: s.idX });

type StepOptions = { account?: Account; height?: bigint; post?: ViewPost; proof?: BatchProof };

/** Proofs of the mirrors of `items` (one counterparty) at `height` (default: the newest the verifier accepted). */
async function proofsOf(items: readonly Item[], height?: bigint): Promise<BatchProof> {
  const { here, there } = items[0]!;
  return recordProofs(there, here, items.map((i) => i.mirror), height);
}

/** Sends a precommit or terminate of `items` (a batch with one counterparty) and returns its receipt. */
async function step(kind: "precommit" | "terminate", items: readonly Item[], o: StepOptions = {}): Promise<TransactionReceipt> {
  const { here } = items[0]!;
  const proof = o.proof ?? (await proofsOf(items, o.height));
  const args = [o.post ?? NO_POST, proof.at, items.map((i) => i.reg), proof.storageProofs] as const;
  const options = o.account ? { account: o.account } : {};
  const hash = kind === "precommit" ? await here.gateway.write.precommit(args, options) : await here.gateway.write.terminate(args, options);
  return here.publicClient.waitForTransactionReceipt({ hash });
}

const precommit = (items: readonly Item[], o?: StepOptions) => step("precommit", items, o);
const terminate = (items: readonly Item[], o?: StepOptions) => step("terminate", items, o);

/** Each side's view of the other relayed, then each side pre-committed on proof of its mirror. */
async function precommitBoth(swap: Swap) {
  await relayView(swap.y.chain, swap.x.chain);
  await relayView(swap.x.chain, swap.y.chain);
  await precommit([onX(swap)]);
  await precommit([onY(swap)]);
}

/** Both chains past their expiries, and each one's view of the other past it too. */
async function expireBoth(swap: Swap) {
  const [x, y] = [swap.x.chain, swap.y.chain];
  await mineTo(x, swap.regX.h1 + 1n);
  await mineTo(y, swap.regY.h1 + 1n);
  await relayView(y, x);
  await relayView(x, y);
}

async function statusOf(chain: Chain, id: Hex) {
  const [status] = await chain.gateway.read.recordOf([id]);
  return status;
}

const coins = (chain: Chain, address: Address) => chain.publicClient.getBalance({ address });

/** A view of `from` at its head (or `height`) signed by its committee, bridged to what `to` accepted: a ViewPost. */
async function postOf(from: Chain, to: Chain, height?: bigint): Promise<ViewPost> {
  const top = height ?? (await from.publicClient.getBlockNumber());
  const view = await viewOf(from, K, top);
  const latest = await to.registry.read.latestHeight([from.chainId]);
  return { view_: view, signatures: await sign(from, view), bridge: await bridgeFor(from, view, latest) };
}

/** A view of `target` signed by its committee at the height `on` accepted last, but over another block: fork evidence. */
async function conflictingPost(target: Chain, on: Chain): Promise<ViewPost> {
  const view = await viewOf(target, K, await on.registry.read.latestHeight([target.chainId]));
  const forged = { ...view, hashes: [...view.hashes.slice(0, -1), keccak256("0x01")] };
  return { view_: forged, signatures: await sign(target, forged), bridge: [] };
}

function eventsOf(chain: Chain, receipt: TransactionReceipt, eventName: string) {
  return parseEventLogs({ abi: chain.gateway.abi as Abi, logs: receipt.logs, eventName }).map((l) => l.args as Record<string, unknown>);
}

function registryEventsOf(chain: Chain, receipt: TransactionReceipt, eventName: string) {
  return parseEventLogs({ abi: chain.registry.abi as Abi, logs: receipt.logs, eventName }).map((l) => l.args as Record<string, unknown>);
}

/** Writes `word` into storage `slot` of `address` on `chain` (what a counterparty without our rules could hold). */
async function setStorage(chain: Chain, address: Address, slot: Hex, word: bigint) {
  await chain.conn.provider.request({ method: "hardhat_setStorageAt", params: [address, slot, pad(toHex(word))] });
}

/** The storage slot of word `index` of the Gateway's waiting list (16 counters per word). */
function waitingListWordSlot(index: bigint): Hex {
  return keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }], [index, WAITING_LIST_SLOT]));
}

/** A deterministic permutation of 0..n-1 (a linear congruential shuffle), so a failing order can be replayed. */
function shuffled(n: number, seed: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  let s = seed;
  for (let i = n - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------


describe("Gateway", () => {
  let a: Chain;
  let b: Chain;
  beforeEach(async () => {
    [a, b] = await deploySystem();
  });

  describe("register", () => {
    it("takes the escrow, records one word, emits the terms and counts the contract against the counterparty's bond", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      assert.equal(await a.token.read.balanceOf([a.gateway.address]), 100n);
      assert.equal(await coins(b, b.gateway.address), parseEther("1"));
      const [status, registeredAt, committedAt, finishedAt, valueWei] = await b.gateway.read.recordOf([swap.idY]);
      assert.deepEqual([status, registeredAt, committedAt, finishedAt, valueWei], [Status.Registered, await b.publicClient.getBlockNumber(), 0n, 0n, parseEther("1")]);
      assert.equal(await b.gateway.read.exposureOf([a.chainId]), parseEther("1"));
      assert.equal(await a.gateway.read.exposureOf([b.chainId]), 10n ** 9n); // 100 units at 1e-9 coin each: 1 gwei, never 0
      const [event] = await b.publicClient.getContractEvents({ address: b.gateway.address, abi: b.gateway.abi, eventName: "ContractRegistered", fromBlock: 0n });
      assert.equal(event?.args.contractId, swap.idY);
      assert.equal(event?.args.counterparty, a.chainId);
      assert.equal(event?.args.mirrorId, swap.idX);
      same(event?.args.terms, swap.regY);
    });

    it("refuses an expiry here more than maxLifetime ahead (overlong registration: h1)", async () => {
      // tokenForCoin mints, registerLeg approves (one block) and registers in the next: at now + 2.
      const tooLong = await tokenForCoin(a, b, { ttlX: MAX_LIFETIME + 3n });
      const now = await a.publicClient.getBlockNumber();
      await reverts(a, registerLeg(tooLong.x, tooLong.regX), "GatewayLifetimeTooLong", [tooLong.regX.h1, now + 2n]);
      const longest = await tokenForCoin(a, b, { ttlX: MAX_LIFETIME + 2n, salt: keccak256("0x01") });
      await registerLeg(longest.x, longest.regX);
      assert.equal(await statusOf(a, longest.idX), Status.Registered);
    });

    it("refuses a mirror expiry more than maxLifetime past the counterparty's accepted height (overlong registration: h2)", async () => {
      const accepted = await a.registry.read.latestHeight([b.chainId]);
      const nowB = await b.publicClient.getBlockNumber();
      const tooLong = await tokenForCoin(a, b, { expiryY: accepted + MAX_LIFETIME + 1n });
      await reverts(a, registerLeg(tooLong.x, tooLong.regX), "GatewayLifetimeTooLong", [accepted + MAX_LIFETIME + 1n, accepted]);
      assert.ok(tooLong.regX.h2 - nowB <= MAX_LIFETIME + 1n);
      const longest = await tokenForCoin(a, b, { expiryY: accepted + MAX_LIFETIME, salt: keccak256("0x01") });
      await registerLeg(longest.x, longest.regX);
      assert.equal(await statusOf(a, longest.idX), Status.Registered);
    });

    it("refuses a registration after registerBy (late registration)", async () => {
      const now = await a.publicClient.getBlockNumber();
      const swap = await tokenForCoin(a, b, { registerByX: now + 2n }); // mint at now + 1, approve at now + 2, register at now + 3
      await reverts(a, registerLeg(swap.x, swap.regX), "GatewayRegistrationLate", [now + 2n, now + 3n]);
      assert.equal(await statusOf(a, swap.idX), Status.None);
      assert.equal(await a.token.read.balanceOf([a.gateway.address]), 0n);
    });

    it("refuses inconsistent terms (registerBy after h1, mirrorBy after h2, zero amount, h1 already past)", async () => {
      const swap = await tokenForCoin(a, b);
      const now = await a.publicClient.getBlockNumber();
      for (const terms of [
        { ...swap.regX, registerBy: swap.regX.h1 + 1n },
        { ...swap.regX, mirrorBy: swap.regX.h2 + 1n },
        { ...swap.regX, amount: 0n },
        { ...swap.regX, h1: now + 1n, registerBy: now + 1n },
      ]) {
        await reverts(a, a.gateway.write.register([terms], { account: a.users.alice.account }), "GatewayInvalidRegistration");
      }
    });

    it("refuses the same registration twice (duplicate) and takes the escrow once", async () => {
      const swap = await tokenForCoin(a, b, { amountX: 100n });
      await a.token.write.mint([a.users.alice.account.address, 100n]);
      await registerLeg(swap.x, swap.regX);
      await reverts(a, registerLeg(swap.x, swap.regX), "GatewayAlreadyRegistered", [swap.idX]);
      assert.equal(await a.token.read.balanceOf([a.gateway.address]), 100n);
      assert.equal(await a.token.read.balanceOf([a.users.alice.account.address]), 100n);
    });

    it("refuses a counterparty the registry does not know (unknown counterparty), and this chain itself", async () => {
      const swap = await tokenForCoin(a, b);
      await reverts(a, registerLeg(swap.x, { ...swap.regX, counterparty: 4242n }), "ViewRegistryUnknownChain", [4242n]);
      await reverts(a, registerLeg(swap.x, { ...swap.regX, counterparty: a.chainId }), "GatewayInvalidCounterparty", [a.chainId]);
    });

    it("refuses a wrong payment: coin short of the amount, or coin sent with a token (wrong payment)", async () => {
      const swap = await tokenForCoin(a, b);
      const bob = b.users.bob.account;
      await reverts(b, b.gateway.write.register([swap.regY], { account: bob, value: parseEther("1") - 1n }), "GatewayWrongPayment", [parseEther("1"), parseEther("1") - 1n]);
      await a.token.write.approve([a.gateway.address, 100n], { account: a.users.alice.account });
      await reverts(a, a.gateway.write.register([swap.regX], { account: a.users.alice.account, value: 1n }), "GatewayWrongPayment", [0n, 1n]);
      assert.equal(await coins(b, b.gateway.address), 0n);
    });

    it("refuses a fee-on-transfer token whose escrow would fall short of the amount (fee-on-transfer)", async () => {
      const token = await a.viem.deployContract("BlacklistToken");
      await a.gateway.write.setAssetValue([token.address, 10n ** 18n]);
      await token.write.setFeeBps([100n]);
      await token.write.mint([a.users.alice.account.address, 100n]);
      const swap = await tokenForCoin(a, b, { assetX: token.address });
      await reverts(a, registerWith(token, swap), "GatewayWrongPayment", [100n, 99n]);
      assert.equal(await token.read.balanceOf([a.gateway.address]), 0n);
      assert.equal(await token.read.balanceOf([a.users.alice.account.address]), 100n);
    });

    it("refuses an asset its owner never valued (unlisted asset)", async () => {
      const token = await a.viem.deployContract("BlacklistToken");
      await token.write.mint([a.users.alice.account.address, 100n]);
      const swap = await tokenForCoin(a, b, { assetX: token.address });
      await reverts(a, registerWith(token, swap), "GatewayAssetNotAllowed", [token.address]);
      await reverts(a, a.gateway.write.setAssetValue([token.address, 1n], { account: a.users.mallory.account }), "OwnableUnauthorizedAccount");
    });
  });

  describe("precommit", () => {
    it("commits tx1 on proof of the mirror and locks it in the waiting list; anyone may call it", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await relayView(b, a);
      const [, mirrorRegisteredAt] = await b.gateway.read.recordOf([swap.idY]);
      const proof = await proofsOf([onX(swap)]);
      assert.deepEqual(await a.gateway.read.provenMirror([proof.at, swap.regX, proof.storageProofs[0]!]), [
        Status.Registered,
        mirrorRegisteredAt,
        0n,
        await a.registry.read.latestHeight([b.chainId]),
      ]);

      const receipt = await precommit([onX(swap)], { account: a.users.carol.account, proof });
      same(eventsOf(a, receipt, "ContractPrecommitted"), [{ contractId: swap.idX, expiry: swap.regX.h1, mirrorHeight: mirrorRegisteredAt }]);
      const [status, , committedAt] = await a.gateway.read.recordOf([swap.idX]);
      assert.equal(status, Status.Committed);
      assert.equal(committedAt, receipt.blockNumber);
      assert.deepEqual(await a.gateway.read.waitingList([swap.regX.h1 - 10n, swap.regX.h1 + 10n]), [[swap.regX.h1], [1n]]);
    });

    it("makes a second pre-commit of the same contract harmless (duplicate)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await relayView(b, a);
      const proof = await proofsOf([onX(swap)]);
      await precommit([onX(swap)], { proof });
      await reverts(a, precommit([onX(swap)], { proof }), "GatewayWrongStatus", [swap.idX, Status.Committed]);
      assert.deepEqual(await a.gateway.read.waitingList([swap.regX.h1, swap.regX.h1]), [[swap.regX.h1], [1n]]);
    });

    it("refuses after h1 (GatewayExpired)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await mineTo(a, swap.regX.h1);
      await relayView(b, a);
      await reverts(a, precommit([onX(swap)]), "GatewayExpired", [swap.regX.h1, undefined]);
    });

    it("refuses a mirror that was never registered (exclusion proof), and the escrow comes back at expiry", async () => {
      const swap = await tokenForCoin(a, b);
      await registerLeg(swap.x, swap.regX);
      await relayView(b, a);
      await reverts(a, precommit([onX(swap)]), "GatewayStorageProofInvalid", [swap.idY]);
      await mineTo(a, swap.regX.h1 + 1n);
      await a.gateway.write.cancel([swap.regX]);
      assert.equal(await statusOf(a, swap.idX), Status.Cancelled);
      assert.equal(await a.token.read.balanceOf([a.users.alice.account.address]), 100n);
    });

    it("refuses a mirror already cancelled on the counterparty (dead mirror)", async () => {
      const swap = await tokenForCoin(a, b, { ttlX: 80n, ttlY: 10n });
      await registerBoth(swap);
      await mineTo(b, swap.regY.h1 + 1n);
      await b.gateway.write.cancel([swap.regY]);
      await relayView(b, a);
      await reverts(a, precommit([onX(swap)]), "GatewayMirrorNotRegistered", [swap.idY, Status.Cancelled]);
    });

    it("refuses a mirror registered after mirrorBy (late mirror: a free option) and the first user cancels at expiry with everything back", async () => {
      const nowB = await b.publicClient.getBlockNumber();
      const swap = await tokenForCoin(a, b, { registerByY: nowB + 5n });
      assert.equal(swap.regX.mirrorBy, nowB + 5n);
      await registerBoth(swap);
      // A counterparty whose Gateway let the mirror in late (ours refuses it: see the next test) records a later
      // registration height: Bob waited past mirrorBy to see whether the swap still suits him.
      await mineTo(b, swap.regX.mirrorBy + 3n);
      const late = await b.publicClient.getBlockNumber();
      const slot = await b.gateway.read.recordSlot([swap.idY]);
      const word = BigInt((await b.publicClient.getStorageAt({ address: b.gateway.address, slot }))!);
      await setStorage(b, b.gateway.address, slot, (word & ~(0xffffffffffffffffn << 8n)) | (late << 8n));
      await mine(b, 1); // the write lands in a block's state
      await relayView(b, a);
      await reverts(a, precommit([onX(swap)]), "GatewayMirrorLate", [swap.idY, late, swap.regX.mirrorBy]);

      const alice = a.users.alice.account.address;
      await mineTo(a, swap.regX.h1 + 1n);
      await a.gateway.write.cancel([swap.regX], { account: a.users.carol.account });
      assert.equal(await statusOf(a, swap.idX), Status.Cancelled);
      assert.equal(await a.token.read.balanceOf([alice]), 100n);
      assert.equal(await a.token.read.balanceOf([a.gateway.address]), 0n);
      assert.equal(await a.gateway.read.exposureOf([b.chainId]), 0n);
    });

    it("refuses the mirror on the counterparty after its registerBy, so the first user is never locked in (late mirror at the source)", async () => {
      const nowB = await b.publicClient.getBlockNumber();
      const swap = await tokenForCoin(a, b, { registerByY: nowB + 2n });
      await registerLeg(swap.x, swap.regX);
      await mineTo(b, nowB + 5n);
      await reverts(b, registerLeg(swap.y, swap.regY), "GatewayRegistrationLate", [nowB + 2n, undefined]);
      await relayView(b, a);
      await reverts(a, precommit([onX(swap)]), "GatewayStorageProofInvalid", [swap.idY]);
      await mineTo(a, swap.regX.h1 + 1n);
      await a.gateway.write.cancel([swap.regX]);
      assert.equal(await a.token.read.balanceOf([a.users.alice.account.address]), 100n);
    });
  });

  describe("batches", () => {
    let s1: Swap;
    let s2: Swap;
    beforeEach(async () => {
      s1 = await tokenForCoin(a, b, { salt: keccak256("0x01") });
      s2 = await tokenForCoin(a, b, { salt: keccak256("0x02"), ttlX: TTL + 30n, ttlY: TTL + 30n });
      await registerBoth(s1);
      await registerBoth(s2);
      await relayView(b, a);
    });

    /** `proof` with the leaf of item `index`'s storage proof tampered. */
    function tamperedItem(proof: BatchProof, index: number): BatchProof {
      const storageProofs = proof.storageProofs.map((nodes, i) => (i === index ? nodes.map((n, j) => (j === nodes.length - 1 ? flipByte(n, -1) : n)) : nodes));
      return { at: proof.at, storageProofs };
    }

    it("pre-commits the good items and skips one whose storage proof was tampered, with its error (one bad proof)", async () => {
      const proof = tamperedItem(await proofsOf([onX(s1), onX(s2)]), 0);
      const receipt = await precommit([onX(s1), onX(s2)], { proof });
      same(eventsOf(a, receipt, "StepSkipped"), [{ contractId: s1.idX, reason: gatewayError(a, "GatewayStorageProofInvalid", [s1.idY]) }]);
      assert.equal(await statusOf(a, s1.idX), Status.Registered);
      assert.equal(await statusOf(a, s2.idX), Status.Committed);
    });

    it("skips an item already pre-committed and pre-commits the rest (duplicates in a batch)", async () => {
      await precommit([onX(s1)]);
      const receipt = await precommit([onX(s1), onX(s2), onX(s2)]);
      same(eventsOf(a, receipt, "StepSkipped"), [
        { contractId: s1.idX, reason: gatewayError(a, "GatewayWrongStatus", [s1.idX, Status.Committed]) },
        { contractId: s2.idX, reason: gatewayError(a, "GatewayWrongStatus", [s2.idX, Status.Committed]) },
      ]);
      assert.equal(eventsOf(a, receipt, "ContractPrecommitted").length, 1);
      assert.equal(await statusOf(a, s2.idX), Status.Committed);
    });

    it("reverts with the first item's own error when no item can proceed (a batch of bad items)", async () => {
      await precommit([onX(s1)]);
      const proof = tamperedItem(await proofsOf([onX(s1), onX(s2)]), 1);
      await reverts(a, precommit([onX(s1), onX(s2)], { proof }), "GatewayWrongStatus", [s1.idX, Status.Committed]);
      const reversed = tamperedItem(await proofsOf([onX(s2), onX(s1)]), 0);
      await reverts(a, precommit([onX(s2), onX(s1)], { proof: reversed }), "GatewayStorageProofInvalid", [s2.idY]);
      assert.equal(await statusOf(a, s2.idX), Status.Registered);
    });

    it("refuses a batch with two counterparties, an empty batch and one proof short (mixed counterparties)", async () => {
      const proof = await proofsOf([onX(s1), onX(s2)]);
      const other = { ...s2.regX, counterparty: 1003n };
      await reverts(a, a.gateway.write.precommit([NO_POST, proof.at, [s1.regX, other], proof.storageProofs]), "GatewayMixedCounterparties", [b.chainId, 1003n]);
      await reverts(a, a.gateway.write.terminate([NO_POST, proof.at, [s1.regX, other], proof.storageProofs]), "GatewayMixedCounterparties", [b.chainId, 1003n]);
      await reverts(a, a.gateway.write.precommit([NO_POST, proof.at, [], []]), "GatewayEmptyBatch");
      await reverts(a, a.gateway.write.precommit([NO_POST, proof.at, [s1.regX, s2.regX], [proof.storageProofs[0]!]]), "GatewayEmptyBatch");
    });

    it("terminates a batch in one transaction, pays each item once and skips an item not yet expired", async () => {
      await relayView(a, b);
      await precommit([onX(s1), onX(s2)]);
      await precommit([onY(s1), onY(s2)]);
      await expireBoth(s1); // s2 expires 30 blocks later on both chains
      const bob = a.users.bob.account.address;
      const receipt = await terminate([onX(s1), onX(s1), onX(s2)]);
      same(eventsOf(a, receipt, "StepSkipped"), [
        { contractId: s1.idX, reason: gatewayError(a, "GatewayWrongStatus", [s1.idX, Status.Released]) },
        { contractId: s2.idX, reason: gatewayError(a, "GatewayNotExpired", [s2.regX.h1, receipt.blockNumber]) },
      ]);
      assert.equal(await a.token.read.balanceOf([bob]), 100n);
      await expireBoth(s2);
      await terminate([onX(s1), onX(s2)]);
      await terminate([onY(s1), onY(s2)]);
      assert.equal(await a.token.read.balanceOf([bob]), 200n);
      for (const [chain, id] of [[a, s1.idX], [a, s2.idX], [b, s1.idY], [b, s2.idY]] as const) assert.equal(await statusOf(chain, id), Status.Released);
      assert.equal(await a.token.read.balanceOf([a.gateway.address]), 0n);
      assert.equal(await coins(b, b.gateway.address), 0n);
    });
  });

  describe("the view posted with the step (ViewPost)", () => {
    it("posts the counterparty's view and pre-commits on it in one transaction", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await mine(b, 40); // far past what A accepted: the post bridges the gap
      const height = await b.publicClient.getBlockNumber();
      const post = await postOf(b, a, height);
      assert.ok(post.bridge.length > 0);
      const receipt = await precommit([onX(swap)], { post, height });
      assert.equal(await a.registry.read.latestHeight([b.chainId]), height);
      assert.equal(registryEventsOf(a, receipt, "ViewAccepted")[0]?.height, height);
      assert.equal(await statusOf(a, swap.idX), Status.Committed);
    });

    it("posts a view past h2 and terminates on it in one transaction", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      await mineTo(a, swap.regX.h1 + 1n);
      await mineTo(b, swap.regY.h1 + 1n); // A has not heard that B passed h2
      await reverts(a, terminate([onX(swap)]), "GatewayProofTooOld", [swap.regX.h2, await a.registry.read.latestHeight([b.chainId])]);
      const height = await b.publicClient.getBlockNumber();
      await terminate([onX(swap)], { post: await postOf(b, a, height), height });
      assert.equal(await statusOf(a, swap.idX), Status.Released);
      assert.equal(await a.token.read.balanceOf([a.users.bob.account.address]), 100n);
    });

    it("freezes the counterparty when the posted view conflicts, and the transaction stands (the freeze is not reverted)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await relayView(b, a);
      const carol = a.users.carol.account;
      const before = await coins(a, carol.address);
      const receipt = await precommit([onX(swap)], { post: await conflictingPost(b, a), proof: { at: NO_HEADER_PROOF, storageProofs: [[]] }, account: carol });
      assert.equal(receipt.status, "success");
      const reward = (BOND * SLASH_REWARD_BPS) / 10_000n;
      const pool = (BOND * POOL_BPS) / 10_000n;
      same(registryEventsOf(a, receipt, "ChainFrozen"), [
        { chainId: b.chainId, reporter: carol.address, slashed: BOND, reward, pool, burned: BOND - reward - pool },
      ]);
      assert.equal(await a.registry.read.isFrozen([b.chainId]), true);
      assert.equal(await coins(a, carol.address), before - receipt.gasUsed * receipt.effectiveGasPrice + reward);
      assert.equal(await statusOf(a, swap.idX), Status.Registered);

      // Nothing is pre-committed or registered with a frozen chain any more; the escrow comes back at expiry.
      await reverts(a, precommit([onX(swap)]), "GatewayCounterpartyFrozen", [b.chainId]);
      const next = await tokenForCoin(a, b, { salt: keccak256("0x01") });
      await reverts(a, registerLeg(next.x, next.regX), "GatewayCounterpartyFrozen", [b.chainId]);
      await mineTo(a, swap.regX.h1 + 1n);
      await a.gateway.write.cancel([swap.regX]);
      assert.equal(await a.token.read.balanceOf([a.users.alice.account.address]), 200n);
    });

    it("freezes the counterparty on a conflicting view posted with terminate, and still decides by the views accepted before it", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      await expireBoth(swap);
      const proof = await proofsOf([onX(swap)]);
      const receipt = await terminate([onX(swap)], { post: await conflictingPost(b, a), proof });
      assert.equal(registryEventsOf(a, receipt, "ChainFrozen").length, 1);
      assert.equal(await statusOf(a, swap.idX), Status.Released);
      assert.equal(await a.token.read.balanceOf([a.users.bob.account.address]), 100n);
    });

    it("refuses a posted view of another chain than the batch's counterparty", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await relayView(b, a);
      const post = await postOf(b, a);
      await reverts(a, precommit([onX(swap)], { post: { ...post, view_: { ...post.view_, chainId: 1003n } } }), "GatewayMixedCounterparties", [b.chainId, 1003n]);
    });
  });

  describe("terminate", () => {
    it("pays each user the other's asset when both sides pre-commit (ERC-20 for native coin)", async () => {
      const swap = await tokenForCoin(a, b);
      const alice = a.users.alice.account.address;
      const bob = b.users.bob.account.address;
      const aliceCoinBefore = await coins(b, alice);

      await registerBoth(swap);
      await precommitBoth(swap);
      assert.equal(await statusOf(a, swap.idX), Status.Committed);
      assert.equal(await statusOf(b, swap.idY), Status.Committed);

      await expireBoth(swap);
      const onA = await terminate([onX(swap)], { account: a.users.carol.account }); // anyone may terminate
      const onB = await terminate([onY(swap)], { account: b.users.carol.account });
      same(eventsOf(a, onA, "ContractReleased"), [{ contractId: swap.idX, beneficiary: bob, amount: 100n }]);
      same(eventsOf(b, onB, "ContractReleased"), [{ contractId: swap.idY, beneficiary: alice, amount: parseEther("1") }]);

      assert.equal(await statusOf(a, swap.idX), Status.Released);
      assert.equal(await statusOf(b, swap.idY), Status.Released);
      assert.equal(await a.token.read.balanceOf([bob]), 100n);
      assert.equal(await a.token.read.balanceOf([alice]), 0n);
      assert.equal(await coins(b, alice), aliceCoinBefore + parseEther("1"));
      assert.equal(await a.token.read.balanceOf([a.gateway.address]), 0n);
      assert.equal(await coins(b, b.gateway.address), 0n);
      assert.deepEqual(await a.gateway.read.waitingList([0n, swap.regX.h1 + 100n]), [[], []]);
      const [, , , finishedAt] = await a.gateway.read.recordOf([swap.idX]);
      assert.equal(finishedAt, onA.blockNumber);
    });

    it("refunds with tx1' when the mirror registered but never pre-committed before h2, and the mirror is cancelled", async () => {
      const swap = await tokenForCoin(a, b);
      const bob = b.users.bob.account.address;
      await registerBoth(swap);
      await relayView(b, a);
      await precommit([onX(swap)]);
      await expireBoth(swap);
      const bobCoinBefore = await coins(b, bob);

      const receipt = await terminate([onX(swap)]);
      same(eventsOf(a, receipt, "ContractRefunded"), [{ contractId: swap.idX, refundTo: a.users.alice.account.address, amount: 100n }]);
      await b.gateway.write.cancel([swap.regY], { account: b.users.carol.account }); // anyone may cancel

      assert.equal(await statusOf(a, swap.idX), Status.Refunded);
      assert.equal(await statusOf(b, swap.idY), Status.Cancelled);
      assert.equal(await a.token.read.balanceOf([a.users.alice.account.address]), 100n);
      assert.equal(await coins(b, bob), bobCoinBefore + parseEther("1"));
    });

    it("refuses before this chain passed h1 (GatewayNotExpired)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      await mineTo(b, swap.regY.h1 + 1n);
      await relayView(b, a);
      await reverts(a, terminate([onX(swap)]), "GatewayNotExpired", [swap.regX.h1, undefined]);
    });

    it("refuses a proof taken below h2, even at an accepted height (GatewayProofTooOld)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      const early = await a.registry.read.latestHeight([b.chainId]);
      await expireBoth(swap);
      await reverts(a, terminate([onX(swap)], { height: early }), "GatewayProofTooOld", [swap.regX.h2, early]);
    });

    it("refuses to terminate without a proof while the counterparty is not frozen (GatewayProofRequired)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      await expireBoth(swap);
      await reverts(a, terminate([onX(swap)], { proof: { at: NO_HEADER_PROOF, storageProofs: [[]] } }), "GatewayProofRequired", [swap.idX]);
    });

    it("makes a second termination of the same contract harmless (replay)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      await expireBoth(swap);
      const proof = await proofsOf([onX(swap)]);
      await terminate([onX(swap)], { proof });
      await reverts(a, terminate([onX(swap)], { proof }), "GatewayWrongStatus", [swap.idX, Status.Released]);
      await reverts(a, a.gateway.write.cancel([swap.regX]), "GatewayWrongStatus", [swap.idX, Status.Released]);
      assert.equal(await a.token.read.balanceOf([a.users.bob.account.address]), 100n);
    });

    it("refunds without a proof a contract its frozen counterparty's views never decided (ContractUndecided)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      const evidence = await conflictingPost(b, a); // A's view of B stops below h2
      await a.registry.write.submitView([evidence.view_, evidence.signatures, evidence.bridge]);
      assert.ok((await a.registry.read.latestHeight([b.chainId])) < swap.regX.h2);
      await mineTo(a, swap.regX.h1 + 1n);
      const receipt = await terminate([onX(swap)], { proof: { at: NO_HEADER_PROOF, storageProofs: [[]] } });
      same(eventsOf(a, receipt, "ContractUndecided"), [{ contractId: swap.idX }]);
      assert.equal(await statusOf(a, swap.idX), Status.Refunded);
      assert.equal(await a.token.read.balanceOf([a.users.alice.account.address]), 100n);
    });
  });

  describe("payouts that cannot block a termination", () => {
    it("ends the contract when the beneficiary contract's receive() reverts, and pays it later through withdraw (refusing receiver)", async () => {
      const receiver = await b.viem.deployContract("RefusingReceiver", [0]); // Refuse
      const swap = await tokenForCoin(a, b, { beneficiaryY: receiver.address });
      await registerBoth(swap);
      await precommitBoth(swap);
      await expireBoth(swap);
      const receipt = await terminate([onY(swap)]);

      assert.equal(await statusOf(b, swap.idY), Status.Released);
      same(eventsOf(b, receipt, "PayoutDeferred"), [{ asset: NATIVE, to: receiver.address, amount: parseEther("1") }]);
      assert.equal(await b.gateway.read.owed([NATIVE, receiver.address]), parseEther("1"));
      assert.equal(await coins(b, b.gateway.address), parseEther("1")); // held for the receiver, nothing else
      assert.deepEqual(await b.gateway.read.waitingList([swap.regY.h1, swap.regY.h1]), [[], []]);
      await mine(b, 2 * Number(COMPENSATION_WINDOW) + 1);
      assert.equal(await b.gateway.read.exposureOf([a.chainId]), 0n); // the deferred payout holds no capacity

      await reverts(b, receiver.write.withdrawFrom([b.gateway.address, NATIVE]), "RefusingReceiverRefused", [], [receiver.abi]);
      assert.equal(await b.gateway.read.owed([NATIVE, receiver.address]), parseEther("1"));
      await receiver.write.setMode([2]); // Accept
      const hash = await receiver.write.withdrawFrom([b.gateway.address, NATIVE]);
      const withdrawn = await b.publicClient.waitForTransactionReceipt({ hash });
      same(eventsOf(b, withdrawn, "PayoutWithdrawn"), [{ asset: NATIVE, to: receiver.address, amount: parseEther("1") }]);
      assert.equal(await coins(b, receiver.address), parseEther("1"));
      assert.equal(await b.gateway.read.owed([NATIVE, receiver.address]), 0n);
      assert.equal(await coins(b, b.gateway.address), 0n);
      await reverts(b, receiver.write.withdrawFrom([b.gateway.address, NATIVE]), "GatewayNothingOwed", [NATIVE, receiver.address]);
    });

    it("ends the contract when the beneficiary needs more gas than a payout forwards (gas-guzzling receiver)", async () => {
      const receiver = await b.viem.deployContract("RefusingReceiver", [1]); // Guzzle
      const swap = await tokenForCoin(a, b, { beneficiaryY: receiver.address });
      await registerBoth(swap);
      await precommitBoth(swap);
      await expireBoth(swap);
      const receipt = await terminate([onY(swap)]);
      assert.equal(await statusOf(b, swap.idY), Status.Released);
      // The payout's gas is capped, so even this terminate stays within the bound plus the cap.
      assert.ok(receipt.gasUsed < TERMINATE_GAS_BOUND + (await b.gateway.read.PAYOUT_GAS()), `terminate used ${receipt.gasUsed} gas`);
      same(eventsOf(b, receipt, "PayoutDeferred"), [{ asset: NATIVE, to: receiver.address, amount: parseEther("1") }]);
      await receiver.write.withdrawFrom([b.gateway.address, NATIVE]); // withdraw forwards all the gas it needs
      assert.equal(await receiver.read.received(), parseEther("1"));
      assert.equal(await coins(b, b.gateway.address), 0n);
    });

    it("ends the contract when the token blacklists the beneficiary, and pays once it is lifted (blacklisting token)", async () => {
      const token = await a.viem.deployContract("BlacklistToken");
      await a.gateway.write.setAssetValue([token.address, 10n ** 18n]);
      await token.write.mint([a.users.alice.account.address, 100n]);
      const swap = await tokenForCoin(a, b, { assetX: token.address });
      await registerWith(token, swap);
      await registerLeg(swap.y, swap.regY);
      await precommitBoth(swap);
      await expireBoth(swap);
      const bob = a.users.bob.account;
      await token.write.setBlacklisted([bob.address, true]);
      const receipt = await terminate([onX(swap)]);

      assert.equal(await statusOf(a, swap.idX), Status.Released);
      same(eventsOf(a, receipt, "PayoutDeferred"), [{ asset: token.address, to: bob.address, amount: 100n }]);
      assert.equal(await a.gateway.read.owed([token.address, bob.address]), 100n);
      assert.equal(await token.read.balanceOf([a.gateway.address]), 100n);
      await reverts(a, a.gateway.write.withdraw([token.address], { account: bob }), "BlacklistTokenBlacklisted", [bob.address], [token.abi]);
      await token.write.setBlacklisted([bob.address, false]);
      await a.gateway.write.withdraw([token.address], { account: bob });
      assert.equal(await token.read.balanceOf([bob.address]), 100n);
      assert.equal(await token.read.balanceOf([a.gateway.address]), 0n);
      await reverts(a, a.gateway.write.withdraw([token.address], { account: bob }), "GatewayNothingOwed", [token.address, bob.address]);
      // Bob's side on B was released as usual.
      await terminate([onY(swap)]);
      assert.equal(await statusOf(b, swap.idY), Status.Released);
    });

    it("cancels even when the token blacklists the payer, who withdraws later (blacklisted refund)", async () => {
      const token = await a.viem.deployContract("BlacklistToken");
      await a.gateway.write.setAssetValue([token.address, 10n ** 18n]);
      const alice = a.users.alice.account;
      await token.write.mint([alice.address, 100n]);
      const swap = await tokenForCoin(a, b, { assetX: token.address });
      await registerWith(token, swap);
      await token.write.setBlacklisted([alice.address, true]);
      await mineTo(a, swap.regX.h1 + 1n);
      const hash = await a.gateway.write.cancel([swap.regX]);
      const receipt = await a.publicClient.waitForTransactionReceipt({ hash });
      assert.equal(await statusOf(a, swap.idX), Status.Cancelled);
      same(eventsOf(a, receipt, "PayoutDeferred"), [{ asset: token.address, to: alice.address, amount: 100n }]);
      assert.equal(await a.gateway.read.exposureOf([b.chainId]), 0n);
      await token.write.setBlacklisted([alice.address, false]);
      await a.gateway.write.withdraw([token.address], { account: alice });
      assert.equal(await token.read.balanceOf([alice.address]), 100n);
    });
  });

  describe("cancel", () => {
    it("returns both escrows at expiry when neither side pre-committed, and not before", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await reverts(b, b.gateway.write.cancel([swap.regY]), "GatewayNotExpired", [swap.regY.h1, undefined]);
      await mineTo(a, swap.regX.h1 + 1n);
      await mineTo(b, swap.regY.h1 + 1n);
      const bob = b.users.bob.account.address;
      const bobCoinBefore = await coins(b, bob);
      await a.gateway.write.cancel([swap.regX]);
      await b.gateway.write.cancel([swap.regY]);
      assert.equal(await a.token.read.balanceOf([a.users.alice.account.address]), 100n);
      assert.equal(await coins(b, bob), bobCoinBefore + parseEther("1"));
      assert.equal(await a.gateway.read.exposureOf([b.chainId]), 0n); // a cancelled contract stops counting at once
      assert.equal(await b.gateway.read.exposureOf([a.chainId]), 0n);
      const [, , , finishedAt] = await a.gateway.read.recordOf([swap.idX]);
      assert.ok(finishedAt > swap.regX.h1);
    });

    it("refuses to cancel a pre-committed contract (its fate is the mirror's)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      await mineTo(a, swap.regX.h1 + 1n);
      await reverts(a, a.gateway.write.cancel([swap.regX]), "GatewayWrongStatus", [swap.idX, Status.Committed]);
    });

    it("refuses terms that were never registered (forged terms)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerLeg(swap.x, swap.regX);
      await mineTo(a, swap.regX.h1 + 1n);
      const forged = { ...swap.regX, refundTo: a.users.mallory.account.address };
      const [forgedId] = await a.gateway.read.contractIds([forged]);
      await reverts(a, a.gateway.write.cancel([forged]), "GatewayWrongStatus", [forgedId, Status.None]);
      assert.equal(await a.token.read.balanceOf([a.gateway.address]), 100n);
    });
  });

  describe("forged proofs", () => {
    let swap: Swap;
    beforeEach(async () => {
      swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await relayView(b, a);
    });

    it("refuses a proof of the wrong slot (another contract's record)", async () => {
      const other = await tokenForCoin(b, a, { salt: keccak256("0x02") });
      await registerLeg(other.x, other.regX);
      await relayView(b, a);
      const proof = await recordProofs(b, a, [other.idX]);
      await reverts(a, precommit([onX(swap)], { proof }), "GatewayStorageProofInvalid", [swap.idY]);
    });

    it("refuses a proof whose value was changed (tampered leaf)", async () => {
      const proof = await proofsOf([onX(swap)]);
      const nodes = proof.storageProofs[0]!;
      const storageProofs = [nodes.map((n, i) => (i === nodes.length - 1 ? flipByte(n, -1) : n))];
      await reverts(a, precommit([onX(swap)], { proof: { at: proof.at, storageProofs } }), "GatewayStorageProofInvalid", [swap.idY]);
    });

    it("refuses a header the registry never accepted: tampered, unaccepted height, wrong accBefore (header not accepted)", async () => {
      const accepted = await a.registry.read.latestHeight([b.chainId]);
      const proof = await proofsOf([onX(swap)]);
      const header = flipByte(proof.at.header, 100); // inside the state root
      await reverts(a, precommit([onX(swap)], { proof: { ...proof, at: { ...proof.at, header } } }), "GatewayHeaderNotAccepted", [b.chainId, accepted]);
      const accBefore = keccak256("0x02");
      await reverts(a, precommit([onX(swap)], { proof: { ...proof, at: { ...proof.at, accBefore } } }), "GatewayHeaderNotAccepted", [b.chainId, accepted]);
      // A block inside the accepted view's window, but not the one it was accepted at.
      await reverts(a, precommit([onX(swap)], { height: accepted - 1n }), "GatewayHeaderNotAccepted", [b.chainId, accepted - 1n]);
      await mine(b, 1); // a block of B that A has not accepted
      const head = await b.publicClient.getBlockNumber();
      await reverts(a, precommit([onX(swap)], { height: head }), "GatewayHeaderNotAccepted", [b.chainId, head]);
    });

    it("refuses a proof from another chain (chain C's state presented as chain B's)", async () => {
      const [x, y, z] = await deploySystem({ networks: ["chainA", "chainB", "chainC"] });
      const onXY = await tokenForCoin(x!, y!);
      await registerBoth(onXY);
      // C runs a Gateway too, with a record at the same slot: the attacker's registration of the same terms there.
      const onZ = await tokenForCoin(z!, x!);
      await registerLeg(onZ.x, onZ.regX);
      await relayView(y!, x!);
      const height = await x!.registry.read.latestHeight([y!.chainId]);
      await mineTo(z!, height);
      const proof = await getRecordProofs({
        client: z!.publicClient,
        address: z!.gateway.address,
        slots: [await z!.gateway.read.recordSlot([onZ.idX])],
        blockNumber: height,
        accBefore: accBeforeHead(await viewOf(z!, K, height)),
      });
      await reverts(x!, precommit([onX(onXY)], { proof }), "GatewayHeaderNotAccepted", [y!.chainId, height]);
    });

    it("refuses a tampered trie node in the account proof", async () => {
      const proof = await proofsOf([onX(swap)]);
      const accountProof = proof.at.accountProof.map((n, i) => (i === 0 ? flipByte(n, 40) : n));
      const height = await a.registry.read.latestHeight([b.chainId]);
      await reverts(a, precommit([onX(swap)], { proof: { ...proof, at: { ...proof.at, accountProof } } }), "GatewayAccountProofInvalid", [b.chainId, height]);
    });

    it("refuses a proof of another contract's storage (an attacker contract claiming the record)", async () => {
      const writer = await b.viem.deployContract("SlotWriter");
      const slot = await b.gateway.read.recordSlot([swap.idY]);
      const [, registeredAt] = await b.gateway.read.recordOf([swap.idY]);
      await writer.write.write([slot, BigInt(Status.Committed) | (registeredAt << 8n) | (registeredAt << 72n)]);
      await relayView(b, a);
      const height = await a.registry.read.latestHeight([b.chainId]);
      const accBefore = accBeforeHead(await viewOf(b, K, height));
      const fromWriter = await getRecordProofs({ client: b.publicClient, address: writer.address, slots: [slot], blockNumber: height, accBefore });
      // The writer's account proof does not prove B's Gateway.
      await reverts(a, precommit([onX(swap)], { proof: fromWriter }), "GatewayAccountProofInvalid", [b.chainId, height]);
      // B's Gateway's account, with the writer's storage proof: not under the Gateway's storage root.
      const gatewayProof = await proofsOf([onX(swap)]);
      await reverts(a, precommit([onX(swap)], { proof: { at: gatewayProof.at, storageProofs: fromWriter.storageProofs } }), "GatewayStorageProofInvalid", [swap.idY]);
    });
  });

  describe("the counterparty's bond (exposure)", () => {
    it("refuses a contract that would take exposure past the capacity, and frees it at once when one is cancelled (exposure cap)", async () => {
      const [x, y] = await deploySystem({ bond: parseEther("2.5") }); // capacity: 40 % = 1 coin
      const first = await tokenForCoin(y!, x!); // x's native leg is worth 1 coin against y's bond on x
      await registerLeg(first.y, first.regY);
      const second = await tokenForCoin(y!, x!, { salt: keccak256("0x03") });
      await reverts(x!, registerLeg(second.y, second.regY), "GatewayExposureCapExceeded", [y!.chainId, parseEther("2"), parseEther("1")]);
      assert.equal(await x!.gateway.read.exposureOf([y!.chainId]), parseEther("1"));
      await mineTo(x!, first.regY.h1 + 1n);
      await x!.gateway.write.cancel([first.regY]);
      assert.equal(await x!.gateway.read.exposureOf([y!.chainId]), 0n);
      const third = await tokenForCoin(y!, x!, { salt: keccak256("0x04") });
      await registerLeg(third.y, third.regY);
      assert.equal(await x!.gateway.read.exposureOf([y!.chainId]), parseEther("1"));
    });

    it("keeps a terminated contract counting against the capacity for the compensation window, then stops (claimable exposure)", async () => {
      const [x, y] = await deploySystem({ bond: parseEther("3.75") }); // capacity: 1.5 coins
      const swap = await tokenForCoin(y!, x!); // Bob pays 1 coin on x
      await registerBoth(swap);
      await precommitBoth(swap);
      await expireBoth(swap);
      const receipt = await terminate([onY(swap)]);
      const finishedAt = receipt.blockNumber;
      assert.equal(await x!.gateway.read.exposureOf([y!.chainId]), parseEther("1"));

      // While it may still claim compensation, the released contract holds its share of the bond.
      const next = await tokenForCoin(y!, x!, { salt: keccak256("0x05") });
      await reverts(x!, registerLeg(next.y, next.regY), "GatewayExposureCapExceeded", [y!.chainId, parseEther("2"), parseEther("1.5")]);
      await mineTo(x!, finishedAt + COMPENSATION_WINDOW - 1n);
      assert.equal(await x!.gateway.read.exposureOf([y!.chainId]), parseEther("1"));

      await mineTo(x!, finishedAt + 2n * COMPENSATION_WINDOW + 1n);
      assert.equal(await x!.gateway.read.exposureOf([y!.chainId]), 0n);
      const later = await tokenForCoin(y!, x!, { salt: keccak256("0x06") });
      await registerLeg(later.y, later.regY);
      assert.equal(await x!.gateway.read.exposureOf([y!.chainId]), parseEther("1"));
    });
  });

  describe("waiting list", () => {
    it("lists the locked expiries in order with their counts, and refuses a span wider than MAX_WAITING_SPAN", async () => {
      const now = await a.publicClient.getBlockNumber();
      const late = now + 60n;
      const early = now + 50n;
      const swaps = [
        await tokenForCoin(a, b, { salt: keccak256("0x01"), expiryX: late }),
        await tokenForCoin(a, b, { salt: keccak256("0x02"), expiryX: early }),
        await tokenForCoin(a, b, { salt: keccak256("0x03"), expiryX: late }),
      ];
      for (const s of swaps) await registerBoth(s);
      await relayView(b, a);
      await precommit(swaps.map(onX));
      assert.deepEqual(await a.gateway.read.waitingList([now, now + 100n]), [[early, late], [1n, 2n]]);
      assert.deepEqual(await a.gateway.read.waitingList([late, late]), [[late], [2n]]);
      assert.deepEqual(await a.gateway.read.waitingList([early + 1n, late - 1n]), [[], []]);

      await mineTo(a, late + 1n);
      await mineTo(b, swaps[0]!.regY.h1 + 1n);
      await relayView(b, a);
      await terminate([onX(swaps[0]!)]);
      assert.deepEqual(await a.gateway.read.waitingList([now, now + 100n]), [[early, late], [1n, 1n]]);
      await terminate([onX(swaps[1]!), onX(swaps[2]!)]);
      assert.deepEqual(await a.gateway.read.waitingList([now, now + 100n]), [[], []]);

      const span = await a.gateway.read.MAX_WAITING_SPAN();
      assert.equal((await a.gateway.read.waitingList([now, now + span - 1n]))[0].length, 0);
      await reverts(a, a.gateway.read.waitingList([now, now + span]), "GatewayInvalidSettings");
      await reverts(a, a.gateway.read.waitingList([now + 1n, now]), "GatewayInvalidSettings");
    });

    it("keeps every terminate under a fixed gas bound with 3,200 locked expiries, whatever the order (waiting-list griefing)", async () => {
      const N = 16;
      const GRIEF = 3200n;
      const startA = await a.publicClient.getBlockNumber();
      const startB = await b.publicClient.getBlockNumber();
      // The griefer's contracts: one locked at every height of a 3,200-block range on both chains, as thousands of
      // pre-commits at distinct expiries would leave the list (written straight into the Gateways' storage).
      const oneEach = Array.from({ length: 16 }, (_, j) => 1n << BigInt(16 * j)).reduce((w, c) => w | c, 0n);
      const griefed: Record<string, bigint> = {};
      for (const chain of [a, b]) {
        const from = ((await chain.publicClient.getBlockNumber()) / 16n + 1n) * 16n;
        griefed[String(chain.chainId)] = from;
        for (let w = from / 16n; w < (from + GRIEF) / 16n; w++) await setStorage(chain, chain.gateway.address, waitingListWordSlot(w), oneEach);
        const [expiries, counts] = await chain.gateway.read.waitingList([from, from + GRIEF - 1n]);
        assert.equal(expiries.length, Number(GRIEF));
        assert.ok(counts.every((c) => c === 1n));
      }

      // Real swaps locked among them, at distinct expiries in scrambled order.
      const order = shuffled(N, 1);
      const swaps: Swap[] = [];
      for (let i = 0; i < N; i++) {
        const s = await tokenForCoin(a, b, { salt: keccak256(toHex(i, { size: 32 })), expiryX: startA + 90n + 5n * BigInt(order[i]!), expiryY: startB + 90n + 5n * BigInt(order[i]!) });
        await registerBoth(s);
        swaps.push(s);
      }
      await relayView(b, a);
      await precommit(swaps.map(onX));
      await relayView(a, b);
      await precommit(swaps.map(onY));
      const fromA = griefed[String(a.chainId)]!;
      const [expiries, counts] = await a.gateway.read.waitingList([fromA, fromA + GRIEF - 1n]);
      assert.deepEqual(expiries, Array.from({ length: Number(GRIEF) }, (_, i) => fromA + BigInt(i)));
      const real = new Set(swaps.map((s) => s.regX.h1));
      assert.deepEqual(counts, expiries.map((h) => (real.has(h) ? 2n : 1n)));

      const lastX = swaps.reduce((m, s) => (s.regX.h1 > m ? s.regX.h1 : m), 0n);
      const lastY = swaps.reduce((m, s) => (s.regY.h1 > m ? s.regY.h1 : m), 0n);
      await mineTo(a, lastX + 1n);
      await mineTo(b, lastY + 1n);
      await relayView(b, a);
      await relayView(a, b);
      const proofOnA = await proofsOf(swaps.map(onX));
      const proofOnB = await proofsOf(swaps.map(onY));

      const gas: bigint[] = [];
      const byExpiryDesc = swaps.map((_, i) => i).sort((i, j) => (swaps[j]!.regY.h1 > swaps[i]!.regY.h1 ? 1 : -1));
      for (const [chain, indices, proof, item] of [
        [a, shuffled(N, 7), proofOnA, onX],
        [b, byExpiryDesc, proofOnB, onY],
      ] as const) {
        for (const i of indices) {
          const receipt = await terminate([item(swaps[i]!)], { proof: { at: proof.at, storageProofs: [proof.storageProofs[i]!] } });
          assert.equal(await statusOf(chain, item(swaps[i]!).id), Status.Released);
          gas.push(receipt.gasUsed);
        }
      }
      const max = gas.reduce((m, g) => (g > m ? g : m), 0n);
      const min = gas.reduce((m, g) => (g < m ? g : m), max);
      console.log(`      terminate gas among ${GRIEF} locked expiries: ${min}..${max} (bound ${TERMINATE_GAS_BOUND})`);
      for (const g of gas) assert.ok(g < TERMINATE_GAS_BOUND, `a terminate used ${g} gas`);

      // Only the griefer's entries are left, untouched.
      for (const chain of [a, b]) {
        const from = griefed[String(chain.chainId)]!;
        const [left, leftCounts] = await chain.gateway.read.waitingList([from, from + GRIEF - 1n]);
        assert.equal(left.length, Number(GRIEF));
        assert.ok(leftCounts.every((c) => c === 1n));
      }
    });

    it("inserts and removes at a fixed cost among 4,096 distinct expiries, in any order (WaitingList library)", async () => {
      const full = await a.viem.deployContract("WaitingListHarness");
      const empty = await a.viem.deployContract("WaitingListHarness");
      const base = 1_000_000n;
      for (let i = 0n; i < 4n; i++) await full.write.insertSpread([base + i * 1024n, 1n, 1024n]);
      const [expiries] = await full.read.between([base, base + 4095n]);
      assert.equal(expiries.length, 4096);

      const gasOf = async (hash: Hex) => (await a.publicClient.waitForTransactionReceipt({ hash })).gasUsed;
      const probes = shuffled(64, 3).map((i) => base + BigInt(i) * 64n + BigInt(i % 16)); // spread over the range, scrambled
      const costs: { full: bigint; empty: bigint }[] = [];
      for (const h of probes) {
        costs.push({ full: await gasOf(await full.write.insert([h])), empty: await gasOf(await empty.write.insert([h])) });
        costs.push({ full: await gasOf(await full.write.remove([h])), empty: await gasOf(await empty.write.remove([h])) });
      }
      const all = costs.flatMap((c) => [c.full, c.empty]);
      const max = all.reduce((m, g) => (g > m ? g : m), 0n);
      console.log(`      waiting list insert/remove gas (transaction): max ${max} (bound ${WAITING_LIST_OP_GAS_BOUND})`);
      for (const g of all) assert.ok(g < WAITING_LIST_OP_GAS_BOUND, `an operation used ${g} gas`);
      // A full list costs no more to insert into than an empty one.
      for (let i = 0; i < costs.length; i += 2) assert.ok(costs[i]!.full <= costs[i]!.empty);
      assert.equal((await full.read.between([base, base + 4095n]))[0].length, 4096);
      assert.equal(await full.read.countAt([probes[0]!]), 1n);
    });

    it("refuses a 65,536th contract at one expiry rather than wrapping its counter into the next height (counter overflow)", async () => {
      const list = await a.viem.deployContract("WaitingListHarness");
      const h = 77n;
      await list.write.insertRepeated([h, 3n]);
      // 65,535 inserts are written straight into the counter (its list is the harness's slot 0).
      const slot = keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "uint256" }], [h / 16n, 0n]));
      await setStorage(a, list.address, slot, 0xffffn << (16n * (h % 16n)));
      assert.equal(await list.read.countAt([h]), 65535n);
      await reverts(a, list.write.insert([h]), "WaitingListFull", [h], [list.abi]);
      assert.equal(await list.read.countAt([h + 1n]), 0n);
      await list.write.remove([h]);
      await list.write.insert([h]);
      assert.deepEqual(await list.read.between([h - 1n, h + 1n]), [[h], [65535n]]);
    });

    it("skips an item whose expiry already holds 65,535 locked contracts and pre-commits the rest of its batch (full expiry)", async () => {
      const now = await a.publicClient.getBlockNumber();
      const crowded = now + 60n;
      const s1 = await tokenForCoin(a, b, { salt: keccak256("0x01"), expiryX: crowded });
      const s2 = await tokenForCoin(a, b, { salt: keccak256("0x02"), expiryX: crowded + 1n });
      await registerBoth(s1);
      await registerBoth(s2);
      await relayView(b, a);
      // A griefer's 65,535 contracts locked at `crowded`, written straight into the Gateway's waiting list.
      await setStorage(a, a.gateway.address, waitingListWordSlot(crowded / 16n), 0xffffn << (16n * (crowded % 16n)));
      assert.deepEqual(await a.gateway.read.waitingList([crowded, crowded + 1n]), [[crowded], [65535n]]);
      const receipt = await precommit([onX(s1), onX(s2)]);
      same(eventsOf(a, receipt, "StepSkipped"), [{ contractId: s1.idX, reason: gatewayError(a, "GatewayWaitingListFull", [crowded]) }]);
      assert.equal(await statusOf(a, s1.idX), Status.Registered);
      assert.equal(await statusOf(a, s2.idX), Status.Committed);
    });
  });

  describe("reentrancy", () => {
    for (const attack of ["terminate", "cancel"] as const) {
      it(`pays once when the token re-enters ${attack} during its payout`, async () => {
        const token = await a.viem.deployContract("ReentrantToken");
        await a.gateway.write.setAssetValue([token.address, 10n ** 18n]);
        const alice = a.users.alice.account.address;
        await token.write.mint([alice, 100n]);
        const swap = await tokenForCoin(a, b, { assetX: token.address });
        await registerWith(token, swap);
        let call: Hex;
        let run: () => Promise<unknown>;
        if (attack === "terminate") {
          await registerLeg(swap.y, swap.regY);
          await precommitBoth(swap);
          await expireBoth(swap);
          const proof = await proofsOf([onX(swap)]);
          call = encodeFunctionData({ abi: a.gateway.abi, functionName: "terminate", args: [NO_POST, proof.at, [swap.regX], proof.storageProofs] });
          run = () => terminate([onX(swap)], { proof });
        } else {
          await mineTo(a, swap.regX.h1 + 1n);
          call = encodeFunctionData({ abi: a.gateway.abi, functionName: "cancel", args: [swap.regX] });
          run = () => a.gateway.write.cancel([swap.regX]);
        }
        await token.write.arm([a.gateway.address, call]);
        await run();

        assert.equal(await token.read.attempts(), 1n);
        assert.equal(await token.read.successes(), 0n);
        assert.equal(await token.read.lastError(), gatewayError(a, "ReentrancyGuardReentrantCall", []));
        assert.equal(await token.read.balanceOf([a.gateway.address]), 0n);
        const paid = attack === "terminate" ? a.users.bob.account.address : alice;
        assert.equal(await token.read.balanceOf([paid]), 100n);
        assert.equal(await statusOf(a, swap.idX), attack === "terminate" ? Status.Released : Status.Cancelled);
      });
    }
  });

  describe("ids", () => {
    it("derives the mirror id on one chain exactly as the other chain derives its own id", async () => {
      const swap = await tokenForCoin(a, b);
      const [, mirrorOfY] = await b.gateway.read.contractIds([swap.regY]);
      assert.equal(mirrorOfY, swap.idX);
      assert.equal(
        await a.gateway.read.recordSlot([swap.idX]),
        keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }], [swap.idX, keccak256(new TextEncoder().encode("finality-ibc.gateway.records"))])),
      );
    });

    it("gives another id to terms that differ in registerBy or mirrorBy (deadlines are part of the contract)", async () => {
      const swap = await tokenForCoin(a, b);
      const [byRegister] = await a.gateway.read.contractIds([{ ...swap.regX, registerBy: swap.regX.registerBy - 1n }]);
      const [byMirror] = await a.gateway.read.contractIds([{ ...swap.regX, mirrorBy: swap.regX.mirrorBy - 1n }]);
      assert.equal(new Set([swap.idX, byRegister, byMirror]).size, 3);
    });
  });
});
