import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, http, keccak256, parseAbi, parseEther, stringToHex, type Hex } from "viem";
import { registryAbi } from "../../relayer/chain/abis.js";
import { Devnet, type DevnetChain, type DevnetFile } from "../../relayer/devnet/devnet.js";
import { DevnetError } from "../../relayer/devnet/devnetError.js";
import { DEMO_GATEWAY_SETTINGS } from "../../relayer/devnet/story.js";
import { runSwap } from "../../relayer/devnet/swap.js";
import { HARDHAT_ACCOUNT_0 } from "../../relayer/devnet/testAccounts.js";
import { AGGREGATE_BYTES } from "../../relayer/view/blsScheme.js";
import { devnetBasePort } from "../fixtures/freePort.js";

const Q = 3;
const isBlsAbi = parseAbi(["function isBlsCommittee(uint64 chainId) view returns (bool)"]);

/**
 * A swap between a chain whose committee signs with ECDSA and one whose committee signs with BLS12-381, on real `hardhat
 * node` and relayer processes: each side's relayers post the other chain's views in its scheme (65-byte signatures one
 * way, one bitmap ‖ aggregate entry the other), and both contracts are released.
 */
describe("a swap between an ECDSA chain and a BLS12-381 chain (devnet, q = 3)", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "fibc-bls-swap-"));
  const devnet = new Devnet();
  let file: DevnetFile;

  before(async () => {
    for (let attempt = 1; ; attempt++) {
      const basePort = await devnetBasePort(2, Q);
      try {
        file = await devnet.up({ chains: 2, validatorsPerChain: Q, basePort, k: 16, blockMs: 250, dir, gateway: DEMO_GATEWAY_SETTINGS, blsChains: [1] });
        break;
      } catch (error) {
        if (!(error instanceof DevnetError && error.message.includes("already in use")) || attempt === 5) throw error;
      }
    }
  });

  after(async function () {
    await devnet.down({ dir }).catch(() => undefined);
    await devnet.stop();
    if (this.test!.parent!.tests.every((t) => t.state === "passed")) rmSync(dir, { recursive: true, force: true });
    else console.log(`devnet logs kept in ${dir}`);
  });

  it("releases both contracts, each registry taking the other chain's views in that chain's scheme", async () => {
    const [ecdsa, bls] = file.chains as [DevnetChain, DevnetChain];
    assert.deepEqual([ecdsa.scheme, bls.scheme], ["ECDSA", "BLS"]);
    const clientOf = (c: DevnetChain) => createPublicClient({ transport: http(c.url) });
    assert.equal(await clientOf(ecdsa).readContract({ address: ecdsa.registry, abi: isBlsAbi, functionName: "isBlsCommittee", args: [BigInt(bls.chainId)] }), true);
    assert.equal(await clientOf(bls).readContract({ address: bls.registry, abi: isBlsAbi, functionName: "isBlsCommittee", args: [BigInt(ecdsa.chainId)] }), false);

    const key = (side: string): Hex => keccak256(stringToHex(`bls-swap/${side}`));
    const faucetNonces = () => Promise.all([ecdsa, bls].map((c) => clientOf(c).getTransactionCount({ address: HARDHAT_ACCOUNT_0 })));
    const noncesBefore = await faucetNonces();
    const result = await runSwap({
      from: { rpcUrl: ecdsa.url, gateway: ecdsa.gateway, registry: ecdsa.registry, token: ecdsa.token, payerKey: key("from"), give: { asset: "token", amount: parseEther("100") } },
      to: { rpcUrl: bls.url, gateway: bls.gateway, registry: bls.registry, token: bls.token, payerKey: key("to"), give: { asset: "coin", amount: parseEther("1") } },
      ttl: 60,
      pollMs: 250,
      // The relayers bring each registry's view of the other chain up to date some seconds after they start (RegistryRefresher).
      registryWaitMs: 40_000,
    });
    assert.deepEqual([result.from.outcome, result.to.outcome], ["released", "released"]);
    // The two new payers got their coin in a transfer from test account #0 mined like any transaction, one per chain, not
    // by hardhat_setBalance: that changes a block's state outside it, and every check() answer proven at that block fails.
    assert.deepEqual(await faucetNonces(), noncesBefore.map((n) => n + 1));

    // The ECDSA chain's registry accepted views of the BLS chain past its genesis, each with one aggregate entry; the BLS
    // chain's registry took the ECDSA chain's views with at least the threshold of 65-byte signatures.
    const accepted = async (on: DevnetChain, of: DevnetChain) =>
      clientOf(on).getContractEvents({ address: on.registry, abi: registryAbi, eventName: "ViewAccepted", args: { chainId: BigInt(of.chainId) }, fromBlock: 0n });
    const ofBls = await accepted(ecdsa, bls);
    assert.ok(ofBls.length >= 2, `views of the BLS chain accepted: ${ofBls.length}`);
    for (const event of ofBls) assert.deepEqual(event.args.signatures!.map((s) => (s.length - 2) / 2), [AGGREGATE_BYTES]);
    const ofEcdsa = await accepted(bls, ecdsa);
    assert.ok(ofEcdsa.length >= 2, `views of the ECDSA chain accepted: ${ofEcdsa.length}`);
    for (const event of ofEcdsa) assert.ok(event.args.signatures!.length >= 2 && event.args.signatures!.every((s) => s.length === 132));
  });
});
