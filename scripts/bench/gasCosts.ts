/**
 * Gas of one atomic swap of this framework against one hashed-timelock swap on the same two in-process
 * chains, and of ViewRegistry.submitView by committee size. Gas comes from transaction receipts
 * (`gasUsed`: the 21,000 base cost and calldata are included). A library: it prints nothing itself,
 * and `scripts/gas.ts` uses the same measurements. It imports `hardhat` (through the fixtures), so it
 * runs inside `hardhat run`, which also compiles the contracts first.
 */
import { keccak256, parseEther, sha256, stringToHex, zeroAddress, type Hex, type TransactionReceipt } from "viem";
import {
  K,
  R_DENOMINATOR,
  R_NUMERATOR,
  deploySystem,
  mine,
  mineTo,
  recordProof,
  relayView,
  sign,
  viewOf,
  type Chain,
} from "../../test/fixtures/system.js";
import { NATIVE, prepareSwap, type Leg, type Registration, type Swap } from "../../test/fixtures/swap.js";
import type { StorageProof } from "../../relayer/chain/recordProof.js";
import type { View } from "../../relayer/view/view.js";

export type Log = (line: string) => void;

/** Committee sizes of the submitView series of measureGasCosts. */
export const SUBMIT_VIEW_COMMITTEE_SIZES = [4, 8, 16, 32, 64] as const;
/** Committee size of the chains the two swaps run on. */
export const SWAP_COMMITTEE_SIZE = 4;
/** Blocks between two measured views of one chain: a steady flow of views, each storing this many new heights. */
export const NEW_BLOCKS_PER_VIEW = 8;
/** Height every chain reaches before anything is measured on it, so each view carries a full window of k hashes. */
const WARM_UP_HEIGHT = 40n;
/** Views measured per committee size; their gas differs only by a few dozen (calldata bytes), the median counts. */
export const VIEW_SAMPLES = 3;
/**
 * Blocks from registration to expiry on each chain (and the HTLC's shorter timelock). Short enough that each
 * chain's view of the other moves by at most k = 16 heights between two steps of the swap, so the relayers
 * need one submitView per direction to pre-commit and one to terminate: the fewest a swap can take.
 */
export const SWAP_TTL = 12n;
const TOKENS = 100n;
const COINS = parseEther("1");

const Status = { Committed: 2, Released: 3, Cancelled: 5 } as const;
const HtlcState = { Claimed: 2, Refunded: 3 } as const;

/** Gas of the two legs of a step: x is chain A (the ERC-20 leg), y is chain B (the native coin leg). */
export type Legs = { x: number; y: number };

export type GatewayGas = {
  /** One swap alone on the chains, step by step; `views` are the submitView posts it needed, in order. */
  swap: {
    registerX: number;
    registerY: number;
    precommitX: number;
    precommitY: number;
    terminateX: number;
    terminateY: number;
    views: number[];
  };
  /** Registering a contract while another with the same counterparty is open (its exposure is not zero). */
  registerWhileAnotherOpen: Legs;
  /** Cancelling the last open contract, which nobody pre-committed, at expiry. */
  cancel: Legs;
  /**
   * Trie nodes of the storage proof each pre-commit and terminate of the swap carried. Most of their gas is
   * this proof, so it moves with the shape of the in-process state; mainnet's account proofs are 8–9 nodes.
   */
  proofs: Record<"precommitX" | "precommitY" | "terminateX" | "terminateY", ProofShape>;
};

export type ProofShape = { accountProofNodes: number; storageProofNodes: number };

export type ViewGas = { submitView: number; samples: number[]; forkEvidence: number };

export type HtlcGas = { lockX: number; lockY: number; claimY: number; claimX: number; refund: number };

/** What measureGasCosts returns: plain numbers, ready for JSON. Records keyed by q have q as key. */
export type GasCosts = {
  /** One swap of this framework: 100 ERC-20 tokens on x (chain A) for 1 native coin on y (chain B). */
  swap: {
    registerX: number;
    registerY: number;
    precommitX: number;
    precommitY: number;
    terminateX: number;
    terminateY: number;
    /** The views the relayers posted for this swap (threshold signatures, q = 4), both directions together. */
    submitView: { posts: number; gas: number };
    /** The six steps and the view posts. */
    total: number;
    /** Separately, not in the total: cancelling an ERC-20 leg nobody pre-committed, the counterpart of htlcSwap.refund. */
    cancel: number;
  };
  /** One HTLC swap of the same assets between two other accounts: lock on x, lock on y, claim on y, claim on x. */
  htlcSwap: {
    lockX: number;
    lockY: number;
    claimY: number;
    claimX: number;
    /** The four steps. */
    total: number;
    /** Separately, not in the total: refunding an ERC-20 lock on x after its timelock. */
    refund: number;
  };
  /** ViewRegistry.submitView signed by ceil(2q/3) members, full window of k hashes, median of VIEW_SAMPLES. */
  submitView: Record<number, number>;
  /** ViewRegistry.submitForkEvidence: two views differing in the newest hash, each with ceil(2q/3) signatures. */
  submitForkEvidence: Record<number, number>;
  parameters: {
    k: number;
    thresholdRule: string;
    thresholds: Record<number, number>;
    newBlocksPerView: number;
    viewSamples: number;
    swapCommitteeSize: number;
    swapTtlBlocks: number;
    htlcTimelockBlocks: Legs;
    hashlock: string;
    proofs: GatewayGas["proofs"];
    hardfork: string;
    gasSource: string;
  };
  /** Wall-clock time of the whole measurement. */
  seconds: number;
};

/** ceil(q * R_NUMERATOR / R_DENOMINATOR), the registry's threshold. */
export function thresholdOf(q: number): number {
  return Math.ceil((q * R_NUMERATOR) / R_DENOMINATOR);
}

/** Waits for the transaction and returns its gas, failing loudly if it reverted. */
async function gasOf(chain: Chain, what: string, hash: Hex | Promise<Hex>): Promise<number> {
  const receipt: TransactionReceipt = await chain.publicClient.waitForTransactionReceipt({ hash: await hash });
  if (receipt.status !== "success") throw new Error(`${what} reverted (transaction ${receipt.transactionHash})`);
  return Number(receipt.gasUsed);
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
const sum = (xs: number[]) => xs.reduce((p, q) => p + q, 0);

/** The first `threshold` members of the chain's committee: the fewest signatures the registry accepts. */
async function quorumOf(viewed: Chain, verifier: Chain) {
  const [, threshold] = await verifier.registry.read.committeeOf([viewed.chainId]);
  const expected = thresholdOf(viewed.committee.length);
  if (Number(threshold) !== expected) {
    throw new Error(`threshold of a committee of ${viewed.committee.length} is ${threshold} on chain, expected ${expected}`);
  }
  return viewed.committee.slice(0, expected);
}

/** Gas of submitView in the steady state, and of submitForkEvidence, for a committee of q (a new pair of chains). */
export async function measureViews(q: number, log: Log): Promise<ViewGas> {
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
    samples.push(await gasOf(a, "submitView", a.registry.write.submitView([view, await sign(b, view, quorum)])));
    const reached = await a.registry.read.latestHeight([b.chainId]);
    if (reached !== view.height) throw new Error(`submitView was not accepted: A's view of B is at ${reached}, not ${view.height}`);
  }
  log(`  submitView samples: ${samples.join(", ")}`);

  log(`  signing two conflicting views of B with ${quorum.length} of its ${q} validators and submitting them as fork evidence …`);
  const real = await a.registry.read.latestView([b.chainId]);
  const genuine: View = { chainId: real.chainId, height: real.height, acc: real.acc, hashes: [...real.hashes] };
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
async function registerMeasured(leg: Leg, reg: Registration): Promise<number> {
  const { gateway, token } = leg.chain;
  const account = leg.payer.account;
  if (reg.asset !== zeroAddress) {
    await gasOf(leg.chain, "approve", token.write.approve([gateway.address, reg.amount], { account }));
  }
  return gasOf(
    leg.chain,
    `register (${reg.asset === zeroAddress ? "native coin" : "ERC-20"})`,
    gateway.write.register([reg], { account, value: reg.asset === zeroAddress ? reg.amount : 0n }),
  );
}

/**
 * Posts `from`'s view at its head to `to`, signed by a threshold of `from`'s committee, as a relayer does.
 * Refuses a gap the registry cannot connect rather than posting several views.
 */
async function postView(from: Chain, to: Chain): Promise<number> {
  const head = await from.publicClient.getBlockNumber();
  const latest = await to.registry.read.latestHeight([from.chainId]);
  if (head - latest > BigInt(K)) throw new Error(`the view of ${from.chainId} moved by ${head - latest} > k = ${K} heights: shorten SWAP_TTL`);
  const view = await viewOf(from, K, head);
  return gasOf(to, "submitView", to.registry.write.submitView([view, await sign(from, view, await quorumOf(from, to))]));
}

const shapeOf = (proof: StorageProof): ProofShape => ({
  accountProofNodes: proof.accountProof.length,
  storageProofNodes: proof.storageProof.length,
});

async function statusOf(chain: Chain, id: Hex): Promise<number> {
  const [status] = await chain.gateway.read.recordOf([id]);
  return status;
}

async function expectStatus(swap: Swap, status: number, what: string): Promise<void> {
  if ((await statusOf(swap.x.chain, swap.idX)) !== status || (await statusOf(swap.y.chain, swap.idY)) !== status) {
    throw new Error(`the swap was not ${what} on both chains`);
  }
}

/**
 * Gas of the Gateway's steps: one swap (Alice's 100 tokens on A for Bob's coin on B) alone on the chains,
 * register, views, pre-commit, views, terminate (release); then two more swaps that nobody pre-commits, the
 * second registered while the first is open, both cancelled at expiry. The chains first grow past k blocks,
 * so that every view the swap needs carries a full window of k hashes, as on a chain in service.
 */
export async function measureGateway([a, b]: [Chain, Chain], log: Log): Promise<GatewayGas> {
  const { alice } = a.users;
  const bob = b.users.bob;
  log(`  bringing both chains to height ${WARM_UP_HEIGHT} and each one's view of the other to a full window …`);
  await mineTo(a, WARM_UP_HEIGHT);
  await mineTo(b, WARM_UP_HEIGHT);
  await relayView(b, a, K);
  await relayView(a, b, K);
  await a.token.write.mint([alice.account.address, 1000n]);

  const tokenForCoin = async (salt: number) =>
    prepareSwap(
      { chain: a, payer: alice, beneficiary: bob.account.address, asset: a.token.address, amount: TOKENS, expiry: (await a.publicClient.getBlockNumber()) + SWAP_TTL },
      { chain: b, payer: bob, beneficiary: alice.account.address, asset: NATIVE, amount: COINS, expiry: (await b.publicClient.getBlockNumber()) + SWAP_TTL },
      `0x${salt.toString(16).padStart(64, "0")}`,
    );

  log("  registering a swap of 100 tokens on A for 1 coin on B (the first contract between A and B) …");
  const kept = await tokenForCoin(1);
  const registerX = await registerMeasured(kept.x, kept.regX);
  const registerY = await registerMeasured(kept.y, kept.regY);

  log("  posting each chain's view to the other and pre-committing on both chains …");
  const views = [await postView(b, a), await postView(a, b)];
  const proofs = { precommitX: await recordProof(b, a, kept.idY), precommitY: await recordProof(a, b, kept.idX) };
  const precommitX = await gasOf(a, "precommit on A", a.gateway.write.precommit([kept.idX, proofs.precommitX]));
  const precommitY = await gasOf(b, "precommit on B", b.gateway.write.precommit([kept.idY, proofs.precommitY]));
  await expectStatus(kept, Status.Committed, "pre-committed");

  log("  mining past both expiries, posting views and terminating (release) on both chains …");
  await mineTo(a, kept.regX.h1 + 1n);
  await mineTo(b, kept.regY.h1 + 1n);
  views.push(await postView(b, a), await postView(a, b));
  const terminateProofs = { terminateX: await recordProof(b, a, kept.idY), terminateY: await recordProof(a, b, kept.idX) };
  const terminateX = await gasOf(a, "terminate on A", a.gateway.write.terminate([kept.idX, terminateProofs.terminateX]));
  const terminateY = await gasOf(b, "terminate on B", b.gateway.write.terminate([kept.idY, terminateProofs.terminateY]));
  await expectStatus(kept, Status.Released, "released");

  log("  registering two swaps that nobody pre-commits, the second while the first is open …");
  const first = await tokenForCoin(2);
  await registerMeasured(first.x, first.regX);
  await registerMeasured(first.y, first.regY);
  const second = await tokenForCoin(3);
  const registerWhileAnotherOpen = { x: await registerMeasured(second.x, second.regX), y: await registerMeasured(second.y, second.regY) };

  log("  cancelling both at expiry, the second one last …");
  await mineTo(a, second.regX.h1 + 1n);
  await mineTo(b, second.regY.h1 + 1n);
  await gasOf(a, "cancel on A", a.gateway.write.cancel([first.idX]));
  await gasOf(b, "cancel on B", b.gateway.write.cancel([first.idY]));
  const cancel = {
    x: await gasOf(a, "cancel on A", a.gateway.write.cancel([second.idX])),
    y: await gasOf(b, "cancel on B", b.gateway.write.cancel([second.idY])),
  };
  await expectStatus(first, Status.Cancelled, "cancelled");
  await expectStatus(second, Status.Cancelled, "cancelled");

  return {
    swap: { registerX, registerY, precommitX, precommitY, terminateX, terminateY, views },
    registerWhileAnotherOpen,
    cancel,
    proofs: {
      precommitX: shapeOf(proofs.precommitX),
      precommitY: shapeOf(proofs.precommitY),
      terminateX: shapeOf(terminateProofs.terminateX),
      terminateY: shapeOf(terminateProofs.terminateY),
    },
  };
}

/**
 * Gas of one HTLC swap of the same assets as measureGateway's: Carol locks 100 tokens on A for Mallory, Mallory
 * locks 1 coin on B for Carol under the same hashlock and a shorter timelock, Carol claims on B (revealing the
 * secret), Mallory claims on A with it; then a lock on A that is refunded. Carol and Mallory hold no tokens yet,
 * so no balance slot starts warmer than in the Gateway's swap. Approve is not measured, as for register.
 */
async function measureHtlc([a, b]: [Chain, Chain], log: Log): Promise<HtlcGas> {
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

  return { lockX, lockY, claimY, claimX, refund };
}

const byQ = (f: (q: number) => number): Record<number, number> =>
  Object.fromEntries(SUBMIT_VIEW_COMMITTEE_SIZES.map((q) => [q, f(q)]));

/**
 * Measures, in one run: a swap of this framework and an HTLC swap on the same pair of chains (q = 4),
 * then submitView and submitForkEvidence on a new pair of chains for each q of SUBMIT_VIEW_COMMITTEE_SIZES.
 * `log` receives a line per stage. Takes 5–20 s on a loaded 2-core machine; must run inside `hardhat run`.
 */
export async function measureGasCosts({ log = () => {} }: { log?: Log } = {}): Promise<GasCosts> {
  const started = performance.now();
  log(`deploying chains A and B with committees of ${SWAP_COMMITTEE_SIZE} …`);
  const chains = (await deploySystem({ q: SWAP_COMMITTEE_SIZE })) as [Chain, Chain];
  log("measuring a swap of this framework …");
  const gateway = await measureGateway(chains, log);
  log("measuring an HTLC swap on the same chains …");
  const htlc = await measureHtlc(chains, log);
  const views: Record<number, ViewGas> = {};
  for (const q of SUBMIT_VIEW_COMMITTEE_SIZES) {
    log(`measuring submitView and submitForkEvidence with q = ${q} …`);
    views[q] = await measureViews(q, log);
  }

  const { views: posts, ...steps } = gateway.swap;
  const htlcSteps = [htlc.lockX, htlc.lockY, htlc.claimY, htlc.claimX];
  return {
    swap: {
      ...steps,
      submitView: { posts: posts.length, gas: sum(posts) },
      total: sum(Object.values(steps)) + sum(posts),
      cancel: gateway.cancel.x,
    },
    htlcSwap: { lockX: htlc.lockX, lockY: htlc.lockY, claimY: htlc.claimY, claimX: htlc.claimX, total: sum(htlcSteps), refund: htlc.refund },
    submitView: byQ((q) => views[q]!.submitView),
    submitForkEvidence: byQ((q) => views[q]!.forkEvidence),
    parameters: {
      k: K,
      thresholdRule: `ceil(${R_NUMERATOR}q/${R_DENOMINATOR})`,
      thresholds: byQ(thresholdOf),
      newBlocksPerView: NEW_BLOCKS_PER_VIEW,
      viewSamples: VIEW_SAMPLES,
      swapCommitteeSize: SWAP_COMMITTEE_SIZE,
      swapTtlBlocks: Number(SWAP_TTL),
      htlcTimelockBlocks: { x: Number(2n * SWAP_TTL), y: Number(SWAP_TTL) },
      hashlock: "sha256 of the 32-byte secret",
      proofs: gateway.proofs,
      hardfork: "prague",
      gasSource: "transaction receipt gasUsed (includes the 21,000 base cost and calldata)",
    },
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
