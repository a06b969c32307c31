import assert from "node:assert/strict";
import { network } from "hardhat";
import { createPublicClient, createWalletClient, custom, defineChain, parseAbi, type Account, type Chain, type EIP1193RequestFn, type Hex, type PublicClient, type Transport, type WalletClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { TxSender, type SendOutcome } from "../../relayer/chain/txSender.js";
import { Store } from "../../relayer/store/store.js";
import { HARDHAT_ACCOUNT_3_KEY } from "../../relayer/devnet/testAccounts.js";
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

  it("submits a step in two round trips of its chain node: the nonce, the gas estimate and the fees together, then the transaction", async () => {
    const { viem, provider } = await network.create("chainA");
    const token = await viem.deployContract("TestToken", ["Token", "TK"]);
    // Every request of the node's clients, with how many others were unanswered when it went out.
    const requests: { method: string; unanswered: number }[] = [];
    let unanswered = 0;
    const request = (async (args: { method: string; params?: unknown }) => {
      requests.push({ method: args.method, unanswered });
      unanswered++;
      try {
        return await provider.request(args as never);
      } finally {
        unanswered--;
      }
    }) as EIP1193RequestFn;
    const chain = defineChain({ id: await provider.request({ method: "eth_chainId" }).then(Number), name: "chainA", nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [] } } });
    const publicClient = createPublicClient({ chain, transport: custom({ request }), pollingInterval: 50 }) as PublicClient;
    const walletClient = createWalletClient({ account: privateKeyToAccount(HARDHAT_ACCOUNT_3_KEY), chain, transport: custom({ request }) });
    const sender = new TxSender({ publicClient, walletClient, store: new Store({ path: ":memory:" }) });
    const [alice] = await viem.getWalletClients();
    const mint = (key: string) => sender.send({ key, address: token.address, abi: tokenAbi, functionName: "mint", args: [alice!.account.address, 5n], doneErrors: [] });

    for (const key of ["mint:1", "mint:2"]) {
      requests.length = 0;
      assert.equal(await mint(key), "landed");
      const sent = requests.findIndex((r) => r.method === "eth_sendRawTransaction");
      const asked = requests.slice(0, sent);
      assert.deepEqual(asked.map((r) => r.method).sort(), ["eth_estimateGas", "eth_getBlockByNumber", "eth_getTransactionCount", "eth_maxPriorityFeePerGas"], `${key}: what the node asks before it sends`);
      assert.deepEqual(asked.map((r) => r.unanswered), [0, 1, 2, 3], `${key}: all four go out before the first is answered`);
      assert.equal(requests[sent]!.unanswered, 0, `${key}: the transaction goes out once they are answered`);
    }
    assert.equal(await token.read.balanceOf([alice!.account.address]), 10n);
  });
});
