import assert from "node:assert/strict";
import { resolve } from "node:path";
import { erc20Abi, keccak256, parseEther, stringToHex, toFunctionSelector, zeroAddress, type Abi, type Hex } from "viem";
import { gatewayAbi } from "../../relayer/chain/abis.js";
import { loadArtifact } from "../../relayer/devnet/artifacts.js";
import { cliFailure, EXIT } from "../../relayer/devnet/cliFailure.js";
import { connect, transact } from "../../relayer/devnet/connect.js";
import { DevnetError } from "../../relayer/devnet/devnetError.js";
import { CONTRACT_ERRORS_ABI, explainedErrors, explainRevert } from "../../relayer/devnet/explainRevert.js";
import { runSwap, type SwapAmount } from "../../relayer/devnet/swap.js";
import { HARDHAT_ACCOUNT_1_KEY, HARDHAT_ACCOUNT_2_KEY } from "../../relayer/devnet/testAccounts.js";
import type { Registration } from "../../relayer/chain/registration.js";
import { freePort } from "../fixtures/freePort.js";
import { RpcServer } from "../fixtures/rpcServer.js";
import { deploySystem, MAX_LIFETIME, sign, viewOf, type Chain } from "../fixtures/system.js";

type AbiError = Extract<Abi[number], { type: "error" }>;

const ROOT = resolve(import.meta.dirname, "..", "..");

/** Every error an artifact's ABI declares, as `Name(type,type)`. */
async function artifactErrors(name: string): Promise<string[]> {
  const { abi } = await loadArtifact({ root: ROOT, name });
  return abi.filter((item): item is AbiError => item.type === "error").map(signature);
}

function signature(error: AbiError): string {
  return `${error.name}(${error.inputs.map((i) => i.type).join(",")})`;
}

describe("explainRevert: a refused transaction in words", function () {
  this.timeout(120_000);
  let a: Chain, b: Chain;
  let rpcA: RpcServer, rpcB: RpcServer;

  before(async () => {
    [a, b] = (await deploySystem({ networks: ["chainA", "chainB"], q: 3 })) as [Chain, Chain];
    rpcA = new RpcServer(a);
    rpcB = new RpcServer(b);
    await rpcA.up();
    await rpcB.up();
  });

  after(async () => {
    await rpcA?.down();
    await rpcB?.down();
  });

  /** `fibc swap` between the two chains over JSON-RPC, as the CLI runs it (no waiting for relayers: there are none). */
  const swap = (give: SwapAmount, get: SwapAmount, ttl = 20) =>
    runSwap({
      from: { rpcUrl: rpcA.url, gateway: a.gateway.address, registry: a.registry.address, token: a.token.address, payerKey: HARDHAT_ACCOUNT_1_KEY, give },
      to: { rpcUrl: rpcB.url, gateway: b.gateway.address, registry: b.registry.address, token: b.token.address, payerKey: HARDHAT_ACCOUNT_2_KEY, give: get },
      ttl,
      wait: false,
    });

  /** The error `promise` rejects with. */
  async function failure(promise: Promise<unknown>): Promise<unknown> {
    try {
      await promise;
    } catch (error) {
      return error;
    }
    assert.fail("expected a failure");
  }

  it("knows every error the Gateway, the ViewRegistry and the test token can raise, and says each in words", async () => {
    const known = new Set(CONTRACT_ERRORS_ABI.map((e) => signature(e as AbiError)));
    const raised = new Set([...(await artifactErrors("Gateway")), ...(await artifactErrors("ViewRegistry")), ...(await artifactErrors("TestToken"))]);
    assert.deepEqual([...raised].filter((e) => !known.has(e)), [], "errors missing from CONTRACT_ERRORS_ABI");
    const selectors = CONTRACT_ERRORS_ABI.map((e) => toFunctionSelector(signature(e as AbiError)));
    assert.equal(new Set(selectors).size, selectors.length, "two errors share a selector");
    const sentences = new Set(explainedErrors());
    assert.deepEqual([...raised].map((e) => e.slice(0, e.indexOf("("))).filter((name) => !sentences.has(name)), [], "errors without a sentence");
  });

  it("a swap above the counterparty's bond cover: GatewayExposureCapExceeded with the amounts in ETH, what is free, and exit code 3; the other side is not registered", async () => {
    const error = await failure(swap({ asset: "coin", amount: parseEther("5000") }, { asset: "token", amount: parseEther("1") }));
    assert.ok(error instanceof DevnetError);
    // Both sides are tried before either is sent: the other user's token is not locked in a contract nobody can match (a
    // side already under way would land within this pause on these automining chains).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(await b.gateway.read.exposureOf([a.chainId]), 0n);
    // 40 % of B's 1,000 ETH bond covers 400 ETH of open swaps with B on A; nothing else is open.
    assert.match(error.message, /^registering the contract on chain 1001 failed: GatewayExposureCapExceeded\(1002, 5000000000000000000000, 400000000000000000000\): /);
    assert.match(error.message, /would be worth 5,000 ETH, but chain 1002's bond on chain 1001 covers 400 ETH of them/);
    assert.match(error.message, /this swap is worth 5,000 ETH and 400 ETH is free/);
    assert.doesNotMatch(error.message, /0x0db74ee0|custom error/);
    const { message, exitCode } = cliFailure(error, true);
    assert.equal(exitCode, EXIT.refused);
    assert.equal(message, error.message);
  });

  it("a token registration without an allowance: the token's ERC20InsufficientAllowance, raised under the Gateway, in words", async () => {
    const payer = await connect({ rpcUrl: rpcA.url, key: HARDHAT_ACCOUNT_1_KEY });
    const head = await payer.publicClient.getBlockNumber();
    const headB = await b.publicClient.getBlockNumber();
    const r: Registration = registration({ asset: a.token.address, amount: parseEther("3"), beneficiary: payer.wallet.account.address, h1: head + 20n, h2: headB + 20n });
    await transact(payer, "minting", () => payer.wallet.writeContract({ address: a.token.address, abi: mintAbi, functionName: "mint", args: [payer.wallet.account.address, parseEther("3")] }));
    await transact(payer, "approving", () => payer.wallet.writeContract({ address: a.token.address, abi: erc20Abi, functionName: "approve", args: [a.gateway.address, parseEther("1")] }));
    const error = await failure(transact(payer, "registering the contract", () => payer.wallet.writeContract({ address: a.gateway.address, abi: gatewayAbi, functionName: "register", args: [r] })));
    assert.ok(error instanceof DevnetError);
    assert.match(error.message, new RegExp(`ERC20InsufficientAllowance\\(${a.gateway.address}, 1000000000000000000, 3000000000000000000\\): ${a.gateway.address} may take 1 tokens of the payer's, and needs 3 tokens: approve it`, "i"));
    assert.equal(cliFailure(error, true).exitCode, EXIT.refused);
  });

  it("an expiry beyond the maximum lifetime: GatewayLifetimeTooLong names the expiry and the height it counts from", async () => {
    const payer = await connect({ rpcUrl: rpcA.url, key: HARDHAT_ACCOUNT_1_KEY });
    const head = await payer.publicClient.getBlockNumber();
    const r = registration({ asset: zeroAddress, amount: parseEther("1"), beneficiary: payer.wallet.account.address, h1: head + MAX_LIFETIME + 10n, h2: 5n });
    const error = await failure(transact(payer, "registering the contract", () => payer.wallet.writeContract({ address: a.gateway.address, abi: gatewayAbi, functionName: "register", args: [r], value: r.amount })));
    assert.match((error as Error).message, new RegExp(`GatewayLifetimeTooLong\\(${r.h1}, \\d+\\): the expiry at block ${r.h1} lies more than the Gateway's maximum lifetime past block \\d+`));
  });

  it("a registration after its registerBy: GatewayRegistrationLate says to start again", async () => {
    const payer = await connect({ rpcUrl: rpcA.url, key: HARDHAT_ACCOUNT_1_KEY });
    const head = await payer.publicClient.getBlockNumber();
    const r = registration({ asset: zeroAddress, amount: parseEther("1"), beneficiary: payer.wallet.account.address, h1: head + 20n, h2: 5n, registerBy: head });
    const error = await failure(transact(payer, "registering the contract", () => payer.wallet.writeContract({ address: a.gateway.address, abi: gatewayAbi, functionName: "register", args: [r], value: r.amount })));
    assert.match((error as Error).message, new RegExp(`GatewayRegistrationLate\\(${head}, ${head + 1n}\\): the registration arrived at block ${head + 1n}, after its last block for registration \\(${head}\\): start the swap again`));
  });

  it("a transaction the node took and that reverted once mined (the chain moved past its deadline): the call replayed in its block says why", async () => {
    const payer = await connect({ rpcUrl: rpcA.url, key: HARDHAT_ACCOUNT_1_KEY });
    const head = await payer.publicClient.getBlockNumber();
    const r = registration({ asset: zeroAddress, amount: parseEther("1"), beneficiary: payer.wallet.account.address, h1: head + 20n, h2: 5n, registerBy: head });
    // Mining paused and no gas estimate (the gas is given): the node takes the registration, and mines it after its registerBy.
    await a.conn.provider.request({ method: "evm_setAutomine", params: [false] });
    try {
      const sent = transact(payer, "registering the contract", () => payer.wallet.writeContract({ address: a.gateway.address, abi: gatewayAbi, functionName: "register", args: [r], value: r.amount, gas: 500_000n }));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await a.conn.provider.request({ method: "hardhat_mine", params: ["0x1"] });
      const error = await failure(sent);
      assert.match((error as Error).message, new RegExp(`^registering the contract reverted on chain 1001 \\(transaction 0x[0-9a-f]{64}\\): GatewayRegistrationLate\\(${head}, ${head + 1n}\\): the registration arrived at block ${head + 1n}`));
    } finally {
      await a.conn.provider.request({ method: "evm_setAutomine", params: [true] });
    }
  });

  it("an endpoint that does not answer: exit code 4", async () => {
    const error = await failure(connect({ rpcUrl: `http://127.0.0.1:${await freePort()}`, key: HARDHAT_ACCOUNT_1_KEY }));
    assert.equal(explainRevert(error), undefined);
    assert.equal(cliFailure(error, true).exitCode, EXIT.unreachable);
  });

  it("a swap with a chain frozen for a fork: GatewayCounterpartyFrozen says why no contract is taken", async () => {
    // B's committee signs two views of one height; A's registry freezes B on that evidence.
    const latest = await a.registry.read.latestHeight([b.chainId]);
    const head = await b.publicClient.getBlockNumber();
    const view = await viewOf(b, undefined, head > latest ? head : latest);
    const hashes = [...view.hashes];
    hashes[hashes.length - 1] = keccak256(stringToHex("the other branch"));
    const forged = { ...view, hashes };
    await a.registry.write.submitForkEvidence([view, await sign(b, view), forged, await sign(b, forged)]);
    assert.equal(await a.registry.read.isFrozen([b.chainId]), true);

    const error = await failure(swap({ asset: "coin", amount: parseEther("1") }, { asset: "coin", amount: parseEther("1") }));
    assert.match((error as Error).message, /GatewayCounterpartyFrozen\(1002\): chain 1002 is frozen on chain 1001: its committee was caught signing two conflicting views/);
    assert.equal(cliFailure(error, true).exitCode, EXIT.refused);
  });
});

const mintAbi = [{ type: "function", name: "mint", stateMutability: "nonpayable", inputs: [{ name: "to", type: "address" }, { name: "amount", type: "uint256" }], outputs: [] }] as const;

/** A registration on chain A with chain B as counterparty; registerBy and mirrorBy default to the expiries. */
function registration(r: { asset: `0x${string}`; amount: bigint; beneficiary: `0x${string}`; h1: bigint; h2: bigint; registerBy?: bigint }): Registration {
  return {
    asset: r.asset,
    amount: r.amount,
    beneficiary: r.beneficiary,
    refundTo: r.beneficiary,
    salt: keccak256(stringToHex(`explainRevert ${r.h1} ${r.amount}`)) as Hex,
    tx2: keccak256(stringToHex("tx2")),
    tx2r: keccak256(stringToHex("tx2r")),
    counterparty: 1002n,
    h1: r.h1,
    h2: r.h2,
    registerBy: r.registerBy ?? r.h1,
    mirrorBy: r.h2,
  };
}
