import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createPublicClient, http, parseAbi, toHex, type Address } from "viem";
import { parseNodeConfig } from "../../relayer/config/nodeConfig.js";
import { Devnet, DEVNET_BOND, type DevnetChain, type DevnetFile } from "../../relayer/devnet/devnet.js";
import { DevnetError } from "../../relayer/devnet/devnetError.js";
import { devnetSwapSides, parseSwapAmount, runSwap } from "../../relayer/devnet/swap.js";
import { devnetBasePort } from "../fixtures/freePort.js";

const registryAbi = parseAbi([
  "function latestHeight(uint64 chainId) view returns (uint64)",
  "function committeeOf(uint64 chainId) view returns (address[] committee, uint256 threshold, uint64 k)",
  "function bondOf(uint64 chainId) view returns (uint256)",
  "function gatewayOf(uint64 chainId) view returns (address)",
]);

const gatewayAbi = parseAbi([
  "function compensationWindow() view returns (uint64)",
  "function maxLifetime() view returns (uint64)",
  "function claimPeriod() view returns (uint64)",
  "function registry() view returns (address)",
]);

const K = 16;
const Q = 3;
/** Not the defaults, so that the test sees them reach the chains. */
const SETTINGS = { compensationWindow: 50n, maxLifetime: 500n, claimPeriod: 600n };

const clientOf = (chain: DevnetChain) => createPublicClient({ transport: http(chain.url) });

describe("Devnet (real processes)", function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), "fibc-devnet-"));
  const devnet = new Devnet();
  let file: DevnetFile;

  before(async () => {
    // 14 consecutive ports (2 chains, 6 relayer and 6 metrics ports) below the ephemeral range; up checks them all
    // before it starts anything, so a range someone else holds is simply tried elsewhere.
    for (let attempt = 1; ; attempt++) {
      const basePort = await devnetBasePort(2, Q);
      try {
        file = await devnet.up({ chains: 2, validatorsPerChain: Q, basePort, k: K, blockMs: 200, dir, relayers: false, gateway: SETTINGS });
        return;
      } catch (error) {
        if (!(error instanceof DevnetError && error.message.includes("already in use")) || attempt === 5) throw error;
      }
    }
  });

  after(async function () {
    await devnet.down({ dir }).catch(() => undefined); // nothing to read when up failed early
    await devnet.stop();
    // The chains' logs stay for a failed run.
    if (this.test!.parent!.tests.every((t) => t.state === "passed")) rmSync(dir, { recursive: true, force: true });
    else console.log(`devnet logs kept in ${dir}`);
  });

  describe("up", () => {
    it("starts one hardhat node per chain, each answering its own chainId", async () => {
      assert.equal(file.chains.length, 2);
      assert.notEqual(file.chains[0]!.url, file.chains[1]!.url);
      for (const chain of file.chains) assert.equal(await clientOf(chain).getChainId(), Number(chain.chainId));
    });

    it("registers every chain on every other with its committee, 2/3 threshold, k and a bond", async () => {
      for (const local of file.chains) {
        for (const remote of file.chains) {
          if (remote === local) continue;
          const client = clientOf(local);
          const args = [BigInt(remote.chainId)] as const;
          const [committee, threshold, k] = await client.readContract({ address: local.registry, abi: registryAbi, functionName: "committeeOf", args });
          assert.deepEqual(committee, remote.committee.map((m) => m.address));
          assert.equal(threshold, 2n);
          assert.equal(k, BigInt(K));
          assert.equal(await client.readContract({ address: local.registry, abi: registryAbi, functionName: "gatewayOf", args }), remote.gateway);
          assert.equal(await client.readContract({ address: local.registry, abi: registryAbi, functionName: "bondOf", args }), DEVNET_BOND);
          const height = await client.readContract({ address: local.registry, abi: registryAbi, functionName: "latestHeight", args });
          assert.ok(height > 0n, "a genesis view past the deployment blocks");
        }
      }
    });

    it("deploys every Gateway with the settings asked for and records them in devnet.json", async () => {
      assert.deepEqual(file.gateway, { compensationWindow: "50", maxLifetime: "500", claimPeriod: "600" });
      assert.deepEqual(file.registry, { slashRewardBps: 1000, poolBps: 4000 });
      for (const chain of file.chains) {
        const read = (functionName: "compensationWindow" | "maxLifetime" | "claimPeriod") => clientOf(chain).readContract({ address: chain.gateway, abi: gatewayAbi, functionName });
        assert.deepEqual(
          { compensationWindow: await read("compensationWindow"), maxLifetime: await read("maxLifetime"), claimPeriod: await read("claimPeriod") },
          SETTINGS,
        );
        assert.equal(await clientOf(chain).readContract({ address: chain.gateway, abi: gatewayAbi, functionName: "registry" }), chain.registry);
      }
    });

    it("refuses a claim period no longer than the maximum lifetime plus the compensation window before starting anything", async () => {
      await assert.rejects(
        new Devnet().up({ chains: 2, validatorsPerChain: Q, basePort: 1, k: K, blockMs: 200, dir: join(dir, "bad"), relayers: false, gateway: { maxLifetime: 500n, claimPeriod: 600n } }),
        (error: unknown) => error instanceof DevnetError && /claimPeriod \(600\) must be longer than maxLifetime \+ compensationWindow \(500 \+ 100\)/.test(error.message),
      );
    });

    it("keeps each chain's log (its start and the deployment) and logs no JSON-RPC call after the setup", async () => {
      for (const chain of file.chains) {
        assert.ok(chain.log !== undefined && existsSync(chain.log), `chain ${chain.chainId}'s log ${chain.log} exists`);
        const before = readFileSync(chain.log, "utf8");
        assert.match(before, /Started HTTP and WebSocket JSON-RPC server/);
        assert.match(before, /eth_sendRawTransaction|eth_sendTransaction/, "the deployment is in the log");
        await clientOf(chain).getBlockNumber({ cacheTime: 0 });
        await clientOf(chain).getBlock({ blockTag: "latest" });
        await sleep(300);
        const added = readFileSync(chain.log, "utf8").slice(before.length);
        assert.doesNotMatch(added, /eth_blockNumber|eth_getBlockByNumber/, "calls after the setup are not logged");
      }
    });

    it("writes one relayer configuration per validator that parseNodeConfig accepts", () => {
      const files = readdirSync(join(dir, "nodes"));
      assert.equal(files.length, 2 * Q);
      assert.deepEqual(files.map((f) => join(dir, "nodes", f)).sort(), [...file.nodeConfigs].sort());
      const validators = new Set<Address>(file.chains.flatMap((c) => c.committee.map((m) => m.address)));
      for (const path of file.nodeConfigs) {
        const config = parseNodeConfig(JSON.parse(readFileSync(path, "utf8")), { source: path });
        const own = file.chains.find((c) => c.chainId === config.chainId.toString())!;
        assert.equal(config.rpcUrl, own.url);
        assert.ok(own.committee.some((m) => m.address === config.address));
        assert.equal(config.peers.length, 2 * Q - 1);
        assert.ok(config.peers.every((p) => validators.has(p.address)));
        assert.ok(config.store.startsWith(dir));
      }
    });

    it("refuses a base port already in use, naming the port", async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as { port: number };
      try {
        await assert.rejects(
          new Devnet().up({ chains: 2, validatorsPerChain: Q, basePort: port, k: K, blockMs: 200, dir: join(dir, "busy"), relayers: false }),
          (error: unknown) => error instanceof DevnetError && error.message.includes(`${port}`) && error.message.includes("already in use"),
        );
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });

  describe("swap (registration only: no relayers here)", () => {
    it("registers both sides with registerBy half a ttl ahead, each side's mirrorBy the other's registerBy", async () => {
      const [a, b] = file.chains as [DevnetChain, DevnetChain];
      const sides = devnetSwapSides(file, a.chainId, b.chainId, parseSwapAmount("10token"), parseSwapAmount("0.1coin"));
      const before = await clientOf(a).getBlockNumber({ cacheTime: 0 });
      const result = await runSwap({ ...sides, ttl: 40, wait: false });
      const after = await clientOf(a).getBlockNumber({ cacheTime: 0 });
      const { registration: x } = result.from;
      const { registration: y } = result.to;
      assert.equal(result.from.outcome, "registered");
      assert.equal(result.to.outcome, "registered");
      // The swap read the head between these two reads (several 200 ms blocks may pass on a busy machine).
      assert.ok(x.h1 >= before + 40n && x.h1 <= after + 40n, `h1 ${x.h1}, head ${before} before the swap and ${after} after`);
      assert.equal(x.registerBy, x.h1 - 20n);
      assert.equal(y.registerBy, y.h1 - 20n);
      assert.deepEqual([x.h2, x.mirrorBy], [y.h1, y.registerBy]);
      assert.deepEqual([y.h2, y.mirrorBy], [x.h1, x.registerBy]);
    });

    it("refuses an expiry past a lagging registry's view plus the maximum lifetime when no relayer refreshes it, and says so", async () => {
      const [a, b] = file.chains as [DevnetChain, DevnetChain];
      // B runs far ahead of the newest view of it that A's registry accepted.
      await clientOf(b).request({ method: "hardhat_mine" as never, params: [toHex(SETTINGS.maxLifetime)] as never });
      const sides = devnetSwapSides(file, a.chainId, b.chainId, parseSwapAmount("10token"), parseSwapAmount("0.1coin"));
      const known = () => clientOf(a).readContract({ address: a.registry, abi: registryAbi, functionName: "latestHeight", args: [BigInt(b.chainId)] });
      const before = await known();
      await assert.rejects(
        runSwap({ ...sides, ttl: 40, wait: false }),
        (error: unknown) =>
          error instanceof DevnetError && error.message.includes(`registry knows chain ${b.chainId} only up to block ${before}`) && error.message.includes("--no-relayers"),
      );
      assert.equal(await known(), before);
    });
  });

  describe("status", () => {
    it("shows every chain alive with a growing head", async () => {
      const before = await devnet.status({ dir });
      await sleep(1_000);
      const after = await devnet.status({ dir });
      assert.equal(after.chains.length, 2);
      for (const [i, chain] of after.chains.entries()) {
        assert.ok(chain.alive, `chain ${chain.chainId} alive`);
        assert.ok(chain.height! > before.chains[i]!.height!, `chain ${chain.chainId} mines on its own: ${before.chains[i]!.height} → ${chain.height}`);
      }
    });
  });

  describe("down", () => {
    it("stops every chain process and leaves none alive", async () => {
      assert.equal(await devnet.down({ dir }), 2);
      for (const chain of file.chains) assert.throws(() => process.kill(chain.process!.pid, 0), { code: "ESRCH" });
      const status = await devnet.status({ dir });
      assert.ok(status.chains.every((c) => !c.alive && c.height === undefined));
    });
  });
});
