import assert from "node:assert/strict";
import fc from "fast-check";
import { getAddress, keccak256, parseEther, stringToHex, zeroAddress, zeroHash, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  BOND,
  CLAIM_PERIOD,
  COMPENSATION_WINDOW,
  K,
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
  type Chain,
} from "../fixtures/system.js";
import { NO_HEADER_PROOF } from "../../relayer/chain/recordProof.js";
import { viewStart, type View } from "../../relayer/view/view.js";
import type { Registration } from "../../relayer/chain/registration.js";
import { revertsWith } from "../fixtures/tamper.js";

/*
 * The adversary of the paper's security discussion: B's committee at or above its threshold (it signs any view of B,
 * i.e. it can fork B) with the users it controls, against honest users on both chains. A conflicting view of B is made
 * without a real fork by signing a view with a forged hash: the registry cannot tell the difference.
 *
 * Every user receives on a fresh address of its own that never sends a transaction, so its balances on A and B are
 * exactly what it received; what it paid is the sum of the amounts it registered. Gas is paid by other accounts.
 */

const Status = { None: 0, Registered: 1, Committed: 2, Released: 3, Refunded: 4, Cancelled: 5 } as const;
const UpdateResult = { Accepted: 0, NoOp: 1, Misbehaviour: 2 } as const;
const CAPACITY = (BOND * POOL_BPS) / 10_000n;
const REWARD = (BOND * SLASH_REWARD_BPS) / 10_000n;
const HALF_BOND = BOND / 2n;

type Wallet = Chain["users"]["alice"];

/** A user: who it is, the address it receives on (the same on both chains), and whether it colludes with B's committee. */
type Party = { name: string; addr: Address; colluder: boolean };

function party(name: string, colluder = false): Party {
  return { name, addr: privateKeyToAccount(keccak256(stringToHex(`fork-compensation/${name}`))).address, colluder };
}

/** One side of a swap: `payer` pays `amount` of the native coin on `chain` to `receiver`, expiring at `expiry`. */
type Side = { chain: Chain; payer: Party; receiver: Party; amount: bigint; expiry: bigint };

/** A swap between A and B: `onA` is registered on A (counterparty B), `onB` on B. */
type Swap = { onA: Registration; onB: Registration; idA: Hex; idB: Hex; sideA: Side; sideB: Side };

let saltCounter = 0;

/** The mirror registrations of a swap, as prepareSwap makes them but with refundTo = the payer's own address. */
async function prepare(sideA: Side, sideB: Side): Promise<Swap> {
  const salt = keccak256(stringToHex(`salt/${saltCounter++}`));
  const draft = (s: Side, other: Side): Registration => ({
    asset: zeroAddress,
    amount: s.amount,
    beneficiary: s.receiver.addr,
    refundTo: s.payer.addr,
    salt,
    tx2: zeroHash,
    tx2r: zeroHash,
    counterparty: other.chain.chainId,
    h1: s.expiry,
    h2: other.expiry,
    registerBy: s.expiry,
    mirrorBy: other.expiry,
  });
  const [tx1, tx1r] = await sideA.chain.gateway.read.txHashes([draft(sideA, sideB)]);
  const [tx2, tx2r] = await sideB.chain.gateway.read.txHashes([draft(sideB, sideA)]);
  const onA = { ...draft(sideA, sideB), tx2, tx2r };
  const onB = { ...draft(sideB, sideA), tx2: tx1, tx2r: tx1r };
  const [idA, mirror] = await sideA.chain.gateway.read.contractIds([onA]);
  const [idB] = await sideB.chain.gateway.read.contractIds([onB]);
  assert.equal(mirror, idB);
  return { onA, onB, idA, idB, sideA, sideB };
}

/** The payer's escrow goes in from `from` (a funded account that pays the gas); the payer is credited with paying it. */
async function register(chain: Chain, reg: Registration, paid: Map<string, bigint>, payer: Party, from: Wallet = chain.users.deployer) {
  await chain.gateway.write.register([reg], { account: from.account, value: reg.amount });
  paid.set(payer.name, (paid.get(payer.name) ?? 0n) + reg.amount);
}

async function statusOf(chain: Chain, id: Hex): Promise<number> {
  const [status] = await chain.gateway.read.recordOf([id]);
  return status;
}

async function mirrorIds(chain: Chain, regs: readonly Registration[]): Promise<Hex[]> {
  return Promise.all(regs.map(async (r) => (await chain.gateway.read.contractIds([r]))[1]));
}

/** Relays `other`'s head to `chain` and pre-commits `regs` (registered on `chain`) in one batch. */
async function precommit(chain: Chain, other: Chain, regs: readonly Registration[]) {
  if (regs.length === 0) return;
  await relayView(other, chain);
  const { at, storageProofs } = await recordProofs(other, chain, await mirrorIds(chain, regs));
  await chain.gateway.write.precommit([NO_POST, at, [...regs], storageProofs]);
}

/** Terminates `regs` on `chain` by proof at `chain`'s newest accepted view of `other`. */
async function terminateByProof(chain: Chain, other: Chain, regs: readonly Registration[], from: Wallet = chain.users.deployer) {
  if (regs.length === 0) return;
  const { at, storageProofs } = await recordProofs(other, chain, await mirrorIds(chain, regs));
  return chain.gateway.write.terminate([NO_POST, at, [...regs], storageProofs], { account: from.account });
}

/** Terminates `regs` on `chain` without a proof: only an undecidable contract (its counterparty frozen below h2) ends so. */
async function terminateUndecided(chain: Chain, regs: readonly Registration[]) {
  if (regs.length === 0) return;
  return chain.gateway.write.terminate([NO_POST, NO_HEADER_PROOF, [...regs], regs.map(() => [])]);
}

/** Where a conflicting view of B diverges from what A's registry holds. */
type Divergence =
  | { kind: "sameHeight"; back: number } // a view at an accepted height, `back` accepted views below the newest
  | { kind: "inWindow"; ahead: number; at: number } // a newer view whose window reaches back over the newest accepted height
  | { kind: "belowWindow"; ahead: number }; // a newer view whose acc (the folded history) is forged

/**
 * A view of `b` that conflicts with what `a`'s registry accepted: the real view with one forged hash (or acc), signed by
 * b's whole committee. `accepted` lists the heights a accepted, newest last.
 */
async function conflictingView(b: Chain, a: Chain, divergence: Divergence, accepted: readonly bigint[]): Promise<View> {
  const forged = keccak256(stringToHex("forged block"));
  const latest = await a.registry.read.latestHeight([b.chainId]);
  if (divergence.kind === "sameHeight") {
    const height = accepted[Math.max(0, accepted.length - 1 - divergence.back)]!;
    const real = await viewOf(b, K, height);
    return { ...real, hashes: [...real.hashes.slice(0, -1), forged] };
  }
  const ahead = BigInt(divergence.ahead); // 1..K-1: the window still covers `latest`
  await mineTo(b, latest + ahead);
  const real = await viewOf(b, K, latest + ahead);
  if (divergence.kind === "belowWindow") return { ...real, acc: forged };
  const start = viewStart(real);
  const index = Number(latest - start) - (divergence.at % Number(latest - start + 1n)); // a height in [start, latest]
  const hashes = [...real.hashes];
  hashes[index] = forged;
  return { ...real, hashes };
}

/** Posts a conflicting view of `b` to `a` from `reporter`; returns the reward `reporter` got and A's block of the freeze. */
async function freeze(b: Chain, a: Chain, view: View, reporter: Wallet): Promise<{ reward: bigint; frozenAt: bigint }> {
  const result = await a.registry.simulate.submitView([view, await sign(b, view), []], { account: reporter.account.address });
  assert.equal(result.result, UpdateResult.Misbehaviour, "the forged view is fork evidence");
  const hash = await a.registry.write.submitView([view, await sign(b, view), []], { account: reporter.account });
  const receipt = await a.publicClient.waitForTransactionReceipt({ hash });
  const [event] = await a.publicClient.getContractEvents({
    address: a.registry.address,
    abi: a.registry.abi,
    eventName: "ChainFrozen",
    blockHash: receipt.blockHash,
  });
  assert.ok(event, "ChainFrozen emitted");
  assert.equal(event.args.reporter, getAddress(reporter.account.address));
  assert.equal(event.args.slashed, BOND);
  assert.equal(event.args.slashed, event.args.reward! + event.args.pool! + event.args.burned!);
  assert.ok(event.args.burned! >= HALF_BOND, "at least half of the bond is burned");
  assert.equal(await a.registry.read.isFrozen([b.chainId]), true);
  return { reward: event.args.reward!, frozenAt: receipt.blockNumber };
}

/** The claimant of a finished contract: the payer of a released one, the beneficiary of a refunded one. */
function claimantOf(reg: Registration, status: number): Address {
  return status === Status.Released ? reg.refundTo : reg.beneficiary;
}

async function balancesOf(chain: Chain, parties: readonly Party[]): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for (const p of parties) out.set(p.name, await chain.publicClient.getBalance({ address: p.addr }));
  return out;
}

/** What every party ended with: received on A and B minus what it paid into escrows. */
async function netPositions(a: Chain, b: Chain, parties: readonly Party[], paid: Map<string, bigint>): Promise<Map<string, bigint>> {
  const [onA, onB] = [await balancesOf(a, parties), await balancesOf(b, parties)];
  return new Map(parties.map((p) => [p.name, onA.get(p.name)! + onB.get(p.name)! - (paid.get(p.name) ?? 0n)]));
}

/** Files the claim of `reg` on `chain` from `from`; returns the value filed. */
async function fileClaim(chain: Chain, reg: Registration, from: Wallet): Promise<bigint> {
  const hash = await chain.gateway.write.claimCompensation([reg], { account: from.account });
  const receipt = await chain.publicClient.waitForTransactionReceipt({ hash });
  const [event] = await chain.publicClient.getContractEvents({
    address: chain.gateway.address,
    abi: chain.gateway.abi,
    eventName: "CompensationFiled",
    blockHash: receipt.blockHash,
  });
  assert.ok(event, "CompensationFiled emitted");
  return event.args.value!;
}

/** Withdraws the compensation of `reg` on `chain`; returns what its claimant was paid. */
async function withdrawClaim(chain: Chain, reg: Registration): Promise<bigint> {
  const hash = await chain.gateway.write.withdrawCompensation([reg]);
  const receipt = await chain.publicClient.waitForTransactionReceipt({ hash });
  const [event] = await chain.publicClient.getContractEvents({
    address: chain.gateway.address,
    abi: chain.gateway.abi,
    eventName: "CompensationPaid",
    blockHash: receipt.blockHash,
  });
  assert.ok(event, "CompensationPaid emitted");
  return event.args.paid!;
}

/** Native coin held by `chain`'s Gateway equals the amounts of its open (registered or pre-committed) contracts. */
async function assertEscrowIsOpenContracts(chain: Chain, regs: readonly Registration[]) {
  let open = 0n;
  for (const r of regs) {
    const [id] = await chain.gateway.read.contractIds([r]);
    const status = await statusOf(chain, id);
    if (status === Status.Registered || status === Status.Committed) open += r.amount;
  }
  assert.equal(await chain.publicClient.getBalance({ address: chain.gateway.address }), open, `escrow on chain ${chain.chainId}`);
}

/** The pool is never overdrawn, and the registry keeps exactly the burned share plus what is left of the pool. */
async function assertPoolAccounting(a: Chain, b: Chain, reward: bigint, paidOut: bigint) {
  const [pool, left] = await a.registry.read.poolOf([b.chainId]);
  assert.equal(pool, CAPACITY);
  assert.equal(pool - left, paidOut, "paid out of the pool = compensation paid");
  assert.ok(paidOut <= pool, "paid <= pool");
  assert.equal(await a.publicClient.getBalance({ address: a.registry.address }), BOND - reward - paidOut);
}

/*
 * The property run. Each run deploys A and B afresh; the adversary (B's committee with Mallory's two identities m0, m1)
 * chooses the contracts, which of them expire early (settled by proof on both chains before the fork) or late, which
 * late B sides B settles before the fork, whether views of B at or past the late h2 reach A, where its conflicting view
 * diverges, how long after the early settlements it forks, which claims it files and in what order. Honest users swap
 * among themselves and with the colluders, and file every claim they may.
 */

/** Runs per `npx hardhat test`; FORK_RUNS=n for a longer search. */
const NUM_RUNS = Number(process.env.FORK_RUNS ?? 12);
const HONEST = 4;
const EARLY = 40n;
const LATE = 90n;

/** One contract the adversary opens: colluders with themselves, a colluder with an honest user, or two honest users. */
type Plan = {
  kind: "self" | "withHonest" | "honestPair";
  aToB: boolean; // the colluder (or the first honest user) pays on A
  amountEth: number;
  late: boolean;
  settleBFirst: boolean; // a late contract's side on B is terminated before the fork
  honest: number;
};

type Strategy = {
  plans: Plan[];
  withhold: boolean;
  divergence: Divergence;
  freezeDelay: number;
  colluderClaims: boolean[];
  colludersClaimFirst: boolean;
};

const plan: fc.Arbitrary<Plan> = fc.record({
  kind: fc.constantFrom("self" as const, "withHonest" as const, "honestPair" as const),
  aToB: fc.boolean(),
  amountEth: fc.integer({ min: 1, max: 160 }),
  late: fc.boolean(),
  settleBFirst: fc.boolean(),
  honest: fc.nat({ max: HONEST - 1 }),
});

const strategy: fc.Arbitrary<Strategy> = fc.record({
  plans: fc.array(plan, { minLength: 1, maxLength: 6 }),
  withhold: fc.boolean(),
  divergence: fc.oneof(
    fc.record({ kind: fc.constant("sameHeight" as const), back: fc.nat({ max: 2 }) }),
    fc.record({ kind: fc.constant("inWindow" as const), ahead: fc.integer({ min: 1, max: K - 1 }), at: fc.nat({ max: 64 }) }),
    fc.record({ kind: fc.constant("belowWindow" as const), ahead: fc.integer({ min: 1, max: K - 1 }) }),
  ),
  freezeDelay: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 260 })),
  colluderClaims: fc.oneof(fc.constant<boolean[]>([true, true, true, true, true, true]), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 })),
  colludersClaimFirst: fc.boolean(),
});

type Opened = Swap & { plan: Plan; index: number };

async function runAttack(st: Strategy): Promise<void> {
  const [a, b] = await deploySystem({ networks: ["chainA", "chainB"] });
  try {
    await attack(a!, b!, st);
  } finally {
    await a!.conn.close();
    await b!.conn.close();
  }
}

async function attack(a: Chain, b: Chain, st: Strategy): Promise<void> {
  const honest = Array.from({ length: HONEST }, (_, i) => party(`honest${i}`));
  const [m0, m1] = [party("m0", true), party("m1", true)];
  const everyone = [...honest, m0, m1];
  const byAddr = new Map(everyone.map((p) => [p.addr, p]));
  const paid = new Map<string, bigint>();
  const [a0, b0] = [await a.publicClient.getBlockNumber(), await b.publicClient.getBlockNumber()];
  const accepted = [await a.registry.read.latestHeight([b.chainId])];

  // Open what the cap lets in.
  const opened: Opened[] = [];
  for (const [index, p] of st.plans.entries()) {
    const h = honest[p.honest]!;
    const [x, y] = p.kind === "self" ? [m0, m1] : p.kind === "withHonest" ? [m0, h] : [h, honest[(p.honest + 1) % HONEST]!];
    const [payerA, payerB] = p.aToB ? [x, y] : [y, x];
    const amount = parseEther(String(p.amountEth));
    const ttl = p.late ? LATE : EARLY;
    const swap = await prepare(
      { chain: a, payer: payerA, receiver: payerB, amount, expiry: a0 + ttl },
      { chain: b, payer: payerB, receiver: payerA, amount, expiry: b0 + ttl },
    );
    const exposure = await a.gateway.read.exposureOf([b.chainId]);
    if (exposure + amount > CAPACITY) {
      await assert.rejects(register(a, swap.onA, new Map(), payerA), revertsWith("GatewayExposureCapExceeded"));
      continue;
    }
    await register(a, swap.onA, paid, payerA);
    await register(b, swap.onB, paid, payerB);
    opened.push({ ...swap, plan: p, index });
  }
  const early = opened.filter((o) => !o.plan.late);
  const late = opened.filter((o) => o.plan.late);
  await precommit(a, b, opened.map((o) => o.onA));
  await precommit(b, a, opened.map((o) => o.onB));
  for (const o of opened) assert.equal(await statusOf(a, o.idA), Status.Committed);

  // Early contracts settle by proof on both chains; A's view of B stays below the late h2.
  await mineTo(a, a0 + EARLY + 1n);
  await mineTo(b, b0 + EARLY + 1n);
  accepted.push(await relayView(b, a, K, b0 + EARLY + 1n));
  await terminateByProof(a, b, early.map((o) => o.onA));
  await relayView(a, b);
  await terminateByProof(b, a, early.map((o) => o.onB));
  for (const o of early) assert.equal(await statusOf(a, o.idA), Status.Released);

  // Late contracts expire; B settles the sides it picked; A hears of B past the late h2 only if B does not withhold.
  await mineTo(a, a0 + LATE + 1n);
  await mineTo(b, b0 + LATE + 1n);
  await relayView(a, b);
  await terminateByProof(b, a, late.filter((o) => o.plan.settleBFirst).map((o) => o.onB));
  if (!st.withhold) accepted.push(await relayView(b, a));
  if (st.freezeDelay > 0) await mine(a, st.freezeDelay);
  await assertEscrowIsOpenContracts(a, opened.map((o) => o.onA));
  await assertEscrowIsOpenContracts(b, opened.map((o) => o.onB));

  const { reward, frozenAt } = await freeze(b, a, await conflictingView(b, a, st.divergence, accepted), a.users.mallory);
  await assertEscrowIsOpenContracts(a, opened.map((o) => o.onA));

  // Honest relayers end everything: on A by proof where A's view of B reached h2, undecided otherwise; then on B.
  const height = await a.registry.read.latestHeight([b.chainId]);
  const decidable = late.filter((o) => o.onA.h2 <= height);
  const undecidable = late.filter((o) => o.onA.h2 > height);
  assert.equal(undecidable.length > 0, st.withhold && late.length > 0);
  await terminateByProof(a, b, decidable.map((o) => o.onA));
  await terminateUndecided(a, undecidable.map((o) => o.onA));
  for (const o of decidable) assert.equal(await statusOf(a, o.idA), Status.Released);
  for (const o of undecidable) assert.equal(await statusOf(a, o.idA), Status.Refunded);
  await relayView(a, b);
  await terminateByProof(b, a, late.filter((o) => !o.plan.settleBFirst).map((o) => o.onB));
  await assertEscrowIsOpenContracts(a, opened.map((o) => o.onA));
  await assertEscrowIsOpenContracts(b, opened.map((o) => o.onB));

  // Claims: honest users file every claim they may; the colluders the ones they picked, first or last.
  type Claim = { o: Opened; claimant: Party; compensable: boolean };
  const claims: Claim[] = [];
  for (const o of opened) {
    const [status, , , finishedAt] = await a.gateway.read.recordOf([o.idA]);
    const claimant = byAddr.get(claimantOf(o.onA, status))!;
    const compensable = (status === Status.Released || status === Status.Refunded) && finishedAt + COMPENSATION_WINDOW >= frozenAt;
    if (!claimant.colluder || st.colluderClaims[o.index]) claims.push({ o, claimant, compensable });
  }
  claims.sort((x, y) => Number(x.claimant.colluder !== st.colludersClaimFirst) - Number(y.claimant.colluder !== st.colludersClaimFirst));
  const filed = new Map<Opened, bigint>();
  const claimantFor = new Map<Opened, Party>();
  for (const c of claims) {
    claimantFor.set(c.o, c.claimant);
    if (c.compensable) filed.set(c.o, await fileClaim(a, c.o.onA, a.users.alice));
    else await assert.rejects(fileClaim(a, c.o.onA, a.users.alice), revertsWith("GatewayNotCompensable"));
  }
  const total = [...filed.values()].reduce((x, y) => x + y, 0n);
  const [pool] = await a.registry.read.poolOf([b.chainId]);
  assert.ok(total <= pool, `claims ${total} within the pool ${pool}: the exposure cap keeps pro rata out of reach`);

  await mineTo(a, frozenAt + CLAIM_PERIOD + 1n);
  const payout = new Map<Opened, bigint>();
  for (const [o, value] of [...filed].reverse()) {
    const got = await withdrawClaim(a, o.onA);
    assert.equal(got, total <= pool ? value : (value * pool) / total);
    payout.set(o, got);
  }
  const paidOut = [...payout.values()].reduce((x, y) => x + y, 0n);
  await assertPoolAccounting(a, b, reward, paidOut);

  // P1: reward + the colluders' compensation + what they took from honest users <= half the bond.
  const net = await netPositions(a, b, everyone, paid);
  const colluders = reward + net.get("m0")! + net.get("m1")!;
  assert.ok(colluders <= HALF_BOND, `P1: the colluders keep ${colluders} > half the bond ${HALF_BOND}`);

  // P2: every honest user ends even or better, short at most by a pro-rata cut of its own claims.
  for (const h of honest) {
    let shortfall = 0n;
    for (const [o, value] of filed) if (claimantFor.get(o) === h) shortfall += value - payout.get(o)!;
    assert.ok(net.get(h.name)! + shortfall >= 0n, `P2: ${h.name} ends at ${net.get(h.name)}`);
  }

  // P3: an honest user holding both assets of a swap with another honest user did so only at the pool's expense.
  for (const o of opened.filter((x) => x.plan.kind === "honestPair")) {
    const [sA, sB] = [await statusOf(a, o.idA), await statusOf(b, o.idB)];
    const aPayerHasBoth = sA === Status.Refunded && sB === Status.Released;
    const bPayerHasBoth = sA === Status.Released && sB === Status.Refunded;
    assert.ok(!bPayerHasBoth, "P3: B never refunds a side whose mirror A released");
    if (aPayerHasBoth) assert.ok((payout.get(o) ?? 0n) >= o.onA.amount, `P3: ${o.sideB.payer.name} lost its side to ${o.sideA.payer.name} uncompensated`);
  }
}

describe("ForkCompensation", () => {
  let a: Chain;
  let b: Chain;

  describe("a fork of B against A", () => {
    beforeEach(async () => {
      [a, b] = await deploySystem({ networks: ["chainA", "chainB"] });
    });
    afterEach(async () => {
      await a.conn.close();
      await b.conn.close();
    });

    /**
     * The audit's point 1. Mallory (on A) swaps V with honest Bob (Bob pays on B). B's committee lets Bob's side settle
     * on B (Bob's coins go to Mallory), withholds every view of B at or after h2 from A, and freezes itself on A with a
     * conflicting view: Mallory's side on A is undecidable and refunded. With a self-swap of Mallory's released just
     * before, the colluders fill the exposure cap with claims of their own. Bob still gets V, and the colluders' reward,
     * compensation and Bob's coins together stay at or below half the bond, whichever claim comes first.
     */
    for (const order of ["Bob first", "Mallory first"] as const) {
      it(`a fork is free for a colluding committee: refuted, the colluders keep at most half the bond (claims filed ${order})`, async () => {
        const bob = party("bob");
        const mallory = party("mallory", true);
        const mallory2 = party("mallory2", true);
        const paid = new Map<string, bigint>();
        const V = parseEther("100"); // Bob's swap
        const S = CAPACITY - V; // the self-swap fills the rest of A's exposure cap for B
        const [a0, b0] = [await a.publicClient.getBlockNumber(), await b.publicClient.getBlockNumber()];

        // A self-swap of the colluders that settles normally, and Mallory's swap with Bob, which expires later.
        const self = await prepare(
          { chain: a, payer: mallory, receiver: mallory2, amount: S, expiry: a0 + 40n },
          { chain: b, payer: mallory2, receiver: mallory, amount: S, expiry: b0 + 40n },
        );
        const swap = await prepare(
          { chain: a, payer: mallory, receiver: bob, amount: V, expiry: a0 + 80n },
          { chain: b, payer: bob, receiver: mallory, amount: V, expiry: b0 + 80n },
        );
        await register(a, self.onA, paid, mallory, a.users.mallory);
        await register(b, self.onB, paid, mallory2, b.users.mallory);
        await register(a, swap.onA, paid, mallory, a.users.mallory);
        await register(b, swap.onB, paid, bob, b.users.bob);
        assert.equal(await a.gateway.read.exposureOf([b.chainId]), CAPACITY);
        await precommit(a, b, [self.onA, swap.onA]);
        await precommit(b, a, [self.onB, swap.onB]);
        assert.equal(await statusOf(a, swap.idA), Status.Committed);
        assert.equal(await statusOf(b, swap.idB), Status.Committed);

        // The self-swap is released on both chains, A deciding with a view of B past its h2 (and below Bob's).
        await mineTo(a, self.onA.h1 + 1n);
        await mineTo(b, self.onB.h1 + 1n);
        await relayView(b, a, K, self.onB.h1 + 1n);
        await relayView(a, b);
        await terminateByProof(a, b, [self.onA]);
        await terminateByProof(b, a, [self.onB]);
        assert.equal(await statusOf(a, self.idA), Status.Released);
        assert.equal(await statusOf(b, self.idB), Status.Released);

        // B settles Bob's side first: A's record says Mallory's side is pre-committed, so Bob's coins go to Mallory.
        await mineTo(a, swap.onA.h1 + 1n);
        await mineTo(b, swap.onB.h1 + 1n);
        await relayView(a, b);
        await terminateByProof(b, a, [swap.onB]);
        assert.equal(await statusOf(b, swap.idB), Status.Released);
        assert.equal(await b.publicClient.getBalance({ address: mallory.addr }), S + V);

        // No view of B at or past Bob's h2 ever reaches A; the committee signs a conflicting one and posts it.
        const latest = await a.registry.read.latestHeight([b.chainId]);
        assert.ok(latest < swap.onA.h2, "A's view of B is below h2");
        await assert.rejects(terminateUndecided(a, [swap.onA]), revertsWith("GatewayProofRequired"));
        const { reward, frozenAt } = await freeze(b, a, await conflictingView(b, a, { kind: "sameHeight", back: 0 }, [latest]), a.users.mallory);
        assert.equal(reward, REWARD);

        // On A the contract cannot be decided: Mallory is refunded without a proof.
        const hash = await terminateUndecided(a, [swap.onA]);
        const undecided = await a.publicClient.getContractEvents({
          address: a.gateway.address,
          abi: a.gateway.abi,
          eventName: "ContractUndecided",
          blockHash: (await a.publicClient.waitForTransactionReceipt({ hash: hash! })).blockHash,
        });
        assert.deepEqual(undecided.map((e) => e.args.contractId), [swap.idA]);
        assert.equal(await statusOf(a, swap.idA), Status.Refunded);
        await assertEscrowIsOpenContracts(a, [self.onA, swap.onA]);
        await assertEscrowIsOpenContracts(b, [self.onB, swap.onB]);

        // Claims: Bob as the beneficiary of the undecided side, Mallory as the payer of her released self-swap.
        const bobClaim = () => fileClaim(a, swap.onA, a.users.bob);
        const malloryClaim = () => fileClaim(a, self.onA, a.users.mallory);
        const filed = order === "Bob first" ? [await bobClaim(), await malloryClaim()] : [await malloryClaim(), await bobClaim()];
        assert.equal(filed.reduce((x, y) => x + y), CAPACITY, "claims fill the pool exactly");
        await assert.rejects(withdrawClaim(a, swap.onA), revertsWith("GatewayClaimPeriodOpen"));
        await mineTo(a, frozenAt + CLAIM_PERIOD + 1n);
        const [first, second] = order === "Bob first" ? [swap.onA, self.onA] : [self.onA, swap.onA];
        const payouts = new Map([[first, await withdrawClaim(a, first)], [second, await withdrawClaim(a, second)]]);
        assert.equal(payouts.get(swap.onA), V, "Bob is paid the full value of the side he lost");
        assert.equal(payouts.get(self.onA), S, "the self-swap's claim is paid in full too (the cap keeps claims within the pool)");
        await assertPoolAccounting(a, b, reward, V + S);

        const net = await netPositions(a, b, [bob, mallory, mallory2], paid);
        assert.equal(net.get("bob"), 0n, "Bob lost V on B and got V back from the pool");
        const colluders = reward + net.get("mallory")! + net.get("mallory2")!;
        assert.equal(colluders, REWARD + S + V, "reward + their compensation + Bob's coins");
        assert.ok(colluders <= HALF_BOND, `the colluders keep ${colluders} <= half the bond`);
        assert.ok(colluders - BOND <= -HALF_BOND, "the fork costs them at least half the bond");
      });
    }

    it("decides by proof after the freeze a contract whose counterparty view reached h2 before it (release and refund)", async () => {
      const [alice, carol, dave, erin] = [party("alice"), party("carol"), party("dave"), party("erin")];
      const paid = new Map<string, bigint>();
      const V = parseEther("10");
      const [a0, b0] = [await a.publicClient.getBlockNumber(), await b.publicClient.getBlockNumber()];
      // Alice and Carol swap normally; Erin registers her side on B but never pre-commits it (it is cancelled there).
      const released = await prepare(
        { chain: a, payer: alice, receiver: carol, amount: V, expiry: a0 + 30n },
        { chain: b, payer: carol, receiver: alice, amount: V, expiry: b0 + 30n },
      );
      const refunded = await prepare(
        { chain: a, payer: dave, receiver: erin, amount: V, expiry: a0 + 30n },
        { chain: b, payer: erin, receiver: dave, amount: V, expiry: b0 + 30n },
      );
      for (const s of [released, refunded]) {
        await register(a, s.onA, paid, s.sideA.payer);
        await register(b, s.onB, paid, s.sideB.payer);
      }
      await precommit(a, b, [released.onA, refunded.onA]);
      await precommit(b, a, [released.onB]);

      await mineTo(a, released.onA.h1 + 1n);
      await mineTo(b, released.onB.h1 + 1n);
      await relayView(b, a); // A's view of B passes h2 before the freeze
      await relayView(a, b);
      await terminateByProof(b, a, [released.onB]);
      await b.gateway.write.cancel([refunded.onB]);
      const latest = await a.registry.read.latestHeight([b.chainId]);
      assert.ok(latest >= released.onA.h2);
      await freeze(b, a, await conflictingView(b, a, { kind: "sameHeight", back: 0 }, [latest]), a.users.mallory);

      // Without a proof nothing ends: the freeze does not make these contracts undecidable.
      await assert.rejects(terminateUndecided(a, [released.onA, refunded.onA]), revertsWith("GatewayProofRequired"));
      const hash = await terminateByProof(a, b, [released.onA, refunded.onA], a.users.carol);
      const receipt = await a.publicClient.waitForTransactionReceipt({ hash: hash! });
      const undecided = await a.publicClient.getContractEvents({ address: a.gateway.address, abi: a.gateway.abi, eventName: "ContractUndecided", blockHash: receipt.blockHash });
      assert.equal(undecided.length, 0, "decided by proof, not undecided");
      assert.equal(await statusOf(a, released.idA), Status.Released);
      assert.equal(await statusOf(a, refunded.idA), Status.Refunded);
      const net = await netPositions(a, b, [alice, carol, dave, erin], paid);
      assert.deepEqual([...net.values()], [0n, 0n, 0n, 0n], "every side went where the proof said: nobody gained or lost");
      assert.equal(await a.publicClient.getBalance({ address: carol.addr }), V);
      assert.equal(await b.publicClient.getBalance({ address: alice.addr }), V);
      await assertEscrowIsOpenContracts(a, [released.onA, refunded.onA]);
    });

    describe("a compensation claim for a contract that lost nothing", () => {
      it("is refused (GatewayNotCompensable) when cancelled, not frozen, finished > compensationWindow before, claimed twice or late; withdrawal waits for the period", async () => {
        const [alice, bob] = [party("alice"), party("bob")];
        const paid = new Map<string, bigint>();
        const V = parseEther("1");
        const [a0, b0] = [await a.publicClient.getBlockNumber(), await b.publicClient.getBlockNumber()];
        const swapOf = (i: number, ttl: bigint) =>
          prepare({ chain: a, payer: alice, receiver: bob, amount: V * BigInt(i + 1), expiry: a0 + ttl }, { chain: b, payer: bob, receiver: alice, amount: V * BigInt(i + 1), expiry: b0 + ttl });
        const [old, edge, late, late2, lone] = [await swapOf(0, 40n), await swapOf(1, 40n), await swapOf(2, 80n), await swapOf(3, 80n), await swapOf(4, 40n)];
        for (const s of [old, edge, late, late2]) {
          await register(a, s.onA, paid, alice);
          await register(b, s.onB, paid, bob);
        }
        await register(a, lone.onA, paid, alice); // its mirror is never registered: it can only be cancelled
        await precommit(a, b, [old.onA, edge.onA, late.onA, late2.onA]);
        await precommit(b, a, [old.onB, edge.onB]);

        await mineTo(a, old.onA.h1 + 1n);
        await mineTo(b, old.onB.h1 + 1n);
        await relayView(b, a, K, old.onB.h1 + 1n); // below late's h2
        await a.gateway.write.cancel([lone.onA]);
        await terminateByProof(a, b, [old.onA]);
        await terminateByProof(a, b, [edge.onA]);
        const [, , , oldAt] = await a.gateway.read.recordOf([old.idA]);
        const [, , , edgeAt] = await a.gateway.read.recordOf([edge.idA]);
        assert.equal(edgeAt, oldAt + 1n);
        await assert.rejects(fileClaim(a, edge.onA, a.users.alice), revertsWith("GatewayNotCompensable"), "counterparty not frozen");

        await mineTo(a, oldAt + COMPENSATION_WINDOW);
        const { frozenAt } = await freeze(b, a, await conflictingView(b, a, { kind: "sameHeight", back: 0 }, [old.onB.h1 + 1n]), a.users.mallory);
        assert.equal(frozenAt, oldAt + COMPENSATION_WINDOW + 1n);
        await mineTo(a, late.onA.h1 + 1n);
        await terminateUndecided(a, [late.onA, late2.onA]);

        await assert.rejects(fileClaim(a, lone.onA, a.users.alice), revertsWith("GatewayNotCompensable"), "a cancelled contract");
        await assert.rejects(fileClaim(a, old.onA, a.users.alice), revertsWith("GatewayNotCompensable"), "finished compensationWindow + 1 blocks before the freeze");
        assert.equal(await fileClaim(a, edge.onA, a.users.alice), edge.onA.amount, "finished exactly compensationWindow blocks before");
        await assert.rejects(fileClaim(a, edge.onA, a.users.alice), revertsWith("GatewayNotCompensable"), "a second claim");

        const endsAt = frozenAt + CLAIM_PERIOD;
        await mineTo(a, endsAt - 1n); // the next block is the claim period's last
        await assert.rejects(withdrawClaim(a, edge.onA), revertsWith("GatewayClaimPeriodOpen"));
        assert.equal(await fileClaim(a, late.onA, a.users.bob), late.onA.amount, "filed in the period's last block");
        assert.equal(await a.publicClient.getBlockNumber(), endsAt);
        await assert.rejects(fileClaim(a, late2.onA, a.users.bob), revertsWith("GatewayNotCompensable"), "after the claim period");
        await assert.rejects(withdrawClaim(a, late2.onA), revertsWith("GatewayNotCompensable"), "never filed, never paid");

        assert.equal(await withdrawClaim(a, edge.onA), edge.onA.amount);
        assert.equal(await withdrawClaim(a, late.onA), late.onA.amount);
        await assert.rejects(withdrawClaim(a, late.onA), revertsWith("GatewayNotCompensable"), "paid once");
        // Alice: refunds of late, late2 and the cancelled one, and edge's claim; Bob: old and edge released, late's claim.
        assert.equal(await a.publicClient.getBalance({ address: alice.addr }), late.onA.amount + late2.onA.amount + lone.onA.amount + edge.onA.amount);
        assert.equal(await a.publicClient.getBalance({ address: bob.addr }), old.onA.amount + edge.onA.amount + late.onA.amount);
      });
    });

    describe("pro rata: claims exceeding the pool", () => {
      it("cannot be reached by filling the exposure cap: one more gwei is refused, and every claim is paid in full", async () => {
        const [mallory, bob] = [party("mallory", true), party("bob")];
        const paid = new Map<string, bigint>();
        const Q = CAPACITY / 4n;
        const [a0, b0] = [await a.publicClient.getBlockNumber(), await b.publicClient.getBlockNumber()];
        const swaps: Swap[] = [];
        for (const [i, ttl] of [40n, 40n, 80n, 80n].entries()) {
          const s = await prepare(
            { chain: a, payer: mallory, receiver: bob, amount: Q, expiry: a0 + ttl + BigInt(i) },
            { chain: b, payer: bob, receiver: mallory, amount: Q, expiry: b0 + ttl + BigInt(i) },
          );
          await register(a, s.onA, paid, mallory);
          await register(b, s.onB, paid, bob);
          swaps.push(s);
        }
        const [e1, e2, l1, l2] = swaps as [Swap, Swap, Swap, Swap];
        const extra = await prepare(
          { chain: a, payer: mallory, receiver: bob, amount: 1n, expiry: a0 + 90n },
          { chain: b, payer: bob, receiver: mallory, amount: 1n, expiry: b0 + 90n },
        );
        const overCap = () => register(a, extra.onA, new Map(), mallory);
        await assert.rejects(overCap(), revertsWith("GatewayExposureCapExceeded"));
        await precommit(a, b, swaps.map((s) => s.onA));
        await precommit(b, a, swaps.map((s) => s.onB));

        // Two are released before the freeze: they may still claim, so they still count.
        await mineTo(a, e2.onA.h1 + 1n);
        await mineTo(b, e2.onB.h1 + 1n);
        await relayView(b, a, K, e2.onB.h1 + 1n);
        await terminateByProof(a, b, [e1.onA, e2.onA]);
        await assert.rejects(overCap(), revertsWith("GatewayExposureCapExceeded"));
        const { reward, frozenAt } = await freeze(b, a, await conflictingView(b, a, { kind: "inWindow", ahead: 3, at: 1 }, []), a.users.mallory);
        await mineTo(a, l2.onA.h1 + 1n);
        await terminateUndecided(a, [l1.onA, l2.onA]);

        let filed = 0n;
        for (const s of swaps) filed += await fileClaim(a, s.onA, a.users.mallory); // anyone may file; the claimant is paid
        const [pool] = await a.registry.read.poolOf([b.chainId]);
        assert.equal(filed, pool, "the claims reach the pool and no further");
        await mineTo(a, frozenAt + CLAIM_PERIOD + 1n);
        for (const s of swaps) assert.equal(await withdrawClaim(a, s.onA), Q, "paid in full, not pro rata");
        await assertPoolAccounting(a, b, reward, 4n * Q);
        assert.equal(await a.publicClient.getBalance({ address: mallory.addr }), 4n * Q, "Mallory: two refunds and two claims");
        assert.equal(await a.publicClient.getBalance({ address: bob.addr }), 4n * Q, "Bob: two releases and two claims");
      });

      it("cannot be reached across compensation epochs: a finished contract stops counting only once it can no longer claim", async () => {
        const [mallory, bob] = [party("mallory", true), party("bob")];
        const paid = new Map<string, bigint>();
        const [a0, b0] = [await a.publicClient.getBlockNumber(), await b.publicClient.getBlockNumber()];
        const first = await prepare(
          { chain: a, payer: mallory, receiver: bob, amount: CAPACITY, expiry: a0 + 30n },
          { chain: b, payer: bob, receiver: mallory, amount: CAPACITY, expiry: b0 + 30n },
        );
        await register(a, first.onA, paid, mallory);
        await register(b, first.onB, paid, bob);
        await precommit(a, b, [first.onA]);
        await precommit(b, a, [first.onB]);
        await mineTo(a, first.onA.h1 + 1n);
        await mineTo(b, first.onB.h1 + 1n);
        await relayView(b, a);
        await relayView(a, b);
        await terminateByProof(a, b, [first.onA]);
        await terminateByProof(b, a, [first.onB]);
        const [, , , finishedAt] = await a.gateway.read.recordOf([first.idA]);
        const [, , , finishedOnB] = await b.gateway.read.recordOf([first.idB]);
        await mineTo(b, (finishedOnB / COMPENSATION_WINDOW + 2n) * COMPENSATION_WINDOW); // B's cap for A frees it too

        // The cap frees the finished value at the start of the second epoch after it: past its compensation window.
        const freedAt = (finishedAt / COMPENSATION_WINDOW + 2n) * COMPENSATION_WINDOW;
        assert.ok(freedAt > finishedAt + COMPENSATION_WINDOW);
        const [an, bn] = [freedAt + 1n, await b.publicClient.getBlockNumber()];
        const second = await prepare(
          { chain: a, payer: mallory, receiver: bob, amount: CAPACITY, expiry: an + 40n },
          { chain: b, payer: bob, receiver: mallory, amount: CAPACITY, expiry: bn + 40n },
        );
        await mineTo(a, freedAt - 2n); // the next block is the last that still counts `first`
        await assert.rejects(register(a, second.onA, new Map(), mallory), revertsWith("GatewayExposureCapExceeded"));
        await mine(a, 1); // the next block is `freedAt`
        await register(a, second.onA, paid, mallory);
        await register(b, second.onB, paid, bob);
        await precommit(a, b, [second.onA]);
        await precommit(b, a, [second.onB]);
        const { frozenAt } = await freeze(b, a, await conflictingView(b, a, { kind: "belowWindow", ahead: 2 }, []), a.users.mallory);
        await mineTo(a, second.onA.h1 + 1n);
        await terminateUndecided(a, [second.onA]);

        await assert.rejects(fileClaim(a, first.onA, a.users.mallory), revertsWith("GatewayNotCompensable"), "first can no longer claim");
        assert.equal(await fileClaim(a, second.onA, a.users.bob), CAPACITY);
        await mineTo(a, frozenAt + CLAIM_PERIOD + 1n);
        assert.equal(await withdrawClaim(a, second.onA), CAPACITY, "paid in full");
      });
    });

    /**
     * The committee posts to A a view of B at B's head H >= h2 whose head block it never publishes (here: a forged head
     * hash; in a real fork, a block of a branch only the colluders hold). A accepts it (it connects to the stored word), so
     * A's height of B is H >= h2, yet no header proof at an accepted height >= h2 can ever be made. The next real view of B
     * freezes B. A proof can no longer decide the contract: once a compensation window has passed since the freeze without
     * one, it ends undecided (refunded) and its beneficiary claims.
     */
    it("a forged view of B past h2 that nobody can prove cannot lock the contract: it ends undecided after a window and the beneficiary is compensated", async () => {
      const [bob, mallory] = [party("bob"), party("mallory", true)];
      const paid = new Map<string, bigint>();
      const V = parseEther("100");
      const [a0, b0] = [await a.publicClient.getBlockNumber(), await b.publicClient.getBlockNumber()];
      const swap = await prepare(
        { chain: a, payer: mallory, receiver: bob, amount: V, expiry: a0 + 40n },
        { chain: b, payer: bob, receiver: mallory, amount: V, expiry: b0 + 40n },
      );
      await register(a, swap.onA, paid, mallory, a.users.mallory);
      await register(b, swap.onB, paid, bob, b.users.bob);
      await precommit(a, b, [swap.onA]);
      await precommit(b, a, [swap.onB]);
      await mineTo(a, swap.onA.h1 + 1n);
      await mineTo(b, swap.onB.h1 + 1n);
      await relayView(a, b);
      await terminateByProof(b, a, [swap.onB]);
      assert.equal(await b.publicClient.getBalance({ address: mallory.addr }), V, "Bob's coins went to Mallory on B");

      // The committee's view of B at its head, the head's hash forged: it connects, so A accepts it.
      const latest = await a.registry.read.latestHeight([b.chainId]);
      const real = await viewOf(b);
      assert.ok(real.height >= swap.onA.h2);
      const forgedHead = { ...real, hashes: [...real.hashes.slice(0, -1), keccak256(stringToHex("a block nobody has"))] };
      const bridge = await bridgeFor(b, forgedHead, latest);
      const posted = await a.registry.simulate.submitView([forgedHead, await sign(b, forgedHead), bridge]);
      assert.equal(posted.result, UpdateResult.Accepted);
      await a.registry.write.submitView([forgedHead, await sign(b, forgedHead), bridge], { account: a.users.mallory.account });
      await assert.rejects(terminateByProof(a, b, [swap.onA]), revertsWith("GatewayHeaderNotAccepted"), "the real header is not the accepted one");

      // An honest relayer's next real view of B is fork evidence: B is frozen on A, above h2.
      await mine(b, 1);
      await freeze(b, a, await viewOf(b), a.users.carol);
      assert.ok((await a.registry.read.latestHeight([b.chainId])) >= swap.onA.h2);

      // Within a compensation window of the freeze a proof is still awaited; after it, the contract ends undecided.
      const frozenAt = await a.registry.read.frozenAt([b.chainId]);
      await assert.rejects(terminateUndecided(a, [swap.onA]), revertsWith("GatewayProofRequired"));
      await mineTo(a, frozenAt + COMPENSATION_WINDOW + 1n);
      await terminateUndecided(a, [swap.onA]);
      await fileClaim(a, swap.onA, a.users.bob);
      await mineTo(a, frozenAt + CLAIM_PERIOD + 1n);
      await withdrawClaim(a, swap.onA);
      const net = await netPositions(a, b, [bob], paid);
      assert.ok(net.get("bob")! >= 0n, "Bob is made whole");
    });
  });

  describe("an adversary that picks its strategy (fast-check)", () => {
    it("never profits from a fork and never leaves an honest user short (P1, P2, P3, escrow, pool)", async function () {
      this.timeout(300_000);
      await fc.assert(fc.asyncProperty(strategy, runAttack), { numRuns: NUM_RUNS });
    });
  });
});
