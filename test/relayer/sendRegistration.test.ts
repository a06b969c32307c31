import assert from "node:assert/strict";
import { erc20Abi, keccak256, maxUint256, parseEther, stringToHex, zeroAddress, type Address, type Hash } from "viem";
import { gatewayAbi, Status, testTokenMintAbi } from "../../relayer/chain/abis.js";
import type { Registration } from "../../relayer/chain/registration.js";
import { connect, type Connection } from "../../relayer/devnet/connect.js";
import { REGISTER_GAS_HEADROOM, sendRegistration, tryRegister } from "../../relayer/devnet/swap.js";
import { HARDHAT_ACCOUNT_1_KEY, HARDHAT_ACCOUNT_2_KEY } from "../../relayer/devnet/testAccounts.js";
import { RpcServer } from "../fixtures/rpcServer.js";
import { deploySystem, type Chain } from "../fixtures/system.js";

/**
 * A user's registration is sent with the node's gas estimate, which is exact for the state it ran on. On a busy chain the
 * state changes before the block: here, the estimate counts another user's registration with the same counterparty that
 * is still pending (the Gateway's exposure slot of that counterparty non-zero, and for a token its balance of it), and the
 * block mines this one first (each slot written from zero, 17,100 gas more). Seen on a 10-chain devnet: registrations
 * reverted out of gas. Each case has a counterparty of its own, so that its exposure slot starts at zero.
 */
describe("sendRegistration: a registration's gas outlasts a change of state between its estimate and its block", function () {
  this.timeout(120_000);
  let a: Chain, b: Chain, c: Chain;
  let rpc: RpcServer;

  before(async () => {
    [a, b, c] = (await deploySystem({ networks: ["chainA", "chainB", "chainC"], q: 3 })) as [Chain, Chain, Chain];
    rpc = new RpcServer(a);
    await rpc.up();
  });

  after(async () => {
    await rpc?.down();
  });

  const terms = (payer: Connection, head: bigint, label: string, asset: Address, counterparty: bigint): Registration => ({
    asset,
    amount: parseEther("1"),
    beneficiary: payer.wallet.account.address,
    refundTo: payer.wallet.account.address,
    salt: keccak256(stringToHex(`sendRegistration ${label}`)),
    tx2: keccak256(stringToHex("tx2")),
    tx2r: keccak256(stringToHex("tx2r")),
    counterparty,
    h1: head + 20n,
    h2: 10n,
    registerBy: head + 10n,
    mirrorBy: 10n,
  });

  /**
   * Alice's registration waits in the pool (no tip) while Bob's is tried (the node's estimate) and sent by sendRegistration; the block
   * mines Bob's first. Returns Bob's receipt's gas and the node's estimate of it.
   */
  async function race(asset: Address, counterparty: bigint, label: string): Promise<{ used: bigint; estimate: bigint }> {
    const alice = await connect({ rpcUrl: rpc.url, key: HARDHAT_ACCOUNT_1_KEY });
    const bob = await connect({ rpcUrl: rpc.url, key: HARDHAT_ACCOUNT_2_KEY });
    if (asset !== zeroAddress) {
      for (const payer of [alice, bob]) {
        await payer.publicClient.waitForTransactionReceipt({ hash: await payer.wallet.writeContract({ address: asset, abi: testTokenMintAbi, functionName: "mint", args: [payer.wallet.account.address, parseEther("1")] }) });
        await payer.publicClient.waitForTransactionReceipt({ hash: await payer.wallet.writeContract({ address: asset, abi: erc20Abi, functionName: "approve", args: [a.gateway.address, maxUint256] }) });
      }
    }
    const head = await alice.publicClient.getBlockNumber();
    const [first, second] = [terms(alice, head, `${label}/alice`, asset, counterparty), terms(bob, head, `${label}/bob`, asset, counterparty)];
    const call = (r: Registration) => ({ address: a.gateway.address, abi: gatewayAbi, functionName: "register", args: [r], value: r.asset === zeroAddress ? r.amount : 0n }) as const;
    const provider = a.conn.provider;
    await provider.request({ method: "evm_setAutomine", params: [false] });
    try {
      const { baseFeePerGas } = await alice.publicClient.getBlock();
      const aliceHash = await alice.wallet.writeContract({ ...call(first), gas: 500_000n, maxPriorityFeePerGas: 0n, maxFeePerGas: 2n * baseFeePerGas! });
      const estimate = await tryRegister(bob, a.gateway.address, second);
      const bobHash = await sendRegistration(bob, a.gateway.address, second, estimate);
      await provider.request({ method: "hardhat_mine", params: ["0x1"] });

      const receipt = (hash: Hash) => alice.publicClient.getTransactionReceipt({ hash });
      const [ofAlice, ofBob] = [await receipt(aliceHash), await receipt(bobHash)];
      assert.equal(ofBob.blockNumber, ofAlice.blockNumber);
      assert.ok(ofBob.transactionIndex < ofAlice.transactionIndex, "Bob's registration ran first");
      assert.deepEqual([ofBob.status, ofAlice.status], ["success", "success"]);
      const [contractId] = await bob.publicClient.readContract({ address: a.gateway.address, abi: gatewayAbi, functionName: "contractIds", args: [second] });
      const [status] = await bob.publicClient.readContract({ address: a.gateway.address, abi: gatewayAbi, functionName: "recordOf", args: [contractId] });
      assert.equal(status, Status.Registered, "Bob's contract is registered");
      assert.ok(ofBob.gasUsed <= estimate + REGISTER_GAS_HEADROOM);
      return { used: ofBob.gasUsed, estimate };
    } finally {
      await provider.request({ method: "evm_setAutomine", params: [true] });
    }
  }

  it("is mined when the estimate counted a pending registration that the block takes after it: the exposure slot written from zero", async () => {
    const { used, estimate } = await race(zeroAddress, b.chainId, "coin");
    assert.ok(used >= estimate + 17_000n, `it needed ${used} gas, ${used - estimate} more than the ${estimate} estimated`);
  });

  it("is mined when a token registration finds both the exposure slot and the Gateway's balance of the token written from zero", async () => {
    const { used, estimate } = await race(a.token.address, c.chainId, "token");
    // Two slots from zero, less the refund of the payer's balance emptied: more than one slot's headroom would cover.
    assert.ok(used > estimate + 20_000n, `it needed ${used} gas, ${used - estimate} more than the ${estimate} estimated`);
  });
});
