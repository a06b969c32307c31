import assert from "node:assert/strict";
import fc from "fast-check";
import type { Address, Hex } from "viem";
import { Status } from "../../relayer/chain/abis.js";
import { checkHistory, type AssetKey, type Fees, type Holdings } from "../../relayer/load/loadHistory.js";
import type { LoadSide, LoadSwap } from "../../relayer/load/swapTraffic.js";

// The history check is what says a load run lost nothing: it must pass an honest history whatever the outcomes, and
// catch every wei that moved where the outcomes do not say (a Gateway paying twice, a refund that never came, a
// release on one side only).

const USERS = ["0x00000000000000000000000000000000000000a1", "0x00000000000000000000000000000000000000b2", "0x00000000000000000000000000000000000000c3"] as Address[];
const CHAINS = ["31001", "31002"];
const ASSETS: AssetKey[] = CHAINS.flatMap((c) => [`${c}:coin`, `${c}:token`] as AssetKey[]);
const START = 10n ** 20n;
const GATEWAY_START = 5n * 10n ** 18n;

type SideDraw = { payer: number; asset: "coin" | "token"; amount: bigint; status: number; fee: bigint };

const statusArb = fc.constantFrom(Status.None, Status.Registered, Status.Committed, Status.Released, Status.Refunded, Status.Cancelled);
const sideArb = fc.record({ payer: fc.integer({ min: 0, max: 2 }), asset: fc.constantFrom("coin" as const, "token" as const), amount: fc.bigInt({ min: 1n, max: 10n ** 18n }), status: statusArb, fee: fc.bigInt({ min: 0n, max: 10n ** 15n }) });
/** A swap whose two sides agree: both released, or neither. */
const honestSwapArb = fc.tuple(sideArb, sideArb, fc.boolean()).map(([x, y, release]) => {
  const ended = (s: SideDraw) => ({ ...s, status: release ? Status.Released : s.status === Status.Released ? Status.Refunded : s.status });
  return [ended(x), ended(y)] as [SideDraw, SideDraw];
});

function side(chain: number, draw: SideDraw, beneficiary: number, id: number): LoadSide {
  return {
    chain,
    chainId: CHAINS[chain]!,
    contractId: `0x${(id * 2 + chain).toString(16).padStart(64, "0")}` as Hex,
    payer: USERS[draw.payer]!,
    beneficiary: USERS[beneficiary]!,
    asset: draw.asset,
    amount: draw.amount,
    registerBy: 100n,
    expiry: 200n,
    status: draw.status,
    ...(draw.status === Status.None ? {} : { registeredBlock: 50n }),
    ...([Status.Released, Status.Refunded, Status.Cancelled].includes(draw.status as 3 | 4 | 5) ? { finishedBlock: 150n } : {}),
  };
}

/** The swaps, and the holdings and fees an honest Gateway leaves after them. */
function history(draws: [SideDraw, SideDraw][]): { swaps: LoadSwap[]; before: Holdings; after: Holdings; fees: Fees } {
  const swaps: LoadSwap[] = draws.map(([x, y], id) => {
    // The beneficiary of each side is the other side's payer, never the payer itself.
    const payY = y.payer === x.payer ? (x.payer + 1) % 3 : y.payer;
    return { id, kind: "matched", offeredAtMs: 0, sides: [side(0, x, payY, id), side(1, { ...y, payer: payY }, x.payer, id)] };
  });
  const blank = (): Holdings => new Map(ASSETS.map((a) => [a, { users: new Map(USERS.map((u) => [u, START])), gateway: GATEWAY_START }]));
  const before = blank();
  const after = blank();
  const fees: Fees = new Map(CHAINS.map((c) => [c, new Map(USERS.map((u) => [u, 0n]))]));
  swaps.forEach((swap, i) => {
    swap.sides!.forEach((s, j) => {
      const entry = after.get(`${s.chainId}:${s.asset}`)!;
      const coin = after.get(`${s.chainId}:coin`)!;
      const fee = draws[i]![j]!.fee;
      if (s.status !== Status.None) {
        fees.get(s.chainId)!.set(s.payer, fees.get(s.chainId)!.get(s.payer)! + fee);
        coin.users.set(s.payer, coin.users.get(s.payer)! - fee);
      }
      if (s.status === Status.Released) {
        entry.users.set(s.payer, entry.users.get(s.payer)! - s.amount);
        entry.users.set(s.beneficiary, entry.users.get(s.beneficiary)! + s.amount);
      } else if (s.status === Status.Registered || s.status === Status.Committed) {
        entry.users.set(s.payer, entry.users.get(s.payer)! - s.amount);
        entry.gateway += s.amount;
      }
    });
  });
  return { swaps, before, after, fees };
}

describe("checkHistory (the invariants of a load run)", () => {
  it("passes every honest history: no split, no wei lost or misplaced, whatever the outcomes, assets and fees (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(honestSwapArb, { maxLength: 12 }), (draws) => {
        const verdict = checkHistory({ ...history(draws), graceBlocks: 50n });
        assert.deepEqual(verdict.split, []);
        assert.ok(Object.values(verdict.lostWei).every((v) => v === "0"), JSON.stringify(verdict.lostWei));
        assert.ok(Object.values(verdict.misplacedWei).every((v) => v === "0"), JSON.stringify(verdict.misplacedWei));
        assert.equal(verdict.ok, true);
      }),
      { numRuns: 200 },
    );
  });

  it("attack: a Gateway that pays out a wei it should hold, or keeps one it should pay, is caught on that asset (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(honestSwapArb, { minLength: 1, maxLength: 8 }), fc.constantFrom(...ASSETS), fc.integer({ min: 0, max: 2 }), fc.bigInt({ min: 1n, max: 10n ** 18n }), fc.boolean(), (draws, asset, user, wei, fromGateway) => {
        const h = history(draws);
        const entry = h.after.get(asset)!;
        const who = USERS[user]!;
        // A transfer between the Gateway and a user that no outcome explains: nothing is created, but it is misplaced.
        if (fromGateway) {
          entry.gateway -= wei;
          entry.users.set(who, entry.users.get(who)! + wei);
        } else {
          entry.gateway += wei;
          entry.users.set(who, entry.users.get(who)! - wei);
        }
        const verdict = checkHistory({ ...h, graceBlocks: 50n });
        assert.equal(verdict.ok, false);
        assert.equal(verdict.misplacedWei[asset], (2n * wei).toString());
        assert.equal(verdict.lostWei[asset], "0");
      }),
      { numRuns: 100 },
    );
  });

  it("counts a wei that vanished from the users and the Gateway as lost", () => {
    const h = history([[{ payer: 0, asset: "token", amount: 10n ** 18n, status: Status.Registered, fee: 0n }, { payer: 1, asset: "coin", amount: 7n, status: Status.Registered, fee: 3n }]]);
    h.after.get("31001:token")!.gateway -= 5n;
    const verdict = checkHistory({ ...h, graceBlocks: 50n });
    assert.equal(verdict.lostWei["31001:token"], "5");
    assert.equal(verdict.ok, false);
  });

  it("attack: a swap released on one side and refunded on the other is a split, named with its timeline", () => {
    const h = history([
      [{ payer: 0, asset: "coin", amount: 5n, status: Status.Released, fee: 1n }, { payer: 1, asset: "token", amount: 9n, status: Status.Released, fee: 1n }],
      [{ payer: 2, asset: "token", amount: 4n, status: Status.Released, fee: 0n }, { payer: 0, asset: "coin", amount: 6n, status: Status.Released, fee: 0n }],
    ]);
    // The second swap's side on 31002 was refunded instead (its holdings say so too: nothing is lost, yet a user is short).
    const refundedSide = h.swaps[1]!.sides![1];
    refundedSide.status = Status.Refunded;
    const coin = h.after.get("31002:coin")!;
    coin.users.set(refundedSide.payer, coin.users.get(refundedSide.payer)! + refundedSide.amount);
    coin.users.set(refundedSide.beneficiary, coin.users.get(refundedSide.beneficiary)! - refundedSide.amount);
    const verdict = checkHistory({ ...h, graceBlocks: 50n });
    assert.deepEqual(verdict.split.map((s) => s.id), [1]);
    assert.deepEqual(verdict.split[0]!.sides.map((s) => s.status), ["released", "refunded"]);
    assert.equal(verdict.ok, false);
  });

  it("lists sides still open as unended, and sides that ended past expiry + grace as ended late, without failing the invariants", () => {
    const h = history([[{ payer: 0, asset: "coin", amount: 5n, status: Status.Committed, fee: 1n }, { payer: 1, asset: "token", amount: 9n, status: Status.Refunded, fee: 1n }]]);
    h.swaps[0]!.sides![1].finishedBlock = 251n;
    const verdict = checkHistory({ ...h, graceBlocks: 50n });
    assert.deepEqual(verdict.unended.map((s) => s.id), [0]);
    assert.deepEqual(verdict.endedLate.map((s) => s.id), [0]);
    assert.equal(verdict.ok, true);
  });
});
