import assert from "node:assert/strict";
import fc from "fast-check";
import { getAddress, keccak256, numberToHex, parseEther, zeroAddress, type Address, type Hex } from "viem";
import { deploySystem, mine, recordProof, relayView, type Chain } from "../fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg, type Swap } from "../fixtures/swap.js";

const OPEN = new Set([1, 2]); // Registered, Committed
const RELEASED = 3;

type Action =
  | { kind: "open"; tokenOnA: boolean; amountA: number; amountB: number; ttlA: number; ttlB: number; registerA: boolean; registerB: boolean }
  | { kind: "relay"; toA: boolean }
  | { kind: "precommit"; swap: number; onA: boolean }
  | { kind: "finish"; swap: number; onA: boolean }
  | { kind: "mine"; blocks: number; onA: boolean };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    kind: fc.constant("open" as const),
    tokenOnA: fc.boolean(),
    amountA: fc.integer({ min: 1, max: 500 }),
    amountB: fc.integer({ min: 1, max: 500 }),
    ttlA: fc.integer({ min: 8, max: 40 }),
    ttlB: fc.integer({ min: 8, max: 40 }),
    registerA: fc.boolean(),
    registerB: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("relay" as const), toA: fc.boolean() }),
  fc.record({ kind: fc.constant("precommit" as const), swap: fc.nat(), onA: fc.boolean() }),
  fc.record({ kind: fc.constant("finish" as const), swap: fc.nat(), onA: fc.boolean() }),
  fc.record({ kind: fc.constant("mine" as const), blocks: fc.integer({ min: 1, max: 12 }), onA: fc.boolean() }),
);

/** Sum of the open contracts' amounts per asset, from the Gateway's own records. */
async function openEscrow(chain: Chain, ids: Hex[]): Promise<Map<Address, bigint>> {
  const sums = new Map<Address, bigint>();
  for (const id of ids) {
    const [status] = await chain.gateway.read.recordOf([id]);
    if (!OPEN.has(status)) continue;
    const e = await chain.gateway.read.escrowOf([id]);
    sums.set(getAddress(e.asset), (sums.get(getAddress(e.asset)) ?? 0n) + e.amount);
  }
  return sums;
}

async function assertEscrowMatches(chain: Chain, ids: Hex[]) {
  const sums = await openEscrow(chain, ids);
  assert.equal(await chain.token.read.balanceOf([chain.gateway.address]), sums.get(getAddress(chain.token.address)) ?? 0n, `token escrow on ${chain.chainId}`);
  assert.equal(await chain.publicClient.getBalance({ address: chain.gateway.address }), sums.get(zeroAddress) ?? 0n, `coin escrow on ${chain.chainId}`);
}

/** Every contract ends at most once: one Released, Refunded or Cancelled event, never two. */
async function assertSingleOutcome(chain: Chain) {
  const events = await Promise.all(
    (["ContractReleased", "ContractRefunded", "ContractCancelled"] as const).map((eventName) =>
      chain.publicClient.getContractEvents({ address: chain.gateway.address, abi: chain.gateway.abi, eventName, fromBlock: 0n }),
    ),
  );
  const seen = new Set<string>();
  for (const log of events.flat()) {
    const id = (log.args as { contractId: Hex }).contractId;
    assert.ok(!seen.has(id), `contract ${id} ended twice`);
    seen.add(id);
  }
}

/** A run that must release a swap, so the property is never checked only on refused steps. */
const HAPPY_PATH: Action[] = [
  { kind: "open", tokenOnA: true, amountA: 7, amountB: 3, ttlA: 30, ttlB: 30, registerA: true, registerB: true },
  { kind: "relay", toA: true },
  { kind: "relay", toA: false },
  { kind: "precommit", swap: 0, onA: true },
  { kind: "precommit", swap: 0, onA: false },
];

describe("Gateway invariants (fast-check)", () => {
  it("escrow equals the open contracts, each contract ends once, and the two sides of a swap agree", async () => {
    const outcomes = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 4, maxLength: 24 }), async (actions) => {
        const [a, b] = await deploySystem();
        await a.token.write.mint([a.users.alice.account.address, 10n ** 9n]);
        await b.token.write.mint([b.users.bob.account.address, 10n ** 9n]);
        const swaps: Swap[] = [];
        const ids = (chain: Chain) => swaps.flatMap((swap) => (chain === a ? [swap.idX] : [swap.idY]));

        for (const act of actions) {
          const side = (onA: boolean) => (onA ? ([a, b] as const) : ([b, a] as const));
          try {
            if (act.kind === "open") {
              const legA = { chain: a, payer: a.users.alice, beneficiary: a.users.bob.account.address, amount: BigInt(act.amountA), expiry: (await a.publicClient.getBlockNumber()) + BigInt(act.ttlA) };
              const legB = { chain: b, payer: b.users.bob, beneficiary: b.users.alice.account.address, amount: BigInt(act.amountB), expiry: (await b.publicClient.getBlockNumber()) + BigInt(act.ttlB) };
              const swap = await prepareSwap(
                { ...legA, asset: act.tokenOnA ? a.token.address : NATIVE, amount: act.tokenOnA ? legA.amount : parseEther("0.001") * legA.amount },
                { ...legB, asset: act.tokenOnA ? NATIVE : b.token.address, amount: act.tokenOnA ? parseEther("0.001") * legB.amount : legB.amount },
                keccak256(numberToHex(swaps.length, { size: 32 })),
              );
              swaps.push(swap);
              if (act.registerA) await registerLeg(swap.x, swap.regX);
              if (act.registerB) await registerLeg(swap.y, swap.regY);
            } else if (act.kind === "relay") {
              const [to, from] = side(act.toA);
              await relayView(from, to);
            } else if (act.kind === "mine") {
              await mine(side(act.onA)[0], act.blocks);
            } else if (swaps.length > 0) {
              const swap = swaps[act.swap % swaps.length]!;
              const [here, there] = side(act.onA);
              const [id, mirror] = act.onA ? [swap.idX, swap.idY] : [swap.idY, swap.idX];
              if (act.kind === "precommit") {
                await here.gateway.write.precommit([id, await recordProof(there, here, mirror)]);
              } else {
                const [status] = await here.gateway.read.recordOf([id]);
                if (status === 1) await here.gateway.write.cancel([id]);
                else await here.gateway.write.terminate([id, await recordProof(there, here, mirror)]);
              }
            }
          } catch {
            // A refused step (too early, no mirror yet, ...) must leave the invariants intact.
          }
          await assertEscrowMatches(a, ids(a));
          await assertEscrowMatches(b, ids(b));
        }

        // Settle everything: past every expiry, views relayed, every open contract ended.
        await mine(a, 50);
        await mine(b, 50);
        await relayView(a, b);
        await relayView(b, a);
        for (const swap of swaps) {
          for (const [here, there, id, mirror] of [
            [a, b, swap.idX, swap.idY],
            [b, a, swap.idY, swap.idX],
          ] as const) {
            const [status] = await here.gateway.read.recordOf([id]);
            if (status === 1) await here.gateway.write.cancel([id]);
            if (status === 2) await here.gateway.write.terminate([id, await recordProof(there, here, mirror)]);
          }
          const [statusA] = await a.gateway.read.recordOf([swap.idX]);
          const [statusB] = await b.gateway.read.recordOf([swap.idY]);
          for (const s of [statusA, statusB]) outcomes.set(s, (outcomes.get(s) ?? 0) + 1);
          assert.equal(statusA === RELEASED, statusB === RELEASED, `swap ${swap.idX}: released on one side only (${statusA}, ${statusB})`);
        }
        await assertEscrowMatches(a, ids(a));
        await assertEscrowMatches(b, ids(b));
        assert.equal(await a.gateway.read.exposureOf([b.chainId]), 0n);
        assert.equal(await b.gateway.read.exposureOf([a.chainId]), 0n);
        await assertSingleOutcome(a);
        await assertSingleOutcome(b);
      }),
      { numRuns: Number(process.env.INVARIANT_RUNS ?? 12), examples: [[HAPPY_PATH]] },
    );
    assert.ok((outcomes.get(RELEASED) ?? 0) >= 2, "no run released a swap: the property was only checked on refusals");
  });
});
