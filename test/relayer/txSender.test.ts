import assert from "node:assert/strict";
import { network } from "hardhat";
import { parseAbi, type Account, type Chain, type Hex, type PublicClient, type Transport, type WalletClient } from "viem";
import { TxSender, type SendOutcome } from "../../relayer/chain/txSender.js";
import { Store } from "../../relayer/store/store.js";
import { until } from "../fixtures/until.js";

const tokenAbi = parseAbi(["function mint(address to, uint256 amount)", "function balanceOf(address) view returns (uint256)"]);

describe("TxSender", () => {
  it("sends a node's second transaction while its first waits to be mined: a step is not held up by another counterparty's receipt", async () => {
    const { viem, provider } = await network.create("chainA");
    const publicClient = (await viem.getPublicClient()) as unknown as PublicClient;
    const [relayer, alice, bob] = await viem.getWalletClients();
    const token = await viem.deployContract("TestToken", ["Token", "TK"]);
    const sender = new TxSender({ publicClient, walletClient: relayer as unknown as WalletClient<Transport, Chain, Account>, store: new Store({ path: ":memory:" }) });
    const mint = (to: Hex, key: string) => sender.send({ key, address: token.address, abi: tokenAbi, functionName: "mint", args: [to, 5n], doneErrors: [] });
    const self = relayer!.account.address;
    const before = await publicClient.getTransactionCount({ address: self, blockTag: "pending" });

    await provider.request({ method: "evm_setAutomine", params: [false] });
    let outcomes: SendOutcome[];
    try {
      const sends = Promise.all([mint(alice!.account.address, "mint:alice"), mint(bob!.account.address, "mint:bob")]);
      const inPool = async () => (await publicClient.getTransactionCount({ address: self, blockTag: "pending" })) - before;
      await until("both transactions in the pool before either is mined", async () => (await inPool()) === 2, 2_000);
      assert.equal(await publicClient.getTransactionCount({ address: self }), before, "and neither is mined yet");
      await provider.request({ method: "evm_mine", params: [] });
      outcomes = await sends;
    } finally {
      await provider.request({ method: "evm_setAutomine", params: [true] });
    }
    assert.deepEqual(outcomes, ["landed", "landed"]);
    for (const user of [alice!, bob!]) assert.equal(await token.read.balanceOf([user.account.address]), 5n);
  });
});
