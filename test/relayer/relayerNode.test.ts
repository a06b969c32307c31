import assert from "node:assert/strict";
import { keccak256, parseEther, stringToHex, type Hex } from "viem";
import { deploySystem, type Chain } from "../fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg, type Swap } from "../fixtures/swap.js";
import { RelayerNetwork } from "../fixtures/relayerNetwork.js";

const Status = { Registered: 1, Committed: 2, Released: 3, Refunded: 4, Cancelled: 5 } as const;
const TTL = 60n;

async function statusOf(chain: Chain, id: Hex): Promise<number> {
  const [status] = await chain.gateway.read.recordOf([id]);
  return status;
}

/** Polls until `check` holds, or fails with `what` after `ms`. */
async function eventually(what: string, check: () => Promise<boolean>, ms = 60_000, logs?: string[]): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${logs ? `\n${logs.slice(-4000).join("\n")}` : ""}`);
}

/** A user on x pays 100 tokens for 1 coin of a user on y. */
async function tokenForCoin(x: Chain, y: Chain, salt: string): Promise<Swap> {
  const { alice, bob } = x.users;
  await x.token.write.mint([alice.account.address, 1000n]);
  return prepareSwap(
    { chain: x, payer: alice, beneficiary: bob.account.address, asset: x.token.address, amount: 100n, expiry: (await x.publicClient.getBlockNumber()) + TTL },
    { chain: y, payer: y.users.bob, beneficiary: alice.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await y.publicClient.getBlockNumber()) + TTL },
    keccak256(stringToHex(salt)),
  );
}

describe("RelayerNode", function () {
  this.timeout(180_000);
  let chains: Chain[];
  let network: RelayerNetwork;

  beforeEach(async () => {
    chains = await deploySystem({ networks: ["chainA", "chainB", "chainC"], q: 4 });
  });
  afterEach(async () => {
    await network?.stop();
  });

  it("settles swaps between three chains with no transaction but the users' registrations", async () => {
    const [a, b, c] = chains as [Chain, Chain, Chain];
    network = new RelayerNetwork(chains);
    await network.start();
    const swaps = [await tokenForCoin(a, b, "ab"), await tokenForCoin(b, c, "bc"), await tokenForCoin(c, a, "ca")];
    for (const swap of swaps) {
      await registerLeg(swap.x, swap.regX);
      await registerLeg(swap.y, swap.regY);
    }
    await eventually("every swap released on both sides", async () => {
      for (const s of swaps) {
        if ((await statusOf(s.x.chain, s.idX)) !== Status.Released) return false;
        if ((await statusOf(s.y.chain, s.idY)) !== Status.Released) return false;
      }
      return true;
    }, 120_000, network.logs);
    for (const s of swaps) {
      assert.equal(await s.x.chain.token.read.balanceOf([s.x.chain.users.bob.account.address]), 100n);
    }
    console.log(network.messagesSent());
  });
});
