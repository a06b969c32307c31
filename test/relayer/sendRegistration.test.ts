import assert from "node:assert/strict";
import { keccak256, parseEther, stringToHex, zeroAddress, type Hash } from "viem";
import { gatewayAbi, Status } from "../../relayer/chain/abis.js";
import type { Registration } from "../../relayer/chain/registration.js";
import { connect, type Connection } from "../../relayer/devnet/connect.js";
import { REGISTER_GAS_HEADROOM, sendRegistration } from "../../relayer/devnet/swap.js";
import { HARDHAT_ACCOUNT_1_KEY, HARDHAT_ACCOUNT_2_KEY } from "../../relayer/devnet/testAccounts.js";
import { RpcServer } from "../fixtures/rpcServer.js";
import { deploySystem, type Chain } from "../fixtures/system.js";

/**
 * A user's registration is sent with the node's gas estimate, which is exact for the state it ran on. On a busy chain the
 * state changes before the block: here, the estimate counts another user's registration with the same counterparty that
 * is still pending (the Gateway's exposure slot of that counterparty non-zero), and the block mines this one first (the
 * slot written from zero, 17,100 gas more). Seen on a 10-chain devnet: registrations reverted out of gas.
 */
describe("sendRegistration: a registration's gas outlasts a change of state between its estimate and its block", function () {
  this.timeout(120_000);
  let a: Chain, b: Chain;
  let rpc: RpcServer;

  before(async () => {
    [a, b] = (await deploySystem({ networks: ["chainA", "chainB"], q: 3 })) as [Chain, Chain];
    rpc = new RpcServer(a);
    await rpc.up();
  });

  after(async () => {
    await rpc?.down();
  });

  const terms = (payer: Connection, head: bigint, label: string): Registration => ({
    asset: zeroAddress,
    amount: parseEther("1"),
    beneficiary: payer.wallet.account.address,
    refundTo: payer.wallet.account.address,
    salt: keccak256(stringToHex(`sendRegistration ${label}`)),
    tx2: keccak256(stringToHex("tx2")),
    tx2r: keccak256(stringToHex("tx2r")),
    counterparty: b.chainId,
    h1: head + 20n,
    h2: 10n,
    registerBy: head + 10n,
    mirrorBy: 10n,
  });

  it("is mined when the estimate counted a pending registration that the block takes after it (the exposure slot written from zero)", async () => {
    const alice = await connect({ rpcUrl: rpc.url, key: HARDHAT_ACCOUNT_1_KEY });
    const bob = await connect({ rpcUrl: rpc.url, key: HARDHAT_ACCOUNT_2_KEY });
    const head = await alice.publicClient.getBlockNumber();
    const [first, second] = [terms(alice, head, "alice"), terms(bob, head, "bob")];
    const provider = a.conn.provider;
    await provider.request({ method: "evm_setAutomine", params: [false] });
    try {
      // Alice's registration pays no tip: it waits in the pool, and the block takes Bob's, which pays one, first.
      const { baseFeePerGas } = await alice.publicClient.getBlock();
      const call = (r: Registration) => ({ address: a.gateway.address, abi: gatewayAbi, functionName: "register", args: [r], value: r.amount }) as const;
      const aliceHash = await alice.wallet.writeContract({ ...call(first), gas: 500_000n, maxPriorityFeePerGas: 0n, maxFeePerGas: 2n * baseFeePerGas! });
      const estimate = await bob.publicClient.estimateContractGas({ ...call(second), account: bob.wallet.account });
      const bobHash = await sendRegistration(bob, a.gateway.address, second);
      await provider.request({ method: "hardhat_mine", params: ["0x1"] });

      const receipt = (hash: Hash) => alice.publicClient.getTransactionReceipt({ hash });
      const [ofAlice, ofBob] = [await receipt(aliceHash), await receipt(bobHash)];
      assert.equal(ofBob.blockNumber, ofAlice.blockNumber);
      assert.ok(ofBob.transactionIndex < ofAlice.transactionIndex, "Bob's registration ran first");
      assert.equal(ofBob.status, "success");
      assert.equal(ofAlice.status, "success");
      assert.ok(ofBob.gasUsed > estimate, `it needed ${ofBob.gasUsed} gas, more than the ${estimate} estimated`);
      assert.ok(ofBob.gasUsed <= estimate + REGISTER_GAS_HEADROOM);
      const [status] = await bob.publicClient.readContract({ address: a.gateway.address, abi: gatewayAbi, functionName: "recordOf", args: [(await bob.publicClient.readContract({ address: a.gateway.address, abi: gatewayAbi, functionName: "contractIds", args: [second] }))[0]] });
      assert.equal(status, Status.Registered, "Bob's contract is registered");
    } finally {
      await provider.request({ method: "evm_setAutomine", params: [true] });
    }
  });
});
