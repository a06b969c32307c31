/**
 * Gas of the contracts, from transaction receipts (`gasUsed`: the 21,000 base cost and calldata are included), on
 * in-process Hardhat chains: one swap of this framework against one hashed-timelock swap on the same pair of chains,
 * ten swaps of one pair settled in batches, ViewRegistry.submitView and submitForkEvidence by committee size, and the
 * cost of one proof step (scripts/bench/proofStepGas.ts). A library: it prints nothing itself; `scripts/gas.ts` and
 * `scripts/bench.ts --parts gas` both call {@link measureGasCosts}. It imports `hardhat` (through the fixtures), so it
 * runs inside `hardhat run`, which also compiles the contracts first.
 *
 * Every pre-commit and terminate posts the counterparty's view it needs in the same transaction (a ViewPost), as the
 * relayers do: the view at the counterparty's head, signed by exactly threshold = ceil(2q/3) members, and the record
 * proofs are real `eth_getProof` proofs taken at that head.
 */
import { keccak256, parseEther, sha256, stringToHex, zeroAddress, type Hex, type TransactionReceipt } from "viem";
import {
  K,
  NO_POST,
  R_DENOMINATOR,
  R_NUMERATOR,
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
} from "../../test/fixtures/system.js";
import { NATIVE, prepareSwap, type Registration, type Swap } from "../../test/fixtures/swap.js";
import type { View } from "../../relayer/view/view.js";
import { measureProofStepGas } from "./proofStepGas.js";
import { measureSchemeGas, type SchemeGas } from "./schemeGas.js";
import { thresholdOf } from "../../relayer/view/threshold.js";

export type Log = (line: string) => void;

/** Committee sizes of the submitView and submitForkEvidence series. */
export const SUBMIT_VIEW_COMMITTEE_SIZES = [4, 8, 16, 32, 64] as const;
/** Committee size of the chains the swaps run on. */
export const SWAP_COMMITTEE_SIZE = 4;
/** Blocks between two measured views of one chain: a steady flow of views, each `NEW_BLOCKS_PER_VIEW` heights newer. */
export const NEW_BLOCKS_PER_VIEW = 8;
/** Height every chain reaches before anything is measured on it, so each view carries a full window of k hashes. */
const WARM_UP_HEIGHT = 40n;
/** Views measured per committee size; their gas differs only by a few dozen (calldata bytes), the median counts. */
export const VIEW_SAMPLES = 3;
/**
 * Blocks from registration to expiry on each chain (and the HTLC's shorter timelock). Short enough that each chain's
 * accepted view of the other moves by at most k = 16 heights between two steps of the swap, so every view post
 * connects without a bridge, the cheapest a post can be (the bridge lengths are reported).
 */
export const SWAP_TTL = 12n;
/** Swaps of one pair settled together by the batched measurement. */
export const BATCH_SIZE = 10;
/** Expiry of the batched swaps: room for ten registrations per chain before, and a view gap of at most k between steps. */
const BATCH_TTL = 14n;
/** The v1 contracts' figures (README, "Gas"): one swap with its four view posts, and the HTLC swap. */
export const V1 = { swapWithViews: 3_509_823, htlcSwap: 407_392 } as const;
/** What the v2 contracts aim at (reported, never asserted). */
export const GOALS = { singleOverHtlc: 2.0, batchedPerSwapOverHtlc: 1.0, proofStepMainnetDepth: 200_000 } as const;
const TOKENS = 100n;
const COINS = parseEther("1");

const Status = { Registered: 1, Committed: 2, Released: 3 } as const;
const HtlcState = { Claimed: 2, Refunded: 3 } as const;

/** A pre-commit or terminate with its view post, and the same two things sent as separate transactions. */
export type StepGas = {
  /** The step as relayers send it: view post + header proof + storage proof(s), one transaction. */
  gas: number;
  /** The same view alone (ViewRegistry.submitView) and then the step alone (no post), measured on a snapshot. */
  viewAlone: number;
  stepAlone: number;
  /** What the post adds to the step's transaction: gas - stepAlone. */
  viewPart: number;
  /** Hashes the post's bridge carried (0: the view connected to the accepted one directly). */
  bridge: number;
  /** Trie nodes: account proof, and the storage proofs (one per item). */
  accountProofNodes: number;
  storageProofNodes: number[];
  /** Bytes of the transaction's input. */
  calldataBytes: number;
};

export type SingleSwapGas = {
  /** Every transaction of the swap, both chains: register ×2, precommit ×2, terminate ×2 (each with its view post). */
  total: number;
  steps: { registerX: number; registerY: number; precommitX: StepGas; precommitY: StepGas; terminateX: StepGas; terminateY: StepGas };
  /** Of the total, what the four view posts add (sum of viewPart). */
  viewPosts: number;
  /** Not in the total: registering while another contract with the counterparty is open, and cancelling at expiry. */
  registerWhileAnotherOpen: { x: number; y: number };
  cancel: { x: number; y: number };
};

export type BatchedSwapGas = {
  size: number;
  /** Gas of the 2 × size registrations, the precommit batch and the terminate batch of each chain. */
  total: number;
  perSwap: number;
  steps: {
    registerX: { total: number; mean: number };
    registerY: { total: number; mean: number };
    precommitX: StepGas;
    precommitY: StepGas;
    terminateX: StepGas;
    terminateY: StepGas;
  };
};

export type HtlcGas = { lockX: number; lockY: number; claimY: number; claimX: number; total: number; refund: number };

type Measured = Awaited<ReturnType<typeof measureProofStepGas>>;
/** scripts/bench/proofStepGas.ts's figures, gas as plain numbers. */
export type ProofStepGas = { [F in keyof Measured]: Measured[F] extends bigint ? number : Measured[F] };

function numbers<T extends object>(o: T): { [F in keyof T]: T[F] extends bigint ? number : T[F] } {
  return Object.fromEntries(Object.entries(o).map(([f, v]) => [f, typeof v === "bigint" ? Number(v) : v])) as { [F in keyof T]: T[F] extends bigint ? number : T[F] };
}

type Ratio = { value: number; goal: number; met: boolean };

/** What measureGasCosts returns: plain numbers, ready for JSON. Records keyed by q have q as key. */
export type GasCosts = {
  /** One HTLC swap of the same assets, same chains: lock on A, lock on B, claim on B, claim on A. */
  htlcSwap: HtlcGas;
  swap: { single: SingleSwapGas; batched: BatchedSwapGas };
  /** ViewRegistry.submitView by q: k = 16, 8 new heights, ceil(2q/3) signatures, median of VIEW_SAMPLES. */
  submitView: Record<number, number>;
  /** ViewRegistry.submitForkEvidence by q: two views differing in the newest hash, each with ceil(2q/3) signatures. */
  submitForkEvidence: Record<number, number>;
  /** One proof step (header + account proof + storage proof verification), from scripts/bench/proofStepGas.ts. */
  proofStep: ProofStepGas;
  /** submitView of an ECDSA and a BLS12-381 committee by q, and a gossip update's bytes, from scripts/bench/schemeGas.ts. */
  submitViewByScheme: SchemeGas;
  ratios: { singleOverHtlc: Ratio; batchedPerSwapOverHtlc: Ratio; proofStepMainnetDepth: Ratio };
  v1: typeof V1 & { singleOverV1: number; htlcSame: boolean };
  parameters: {
    k: number;
    thresholdRule: string;
    thresholds: Record<number, number>;
    newBlocksPerView: number;
    viewSamples: number;
    swapCommitteeSize: number;
    swapTtlBlocks: number;
    batchTtlBlocks: number;
    htlcTimelockBlocks: { x: number; y: number };
    hashlock: string;
    hardfork: string;
    gasSource: string;
  };
  /** Wall-clock time of the whole measurement. */
  seconds: number;
};

/** The registry's threshold for a committee of q at the fixtures' r. */
export function thresholdAt(q: number): number {
  return thresholdOf(q, { numerator: R_NUMERATOR, denominator: R_DENOMINATOR });
}

/** Waits for the transaction and returns its gas, failing loudly if it reverted. */
async function gasOf(chain: Chain, what: string, hash: Hex | Promise<Hex>): Promise<number> {
  const receipt: TransactionReceipt = await chain.publicClient.waitForTransactionReceipt({ hash: await hash });
  if (receipt.status !== "success") throw new Error(`${what} reverted (transaction ${receipt.transactionHash})`);
  return Number(receipt.gasUsed);
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
const sum = (xs: number[]) => xs.reduce((p, q) => p + q, 0);
const ratio = (value: number, goal: number): Ratio => ({ value: Math.round(value * 1000) / 1000, goal, met: value <= goal });

/** The first `threshold` members of the chain's committee: the fewest signatures the registry accepts. */
async function quorumOf(viewed: Chain, verifier: Chain) {
  const [, threshold] = await verifier.registry.read.committeeOf([viewed.chainId]);
  const expected = thresholdAt(viewed.committee.length);
  if (Number(threshold) !== expected) {
    throw new Error(`threshold of a committee of ${viewed.committee.length} is ${threshold} on chain, expected ${expected}`);
  }
  return viewed.committee.slice(0, expected);
}

async function snapshot(chain: Chain): Promise<Hex> {
  return (await chain.conn.provider.request({ method: "evm_snapshot" })) as Hex;
}

async function revertTo(chain: Chain, id: Hex): Promise<void> {
  if ((await chain.conn.provider.request({ method: "evm_revert", params: [id] })) !== true) throw new Error("evm_revert failed");
}

/** Gas of submitView in the steady state, and of submitForkEvidence, for a committee of q (a new pair of chains). */
export async function measureViews(q: number, log: Log): Promise<{ submitView: number; samples: number[]; forkEvidence: number }> {
  const [a, b] = (await deploySystem({ q, k: K })) as [Chain, Chain];
  const quorum = await quorumOf(b, a);
  log(`  committee of ${q}, threshold ${quorum.length}: bringing A's view of B to a full window (height ${WARM_UP_HEIGHT}) …`);
  await mineTo(b, WARM_UP_HEIGHT);
  await relayView(b, a, K);

  const samples: number[] = [];
  for (let i = 0; i < VIEW_SAMPLES; i++) {
    await mine(b, NEW_BLOCKS_PER_VIEW);
    const latest = await a.registry.read.latestHeight([b.chainId]);
    const view = await viewOf(b, K, latest + BigInt(NEW_BLOCKS_PER_VIEW));
    if (view.hashes.length !== K) throw new Error(`expected a full window of ${K} hashes, got ${view.hashes.length}`);
    samples.push(await gasOf(a, "submitView", a.registry.write.submitView([view, await sign(b, view, quorum), []])));
    const reached = await a.registry.read.latestHeight([b.chainId]);
    if (reached !== view.height) throw new Error(`submitView was not accepted: A's view of B is at ${reached}, not ${view.height}`);
  }
  log(`  submitView samples: ${samples.join(", ")}`);

  log(`  signing two conflicting views of B with ${quorum.length} of its ${q} validators and submitting them as fork evidence …`);
  const genuine = await viewOf(b, K, await a.registry.read.latestHeight([b.chainId]));
  const forged: View = { ...genuine, hashes: [...genuine.hashes] };
  const newest = forged.hashes.length - 1;
  forged.hashes[newest] = `0x${(BigInt(forged.hashes[newest]!) ^ 1n).toString(16).padStart(64, "0")}` as Hex;
  const forkEvidence = await gasOf(
    a,
    "submitForkEvidence",
    a.registry.write.submitForkEvidence([genuine, await sign(b, genuine, quorum), forged, await sign(b, forged, quorum)]),
  );
  if (!(await a.registry.read.isFrozen([b.chainId]))) throw new Error("fork evidence did not freeze chain B");

  return { submitView: median(samples), samples, forkEvidence };
}

/** Approves the Gateway for an ERC-20 (not measured) and registers; returns the gas of register alone. */
async function registerMeasured(chain: Chain, payer: Chain["users"]["alice"], reg: Registration, approve = true): Promise<number> {
  const { gateway, token } = chain;
  const account = payer.account;
  if (reg.asset !== zeroAddress && approve) {
    await gasOf(chain, "approve", token.write.approve([gateway.address, reg.amount], { account }));
  }
  return gasOf(
    chain,
    `register (${reg.asset === zeroAddress ? "native coin" : "ERC-20"})`,
    gateway.write.register([reg], { account, value: reg.asset === zeroAddress ? reg.amount : 0n }),
  );
}

/** What a relayer sends for a step on `here` about contracts whose mirrors are on `there`: a view post and the proofs. */
type StepInput = { post: { view_: View; signatures: Hex[]; bridge: Hex[] }; proof: BatchProof };

/**
 * The view of `there` at its head, signed by a threshold of its committee and bridged to `here`'s newest accepted view
 * of it, and the proofs of `mirrorIds` at that head: what one pre-commit or terminate of a relayer carries.
 */
async function stepInput(there: Chain, here: Chain, mirrorIds: readonly Hex[]): Promise<StepInput> {
  const head = await there.publicClient.getBlockNumber();
  const latest = await here.registry.read.latestHeight([there.chainId]);
  const view = await viewOf(there, K, head);
  const post = { view_: view, signatures: await sign(there, view, await quorumOf(there, here)), bridge: await bridgeFor(there, view, latest) };
  return { post, proof: await recordProofs(there, here, mirrorIds, head) };
}

/**
 * Sends a pre-commit or terminate of `terms` on `here` with its view post, after measuring on a snapshot what the same
 * view costs alone (submitView) and what the step costs alone once the view is accepted (no post).
 */
async function measureStep(step: "precommit" | "terminate", here: Chain, there: Chain, terms: Registration[], mirrorIds: readonly Hex[]): Promise<StepGas> {
  const { post, proof } = await stepInput(there, here, mirrorIds);
  const args = (p: typeof post) => [p, proof.at, terms, proof.storageProofs] as const;
  const send = (p: typeof post) => (step === "precommit" ? here.gateway.write.precommit([...args(p)]) : here.gateway.write.terminate([...args(p)]));

  // Only `there`'s block hashes are read (and cached by the fixture) here, so rolling `here` back is safe.
  const id = await snapshot(here);
  const viewAlone = await gasOf(here, "submitView", here.registry.write.submitView([post.view_, post.signatures, post.bridge]));
  const stepAlone = await gasOf(here, `${step} without a post`, send(NO_POST));
  await revertTo(here, id);

  const hash = await send(post);
  const gas = await gasOf(here, `${step} with its view post`, hash);
  const { input } = await here.publicClient.getTransaction({ hash });
  if ((await here.registry.read.latestHeight([there.chainId])) !== post.view_.height) throw new Error(`the view posted with ${step} was not accepted`);
  return {
    gas,
    viewAlone,
    stepAlone,
    viewPart: gas - stepAlone,
    bridge: post.bridge.length,
    accountProofNodes: proof.at.accountProof.length,
    storageProofNodes: proof.storageProofs.map((p) => p.length),
    calldataBytes: (input.length - 2) / 2,
  };
}

async function expectStatus(chain: Chain, ids: readonly Hex[], status: number, what: string): Promise<void> {
  for (const id of ids) {
    const [s] = await chain.gateway.read.recordOf([id]);
    if (s !== status) throw new Error(`contract ${id} on ${chain.chainId} was not ${what} (status ${s})`);
  }
}

/** Both chains to WARM_UP_HEIGHT and each one's accepted view of the other to a full window. */
async function warmUp([a, b]: [Chain, Chain]): Promise<void> {
  await mineTo(a, WARM_UP_HEIGHT);
  await mineTo(b, WARM_UP_HEIGHT);
  await relayView(b, a, K);
  await relayView(a, b, K);
}

/** Alice's `TOKENS` on A for Bob's `COINS` on B, expiring at the given heights. */
function tokenForCoin([a, b]: [Chain, Chain], salt: number, expiryX: bigint, expiryY: bigint): Promise<Swap> {
  return prepareSwap(
    { chain: a, payer: a.users.alice, beneficiary: b.users.bob.account.address, asset: a.token.address, amount: TOKENS, expiry: expiryX },
    { chain: b, payer: b.users.bob, beneficiary: a.users.alice.account.address, asset: NATIVE, amount: COINS, expiry: expiryY },
    `0x${salt.toString(16).padStart(64, "0")}`,
  );
}

const heads = async ([a, b]: [Chain, Chain]) => [await a.publicClient.getBlockNumber(), await b.publicClient.getBlockNumber()] as const;

/**
 * One swap alone on a pair of chains in service (views with full windows): Alice's 100 tokens on A for Bob's coin on
 * B, register on both, pre-commit on both, terminate (release) on both, each step with its view post. Then two swaps
 * nobody pre-commits, the second registered while the first is open, both cancelled at expiry.
 */
export async function measureSingleSwap(chains: [Chain, Chain], log: Log): Promise<SingleSwapGas> {
  const [a, b] = chains;
  log(`  bringing both chains to height ${WARM_UP_HEIGHT} and each one's view of the other to a full window …`);
  await warmUp(chains);
  await a.token.write.mint([a.users.alice.account.address, 1000n]);

  log("  registering a swap of 100 tokens on A for 1 coin on B (the first contract between A and B) …");
  const [hx, hy] = await heads(chains);
  const swap = await tokenForCoin(chains, 1, hx + SWAP_TTL, hy + SWAP_TTL);
  const registerX = await registerMeasured(a, a.users.alice, swap.regX);
  const registerY = await registerMeasured(b, b.users.bob, swap.regY);

  log("  pre-committing on A, then on B, each posting the other's view at its head in the same transaction …");
  const precommitX = await measureStep("precommit", a, b, [swap.regX], [swap.idY]);
  const precommitY = await measureStep("precommit", b, a, [swap.regY], [swap.idX]);
  await expectStatus(a, [swap.idX], Status.Committed, "pre-committed");
  await expectStatus(b, [swap.idY], Status.Committed, "pre-committed");

  log("  mining past both expiries and terminating (release) on A, then on B, each with its view post …");
  await mineTo(a, swap.regX.h1 + 1n);
  await mineTo(b, swap.regY.h1 + 1n);
  const terminateX = await measureStep("terminate", a, b, [swap.regX], [swap.idY]);
  const terminateY = await measureStep("terminate", b, a, [swap.regY], [swap.idX]);
  await expectStatus(a, [swap.idX], Status.Released, "released");
  await expectStatus(b, [swap.idY], Status.Released, "released");

  log("  registering two swaps that nobody pre-commits, the second while the first is open; cancelling both at expiry …");
  const [gx, gy] = await heads(chains);
  const first = await tokenForCoin(chains, 2, gx + SWAP_TTL, gy + SWAP_TTL);
  const second = await tokenForCoin(chains, 3, gx + SWAP_TTL, gy + SWAP_TTL);
  await registerMeasured(a, a.users.alice, first.regX);
  await registerMeasured(b, b.users.bob, first.regY);
  const registerWhileAnotherOpen = { x: await registerMeasured(a, a.users.alice, second.regX), y: await registerMeasured(b, b.users.bob, second.regY) };
  await mineTo(a, second.regX.h1 + 1n);
  await mineTo(b, second.regY.h1 + 1n);
  await gasOf(a, "cancel on A", a.gateway.write.cancel([first.regX]));
  await gasOf(b, "cancel on B", b.gateway.write.cancel([first.regY]));
  const cancel = { x: await gasOf(a, "cancel on A", a.gateway.write.cancel([second.regX])), y: await gasOf(b, "cancel on B", b.gateway.write.cancel([second.regY])) };

  for (const [chain, other] of [[a, b], [b, a]] as const) {
    if (await chain.registry.read.isFrozen([other.chainId])) throw new Error(`chain ${other.chainId} froze on ${chain.chainId}: a view posted was wrong`);
  }
  const steps = { registerX, registerY, precommitX, precommitY, terminateX, terminateY };
  const proofSteps = [precommitX, precommitY, terminateX, terminateY];
  return {
    total: registerX + registerY + sum(proofSteps.map((s) => s.gas)),
    steps,
    viewPosts: sum(proofSteps.map((s) => s.viewPart)),
    registerWhileAnotherOpen,
    cancel,
  };
}

/**
 * BATCH_SIZE swaps of one pair (A's tokens for B's coin, one expiry per chain), each leg registered on its own; then one
 * pre-commit batch per chain and, past the expiries, one terminate batch per chain: one view post, one header and
 * account proof and BATCH_SIZE storage proofs per batch.
 */
export async function measureBatchedSwaps(chains: [Chain, Chain], log: Log): Promise<BatchedSwapGas> {
  const [a, b] = chains;
  log(`  bringing both chains to height ${WARM_UP_HEIGHT} and each one's view of the other to a full window …`);
  await warmUp(chains);
  await a.token.write.mint([a.users.alice.account.address, 1000n * BigInt(BATCH_SIZE)]);
  await a.token.write.approve([a.gateway.address, TOKENS * BigInt(BATCH_SIZE)], { account: a.users.alice.account });

  log(`  registering ${BATCH_SIZE} swaps of one pair, each leg in its own transaction …`);
  const [hx, hy] = await heads(chains);
  const swaps: Swap[] = [];
  for (let i = 0; i < BATCH_SIZE; i++) swaps.push(await tokenForCoin(chains, 100 + i, hx + BATCH_TTL, hy + BATCH_TTL));
  const registerX: number[] = [];
  const registerY: number[] = [];
  for (const s of swaps) {
    registerX.push(await registerMeasured(a, a.users.alice, s.regX, false));
    registerY.push(await registerMeasured(b, b.users.bob, s.regY));
  }
  const idsX = swaps.map((s) => s.idX);
  const idsY = swaps.map((s) => s.idY);
  const termsX = swaps.map((s) => s.regX);
  const termsY = swaps.map((s) => s.regY);

  log(`  one pre-commit batch of ${BATCH_SIZE} on A, then on B …`);
  const precommitX = await measureStep("precommit", a, b, termsX, idsY);
  const precommitY = await measureStep("precommit", b, a, termsY, idsX);
  await expectStatus(a, idsX, Status.Committed, "pre-committed");
  await expectStatus(b, idsY, Status.Committed, "pre-committed");

  log(`  mining past the expiries; one terminate batch of ${BATCH_SIZE} on A, then on B …`);
  await mineTo(a, hx + BATCH_TTL + 1n);
  await mineTo(b, hy + BATCH_TTL + 1n);
  const terminateX = await measureStep("terminate", a, b, termsX, idsY);
  const terminateY = await measureStep("terminate", b, a, termsY, idsX);
  await expectStatus(a, idsX, Status.Released, "released");
  await expectStatus(b, idsY, Status.Released, "released");

  const total = sum(registerX) + sum(registerY) + precommitX.gas + precommitY.gas + terminateX.gas + terminateY.gas;
  return {
    size: BATCH_SIZE,
    total,
    perSwap: Math.round(total / BATCH_SIZE),
    steps: {
      registerX: { total: sum(registerX), mean: Math.round(sum(registerX) / BATCH_SIZE) },
      registerY: { total: sum(registerY), mean: Math.round(sum(registerY) / BATCH_SIZE) },
      precommitX,
      precommitY,
      terminateX,
      terminateY,
    },
  };
}

/**
 * Gas of one HTLC swap of the same assets as the framework's: Carol locks 100 tokens on A for Mallory, Mallory locks
 * 1 coin on B for Carol under the same hashlock and a shorter timelock, Carol claims on B (revealing the secret),
 * Mallory claims on A with it; then a lock on A that is refunded. Carol and Mallory hold no tokens yet, so no balance
 * slot starts warmer than in the Gateway's swap. Approve is not measured, as for register.
 */
export async function measureHtlc([a, b]: [Chain, Chain], log: Log): Promise<HtlcGas> {
  const carol = a.users.carol;
  const mallory = b.users.mallory;
  const htlcA = await a.viem.deployContract("HtlcSwap");
  const htlcB = await b.viem.deployContract("HtlcSwap");
  await a.token.write.mint([carol.account.address, 1000n]);
  const secret = keccak256(stringToHex("gasCosts/htlc secret"));
  const hashlock = sha256(secret);
  const timelockA = (await a.publicClient.getBlockNumber()) + 2n * SWAP_TTL;
  const timelockB = (await b.publicClient.getBlockNumber()) + SWAP_TTL;

  log("  locking 100 tokens on A (timelock 2 × TTL) and 1 coin on B (timelock TTL) under one hashlock …");
  await gasOf(a, "approve", a.token.write.approve([htlcA.address, TOKENS], { account: carol.account }));
  const lockArgsA = [a.token.address, mallory.account.address, TOKENS, hashlock, timelockA] as const;
  const lockX = await gasOf(a, "lock on A", htlcA.write.lock([...lockArgsA], { account: carol.account }));
  const lockArgsB = [NATIVE, carol.account.address, COINS, hashlock, timelockB] as const;
  const lockY = await gasOf(b, "lock on B", htlcB.write.lock([...lockArgsB], { account: mallory.account, value: COINS }));
  const idA = await htlcA.read.idOf([carol.account.address, ...lockArgsA]);
  const idB = await htlcB.read.idOf([mallory.account.address, ...lockArgsB]);

  log("  claiming on B with the secret, then on A with the secret read from B's Claimed event …");
  const claimY = await gasOf(b, "claim on B", htlcB.write.claim([idB, secret], { account: carol.account }));
  const [claimed] = await htlcB.getEvents.Claimed({ id: idB }, { fromBlock: 0n });
  if (claimed?.args.secret !== secret) throw new Error("the Claimed event on B does not publish the secret");
  const claimX = await gasOf(a, "claim on A", htlcA.write.claim([idA, claimed.args.secret], { account: mallory.account }));
  for (const [htlc, id] of [[htlcA, idA], [htlcB, idB]] as const) {
    if ((await htlc.read.lockOf([id])).state !== HtlcState.Claimed) throw new Error("the HTLC swap was not claimed on both chains");
  }

  log("  locking 100 more tokens on A and refunding them after the timelock …");
  await gasOf(a, "approve", a.token.write.approve([htlcA.address, TOKENS], { account: carol.account }));
  const unrevealed = sha256(keccak256(stringToHex("gasCosts/unrevealed secret")));
  const refundArgs = [a.token.address, mallory.account.address, TOKENS, unrevealed, (await a.publicClient.getBlockNumber()) + SWAP_TTL] as const;
  await gasOf(a, "lock on A", htlcA.write.lock([...refundArgs], { account: carol.account }));
  const refundId = await htlcA.read.idOf([carol.account.address, ...refundArgs]);
  await mineTo(a, refundArgs[4]);
  const refund = await gasOf(a, "refund on A", htlcA.write.refund([refundId]));
  if ((await htlcA.read.lockOf([refundId])).state !== HtlcState.Refunded) throw new Error("the HTLC lock was not refunded");

  return { lockX, lockY, claimY, claimX, total: lockX + lockY + claimY + claimX, refund };
}

const byQ = (f: (q: number) => number): Record<number, number> => Object.fromEntries(SUBMIT_VIEW_COMMITTEE_SIZES.map((q) => [q, f(q)]));

/**
 * Measures, in one run: a swap of this framework and an HTLC swap on one pair of chains (q = 4); ten batched swaps on
 * another; submitView and submitForkEvidence on a new pair for each q of SUBMIT_VIEW_COMMITTEE_SIZES; the proof step.
 * `log` receives a line per stage. Must run inside `hardhat run`.
 */
export async function measureGasCosts({ log = () => {} }: { log?: Log } = {}): Promise<GasCosts> {
  const started = performance.now();
  log(`deploying chains A and B with committees of ${SWAP_COMMITTEE_SIZE} …`);
  const chains = (await deploySystem({ q: SWAP_COMMITTEE_SIZE })) as [Chain, Chain];
  log("measuring one swap of this framework …");
  const single = await measureSingleSwap(chains, log);
  log("measuring an HTLC swap on the same chains …");
  const htlcSwap = await measureHtlc(chains, log);
  log(`measuring ${BATCH_SIZE} swaps settled in batches, on a new pair of chains …`);
  const batched = await measureBatchedSwaps((await deploySystem({ q: SWAP_COMMITTEE_SIZE })) as [Chain, Chain], log);
  const views: Record<number, Awaited<ReturnType<typeof measureViews>>> = {};
  for (const q of SUBMIT_VIEW_COMMITTEE_SIZES) {
    log(`measuring submitView and submitForkEvidence with q = ${q} …`);
    views[q] = await measureViews(q, log);
  }
  log("measuring one proof step (scripts/bench/proofStepGas.ts) …");
  const proofStep = numbers(await measureProofStepGas());
  log("measuring submitView with ECDSA and BLS12-381 committees (scripts/bench/schemeGas.ts) …");
  const submitViewByScheme = await measureSchemeGas(log);

  return {
    htlcSwap,
    swap: { single, batched },
    submitView: byQ((q) => views[q]!.submitView),
    submitForkEvidence: byQ((q) => views[q]!.forkEvidence),
    proofStep,
    submitViewByScheme,
    ratios: {
      singleOverHtlc: ratio(single.total / htlcSwap.total, GOALS.singleOverHtlc),
      batchedPerSwapOverHtlc: ratio(batched.perSwap / htlcSwap.total, GOALS.batchedPerSwapOverHtlc),
      proofStepMainnetDepth: { value: proofStep.mainnetDepth, goal: GOALS.proofStepMainnetDepth, met: proofStep.mainnetDepth <= GOALS.proofStepMainnetDepth },
    },
    v1: { ...V1, singleOverV1: Math.round((single.total / V1.swapWithViews) * 1000) / 1000, htlcSame: htlcSwap.total === V1.htlcSwap },
    parameters: {
      k: K,
      thresholdRule: `ceil(${R_NUMERATOR}q/${R_DENOMINATOR})`,
      thresholds: byQ(thresholdAt),
      newBlocksPerView: NEW_BLOCKS_PER_VIEW,
      viewSamples: VIEW_SAMPLES,
      swapCommitteeSize: SWAP_COMMITTEE_SIZE,
      swapTtlBlocks: Number(SWAP_TTL),
      batchTtlBlocks: Number(BATCH_TTL),
      htlcTimelockBlocks: { x: Number(2n * SWAP_TTL), y: Number(SWAP_TTL) },
      hashlock: "sha256 of the 32-byte secret",
      hardfork: "prague",
      gasSource: "transaction receipt gasUsed (includes the 21,000 base cost and calldata)",
    },
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
