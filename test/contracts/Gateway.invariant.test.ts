import assert from "node:assert/strict";
import fc from "fast-check";
import { getAddress, keccak256, numberToHex, parseEther, parseEventLogs, zeroAddress, type Abi, type Address, type Hex } from "viem";
import { Status } from "../../relayer/chain/abis.js";
import { COMPENSATION_WINDOW, K, NO_POST, bridgeFor, deploySystem, mine, recordProofs, relayView, sign, viewOf, type BatchProof, type Chain } from "../fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg, type Leg, type Registration, type Swap } from "../fixtures/swap.js";
import { flipByte } from "../fixtures/tamper.js";

const OPEN = new Set<number>([Status.Registered, Status.Committed]);
const FINAL = new Set<number>([Status.Released, Status.Refunded, Status.Cancelled]);
const MINTED = 10n ** 9n;

type Action =
  | { kind: "open"; tokenOnA: boolean; amountA: number; amountB: number; ttlA: number; ttlB: number; lateA: number; lateB: number; registerA: boolean; registerB: boolean }
  | { kind: "register"; swap: number; onA: boolean }
  | { kind: "relay"; toA: boolean }
  | { kind: "precommit" | "terminate"; swaps: number[]; onA: boolean; tamper: number | null; post: boolean }
  | { kind: "cancel"; swap: number; onA: boolean }
  | { kind: "mine"; blocks: number; onA: boolean };

/** A batch of up to 3 contracts on one side; `tamper` spoils one item's proof; `post` posts the counterparty's newest view in the same transaction. */
const batch = {
  swaps: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
  onA: fc.boolean(),
  tamper: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat({ max: 2 }) }),
  post: fc.boolean(),
};
/** Mostly true: a side that is never registered only ever tests refusals. */
const mostly = fc.constantFrom(true, true, true, false);
/** The attacker's moves, weighted so that runs reach pre-commits and terminations, not only refusals. */
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("open" as const),
      tokenOnA: fc.boolean(),
      amountA: fc.integer({ min: 1, max: 500 }),
      amountB: fc.integer({ min: 1, max: 500 }),
      ttlA: fc.integer({ min: 8, max: 40 }),
      ttlB: fc.integer({ min: 8, max: 40 }),
      // registerBy = expiry - late: how long before its expiry a side must be registered.
      lateA: fc.integer({ min: 0, max: 7 }),
      lateB: fc.integer({ min: 0, max: 7 }),
      registerA: mostly,
      registerB: mostly,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("register" as const), swap: fc.nat(), onA: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("relay" as const), toA: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("precommit" as const), ...batch }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("terminate" as const), ...batch }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), swap: fc.nat(), onA: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("mine" as const), blocks: fc.integer({ min: 1, max: 30 }), onA: fc.boolean() }) },
);

/** One side of a swap: the chain its contract lives on, its counterparty, its terms, its id and its mirror's id. */
type Side = { here: Chain; there: Chain; leg: Leg; reg: Registration; id: Hex; mirror: Hex };

function sidesOf(swap: Swap): { a: Side; b: Side } {
  return {
    a: { here: swap.x.chain, there: swap.y.chain, leg: swap.x, reg: swap.regX, id: swap.idX, mirror: swap.idY },
    b: { here: swap.y.chain, there: swap.x.chain, leg: swap.y, reg: swap.regY, id: swap.idY, mirror: swap.idX },
  };
}

async function statusOf(side: Side): Promise<number> {
  const [status] = await side.here.gateway.read.recordOf([side.id]);
  return status;
}

/**
 * A precommit or terminate of `sides` (one counterparty) with proofs at the newest height the verifier accepted or, with
 * `post`, at the counterparty's head, whose view the same transaction posts; `tamper` spoils one item's storage proof.
 */
async function step(kind: "precommit" | "terminate", sides: readonly Side[], tamper: number | null, post = false) {
  const { here, there } = sides[0]!;
  let viewPost = NO_POST;
  let height: bigint | undefined;
  if (post) {
    height = await there.publicClient.getBlockNumber();
    const view = await viewOf(there, K, height);
    const latest = await here.registry.read.latestHeight([there.chainId]);
    viewPost = { view_: view, signatures: await sign(there, view), bridge: await bridgeFor(there, view, latest) };
  }
  const proof: BatchProof = await recordProofs(there, here, sides.map((s) => s.mirror), height);
  const storageProofs = proof.storageProofs.map((nodes, i) => (i === tamper ? nodes.map((n, j) => (j === nodes.length - 1 ? flipByte(n, -1) : n)) : nodes));
  const args = [viewPost, proof.at, sides.map((s) => s.reg), storageProofs] as const;
  const hash = kind === "precommit" ? await here.gateway.write.precommit(args) : await here.gateway.write.terminate(args);
  return here.publicClient.waitForTransactionReceipt({ hash });
}

/** Escrow held by the Gateway, per asset, equals the value of its open contracts plus what refused payouts left owed. */
async function assertEscrowMatches(chain: Chain, sides: readonly Side[]) {
  const sums = new Map<Address, bigint>();
  for (const side of sides) {
    if (!OPEN.has(await statusOf(side))) continue;
    const asset = getAddress(side.reg.asset);
    sums.set(asset, (sums.get(asset) ?? 0n) + side.reg.amount);
  }
  const owed = async (asset: Address) => {
    let total = 0n;
    for (const user of Object.values(chain.users)) total += await chain.gateway.read.owed([asset, user.account.address]);
    return total;
  };
  const token = getAddress(chain.token.address);
  assert.equal(await chain.token.read.balanceOf([chain.gateway.address]), (sums.get(token) ?? 0n) + (await owed(token)), `token escrow on ${chain.chainId}`);
  assert.equal(await chain.publicClient.getBalance({ address: chain.gateway.address }), (sums.get(zeroAddress) ?? 0n) + (await owed(zeroAddress)), `coin escrow on ${chain.chainId}`);
}

/** A record only moves forward: None -> Registered -> Committed -> Released | Refunded, Registered -> Cancelled; an outcome is final. */
function assertForward(id: Hex, before: number, after: number) {
  const allowed: Record<number, number[]> = {
    [Status.None]: [Status.None, Status.Registered],
    [Status.Registered]: [Status.Registered, Status.Committed, Status.Cancelled],
    [Status.Committed]: [Status.Committed, Status.Released, Status.Refunded],
  };
  const next = FINAL.has(before) ? [before] : allowed[before]!;
  assert.ok(next.includes(after), `contract ${id} went from status ${before} to ${after}`);
}

/** Every contract ends at most once, and each outcome pays the party and amount its terms name. */
async function assertOutcomes(chain: Chain, sides: readonly Side[]) {
  const terms = new Map(sides.map((s) => [s.id, s.reg]));
  const logs = await chain.publicClient.getLogs({ address: chain.gateway.address, fromBlock: 0n });
  const events = parseEventLogs({ abi: chain.gateway.abi as Abi, logs }).filter((e) => ["ContractReleased", "ContractRefunded", "ContractCancelled"].includes(e.eventName));
  const seen = new Set<string>();
  for (const event of events) {
    const args = event.args as { contractId: Hex; beneficiary?: Address; refundTo?: Address; amount: bigint };
    assert.ok(!seen.has(args.contractId), `contract ${args.contractId} ended twice`);
    seen.add(args.contractId);
    const reg = terms.get(args.contractId);
    assert.ok(reg, `an outcome for an unknown contract ${args.contractId}`);
    const to = event.eventName === "ContractReleased" ? reg.beneficiary : reg.refundTo;
    assert.equal(getAddress((args.beneficiary ?? args.refundTo)!), getAddress(to), `${event.eventName} of ${args.contractId} paid the wrong party`);
    assert.equal(args.amount, reg.amount);
  }
}

/** Nothing lost: each user holds the tokens it was minted, minus what it paid into released contracts, plus what it was released. */
async function assertTokensAccounted(chain: Chain, holder: Address, sides: readonly Side[]) {
  const expected = new Map<Address, bigint>(Object.values(chain.users).map((u) => [getAddress(u.account.address), 0n]));
  expected.set(getAddress(holder), MINTED);
  for (const side of sides) {
    if (getAddress(side.reg.asset) !== getAddress(chain.token.address) || (await statusOf(side)) !== Status.Released) continue;
    const payer = getAddress(side.reg.refundTo);
    const beneficiary = getAddress(side.reg.beneficiary);
    expected.set(payer, expected.get(payer)! - side.reg.amount);
    expected.set(beneficiary, expected.get(beneficiary)! + side.reg.amount);
  }
  for (const [user, balance] of expected) assert.equal(await chain.token.read.balanceOf([user]), balance, `tokens of ${user} on ${chain.chainId}`);
}

/** Runs that must release swaps (one by single steps, two in batches), so the property is never checked only on refusals. */
const open = (tokenOnA: boolean): Action => ({ kind: "open", tokenOnA, amountA: 7, amountB: 3, ttlA: 30, ttlB: 30, lateA: 0, lateB: 0, registerA: true, registerB: true });
const HAPPY_PATH: Action[] = [
  open(true),
  { kind: "relay", toA: true },
  { kind: "relay", toA: false },
  { kind: "precommit", swaps: [0], onA: true, tamper: null, post: false },
  { kind: "precommit", swaps: [0], onA: false, tamper: null, post: false },
];
const BATCHED: Action[] = [
  open(true),
  open(false),
  { kind: "relay", toA: true },
  { kind: "relay", toA: false },
  { kind: "precommit", swaps: [0, 1], onA: true, tamper: null, post: true },
  { kind: "precommit", swaps: [1, 0, 1], onA: false, tamper: 2, post: false },
  { kind: "mine", blocks: 12, onA: true },
];

describe("Gateway invariants (fast-check)", () => {
  it("escrow equals the open contracts, each contract ends once, the two sides of a swap agree and nothing is lost", async () => {
    const outcomes = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 6, maxLength: 24 }), async (actions) => {
        const [a, b] = (await deploySystem()) as [Chain, Chain];
        await a.token.write.mint([a.users.alice.account.address, MINTED]);
        await b.token.write.mint([b.users.bob.account.address, MINTED]);
        const swaps: Swap[] = [];
        const sidesOn = (chain: Chain) => swaps.map((s) => (chain === a ? sidesOf(s).a : sidesOf(s).b));
        const statuses = new Map<Hex, number>();

        for (const act of actions) {
          const pick = (onA: boolean, i: number) => {
            const s = sidesOf(swaps[i % swaps.length]!);
            return onA ? s.a : s.b;
          };
          try {
            if (act.kind === "open") {
              const nowA = await a.publicClient.getBlockNumber();
              const nowB = await b.publicClient.getBlockNumber();
              const expiryA = nowA + BigInt(act.ttlA);
              const expiryB = nowB + BigInt(act.ttlB);
              const swap = await prepareSwap(
                {
                  chain: a,
                  payer: a.users.alice,
                  beneficiary: a.users.bob.account.address,
                  asset: act.tokenOnA ? a.token.address : NATIVE,
                  amount: act.tokenOnA ? BigInt(act.amountA) : parseEther("0.001") * BigInt(act.amountA),
                  expiry: expiryA,
                  registerBy: expiryA - BigInt(act.lateA),
                },
                {
                  chain: b,
                  payer: b.users.bob,
                  beneficiary: b.users.alice.account.address,
                  asset: act.tokenOnA ? NATIVE : b.token.address,
                  amount: act.tokenOnA ? parseEther("0.001") * BigInt(act.amountB) : BigInt(act.amountB),
                  expiry: expiryB,
                  registerBy: expiryB - BigInt(act.lateB),
                },
                keccak256(numberToHex(swaps.length, { size: 32 })),
              );
              swaps.push(swap);
              if (act.registerA) await registerLeg(swap.x, swap.regX);
              if (act.registerB) await registerLeg(swap.y, swap.regY);
            } else if (act.kind === "relay") {
              const [to, from] = act.toA ? [a, b] : [b, a];
              await relayView(from, to);
            } else if (act.kind === "mine") {
              await mine(act.onA ? a : b, act.blocks);
            } else if (swaps.length > 0) {
              if (act.kind === "register") {
                const side = pick(act.onA, act.swap);
                await registerLeg(side.leg, side.reg);
              } else if (act.kind === "cancel") {
                const side = pick(act.onA, act.swap);
                await side.here.gateway.write.cancel([side.reg]);
              } else {
                await step(act.kind, act.swaps.map((i) => pick(act.onA, i)), act.tamper, act.post);
              }
            }
          } catch {
            // A refused step (too early, too late, no mirror yet, a spoiled proof, ...) must leave the invariants intact.
          }
          for (const chain of [a, b]) {
            await assertEscrowMatches(chain, sidesOn(chain));
            for (const side of sidesOn(chain)) {
              const status = await statusOf(side);
              assertForward(side.id, statuses.get(side.id) ?? Status.None, status);
              statuses.set(side.id, status);
            }
          }
        }

        // Settle everything: past every expiry, views relayed, every open contract ended, committed ones in one batch per chain.
        await mine(a, 50);
        await mine(b, 50);
        await relayView(a, b);
        await relayView(b, a);
        for (const chain of [a, b]) {
          const committed: Side[] = [];
          for (const side of sidesOn(chain)) {
            const status = await statusOf(side);
            if (status === Status.Registered) await chain.gateway.write.cancel([side.reg]);
            if (status === Status.Committed) committed.push(side);
          }
          if (committed.length > 0) {
            const receipt = await step("terminate", committed, null);
            assert.equal(parseEventLogs({ abi: chain.gateway.abi as Abi, logs: receipt.logs, eventName: "StepSkipped" }).length, 0, "settlement skipped an item");
          }
        }
        for (const swap of swaps) {
          const { a: onA, b: onB } = sidesOf(swap);
          const [statusA, statusB] = [await statusOf(onA), await statusOf(onB)];
          for (const s of [statusA, statusB]) {
            assert.ok(s === Status.None || FINAL.has(s), `swap ${swap.idX} left open (${statusA}, ${statusB})`);
            outcomes.set(s, (outcomes.get(s) ?? 0) + 1);
          }
          assert.equal(statusA === Status.Released, statusB === Status.Released, `swap ${swap.idX}: released on one side only (${statusA}, ${statusB})`);
        }
        for (const chain of [a, b]) {
          await assertEscrowMatches(chain, sidesOn(chain));
          await assertOutcomes(chain, sidesOn(chain));
          await assertTokensAccounted(chain, chain === a ? a.users.alice.account.address : b.users.bob.account.address, sidesOn(chain));
        }
        // Finished contracts stop counting against the bond once their compensation window is over.
        await mine(a, 2 * Number(COMPENSATION_WINDOW) + 1);
        await mine(b, 2 * Number(COMPENSATION_WINDOW) + 1);
        assert.equal(await a.gateway.read.exposureOf([b.chainId]), 0n);
        assert.equal(await b.gateway.read.exposureOf([a.chainId]), 0n);
      }),
      { numRuns: Number(process.env.INVARIANT_RUNS ?? 12), examples: [[HAPPY_PATH], [BATCHED]] },
    );
    assert.ok((outcomes.get(Status.Released) ?? 0) >= 6, "too few swaps released: the property was mostly checked on refusals");
  });
});
