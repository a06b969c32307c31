import assert from "node:assert/strict";
import { parseEther } from "viem";
import { deploySystem, mineTo, recordProof, relayView, type Chain } from "../fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg, type Swap } from "../fixtures/swap.js";

const Status = { None: 0, Registered: 1, Committed: 2, Released: 3, Refunded: 4, Cancelled: 5 } as const;

async function statusOf(chain: Chain, id: `0x${string}`) {
  const [status] = await chain.gateway.read.recordOf([id]);
  return status;
}

describe("Gateway", () => {
  let a: Chain;
  let b: Chain;
  beforeEach(async () => {
    [a, b] = await deploySystem();
  });

  /** Alice pays 100 tokens on A to Bob; Bob pays 1 coin on B to Alice. */
  async function tokenForCoin(ttl = 40n): Promise<Swap> {
    const { alice, bob } = a.users;
    await a.token.write.mint([alice.account.address, 1000n]);
    const headA = await a.publicClient.getBlockNumber();
    const headB = await b.publicClient.getBlockNumber();
    return prepareSwap(
      { chain: a, payer: alice, beneficiary: bob.account.address, asset: a.token.address, amount: 100n, expiry: headA + ttl },
      { chain: b, payer: b.users.bob, beneficiary: alice.account.address, asset: NATIVE, amount: parseEther("1"), expiry: headB + ttl },
    );
  }

  describe("a swap of an ERC-20 for the native coin", () => {
    it("pays each user the other's asset when both sides pre-commit", async () => {
      const swap = await tokenForCoin();
      const alice = a.users.alice.account.address;
      const bob = b.users.bob.account.address;
      const aliceCoinBefore = await b.publicClient.getBalance({ address: alice });

      await registerLeg(swap.x, swap.regX);
      await registerLeg(swap.y, swap.regY);
      assert.equal(await a.token.read.balanceOf([a.gateway.address]), 100n);

      await relayView(b, a);
      await relayView(a, b);
      await a.gateway.write.precommit([swap.idX, await recordProof(b, a, swap.idY)]);
      await b.gateway.write.precommit([swap.idY, await recordProof(a, b, swap.idX)]);
      assert.equal(await statusOf(a, swap.idX), Status.Committed);
      assert.equal(await statusOf(b, swap.idY), Status.Committed);
      const [expiry, waiting] = await a.gateway.read.waitingListHead();
      assert.equal(expiry, swap.regX.h1);
      assert.deepEqual(waiting, [swap.idX]);

      await mineTo(a, swap.regX.h1 + 1n);
      await mineTo(b, swap.regY.h1 + 1n);
      await relayView(b, a);
      await relayView(a, b);
      await a.gateway.write.terminate([swap.idX, await recordProof(b, a, swap.idY)]);
      await b.gateway.write.terminate([swap.idY, await recordProof(a, b, swap.idX)]);

      assert.equal(await statusOf(a, swap.idX), Status.Released);
      assert.equal(await statusOf(b, swap.idY), Status.Released);
      assert.equal(await a.token.read.balanceOf([bob]), 100n);
      assert.equal(await a.token.read.balanceOf([alice]), 900n);
      assert.equal(await b.publicClient.getBalance({ address: alice }), aliceCoinBefore + parseEther("1"));
      assert.equal(await a.token.read.balanceOf([a.gateway.address]), 0n);
      assert.equal(await b.publicClient.getBalance({ address: b.gateway.address }), 0n);
      assert.deepEqual(await a.gateway.read.waitingListHead(), [0n, []]);
    });
  });
});
