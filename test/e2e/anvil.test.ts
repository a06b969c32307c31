import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { createPublicClient, createTestClient, http } from "viem";
import { ChainProcess } from "../../relayer/devnet/chainProcess.js";
import type { DevnetFile } from "../../relayer/devnet/devnet.js";
import { isRunning, portInUse } from "../../relayer/devnet/processes.js";

const exec = promisify(execFile);
const FIBC = join("bin", "fibc.js");
const ANVIL_CHAIN_ID = 31_337;
const HARDHAT_CHAIN_ID = 31_338;

/** Four free consecutive ranges: anvil, hardhat, then 2 × 3 relayer and 2 × 3 metrics ports. */
async function freeBase(): Promise<number> {
  for (;;) {
    // Below the ephemeral range (32768–60999 on Linux), where an outgoing connection could take a port between check and bind.
    const base = 2_000 + Math.floor(Math.random() * 250) * 14;
    const ports = Array.from({ length: 14 }, (_, i) => base + i);
    if ((await Promise.all(ports.map((p) => portInUse("127.0.0.1", p)))).every((busy) => !busy)) return base;
  }
}

async function waitForAnswer(url: string, chainId: number): Promise<void> {
  const client = createPublicClient({ transport: http(url, { retryCount: 0, timeout: 1_000 }) });
  for (let attempt = 0; attempt < 150; attempt++) {
    if ((await client.getChainId().catch(() => undefined)) === chainId) return;
    await sleep(200);
  }
  throw new Error(`nothing answered chainId ${chainId} on ${url}`);
}

/**
 * `fibc deploy` and `fibc swap` against endpoints the CLI did not start: one chain served by Anvil (Foundry's node, from
 * npm), the other by a Hardhat node; the relayers `deploy` starts settle a swap between them.
 */
describe("fibc against an Anvil chain and a Hardhat chain", function () {
  this.timeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), "fibc-anvil-"));
  let anvil: ChildProcess;
  let hardhat: ChainProcess;
  let deploy: ChildProcess;
  let deployOutput = "";
  let file: DevnetFile;

  before(async () => {
    const base = await freeBase();
    const anvilUrl = `http://127.0.0.1:${base}`;
    anvil = spawn(resolve("node_modules", ".bin", "anvil"), ["--port", String(base), "--chain-id", String(ANVIL_CHAIN_ID), "--block-time", "0.5", "--silent"], {
      stdio: "ignore",
      detached: true,
    });
    await waitForAnswer(anvilUrl, ANVIL_CHAIN_ID);
    hardhat = await ChainProcess.start({ chainId: HARDHAT_CHAIN_ID, port: base + 1, root: resolve("."), logFile: join(dir, "hardhat.log") });
    await createTestClient({ mode: "hardhat", transport: http(hardhat.url) }).request({ method: "evm_setIntervalMining", params: [500] });

    deploy = spawn(process.execPath, [FIBC, "deploy", "--rpc", anvilUrl, "--rpc", hardhat.url, "--validators", "3", "--base-port", String(base + 2), "--block-ms", "500", "--dir", dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    deploy.stdout!.on("data", (chunk: Buffer) => (deployOutput += chunk.toString()));
    deploy.stderr!.on("data", (chunk: Buffer) => (deployOutput += chunk.toString()));
    const deadline = Date.now() + 120_000;
    while (!/relayers up/.test(deployOutput)) {
      if (deploy.exitCode !== null) throw new Error(`fibc deploy exited with ${deploy.exitCode}:\n${deployOutput}`);
      if (Date.now() > deadline) throw new Error(`fibc deploy did not bring the relayers up within 120 s:\n${deployOutput}`);
      await sleep(200);
    }
    file = JSON.parse(readFileSync(join(dir, "devnet.json"), "utf8")) as DevnetFile;
  });

  after(async function () {
    if (deploy?.exitCode === null) {
      deploy.kill("SIGTERM");
      await once(deploy, "exit");
    }
    await hardhat?.stop();
    if (anvil?.pid !== undefined) {
      try {
        process.kill(-anvil.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    if (this.test!.parent!.tests.every((t) => t.state === "passed")) rmSync(dir, { recursive: true, force: true });
    else console.log(`logs kept in ${dir}; fibc deploy printed:\n${deployOutput.slice(-3_000)}`);
  });

  it("deploys on both endpoints and records them as chains it did not start", () => {
    assert.deepEqual(file.chains.map((c) => Number(c.chainId)), [ANVIL_CHAIN_ID, HARDHAT_CHAIN_ID]);
    assert.ok(file.chains.every((c) => c.process === undefined));
    assert.equal(file.relayers.length, 6);
  });

  it("swaps 100 tokens on Anvil for 1 coin on Hardhat, settled by the relayers", async () => {
    const { stdout } = await exec(process.execPath, [FIBC, "swap", "--dir", dir, "--from", String(ANVIL_CHAIN_ID), "--to", String(HARDHAT_CHAIN_ID), "--give", "100token", "--get", "1coin", "--ttl", "80"], {
      timeout: 240_000,
    });
    assert.match(stdout, new RegExp(`^chain ${ANVIL_CHAIN_ID}: released$`, "m"));
    assert.match(stdout, new RegExp(`^chain ${HARDHAT_CHAIN_ID}: released$`, "m"));
    assert.match(stdout, /0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC on chain 31337 +0 → 100 token/);
  });

  it("stops its relayers on SIGTERM and leaves both chains running", async () => {
    deploy.kill("SIGTERM");
    await once(deploy, "exit");
    assert.deepEqual(file.relayers.filter((r) => isRunning(r.process)).map((r) => r.process.pid), []);
    const { stdout } = await exec(process.execPath, [FIBC, "status", "--dir", dir]);
    assert.match(stdout, new RegExp(`^chain ${ANVIL_CHAIN_ID} .* external  alive`, "m"));
    assert.match(stdout, new RegExp(`^chain ${HARDHAT_CHAIN_ID} .* external  alive`, "m"));
  });
});
