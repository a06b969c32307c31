import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Hex } from "viem";
import { foldAcc, ZERO_HASH } from "../../relayer/view/view.js";
import { committeeKeys, deploySystem, K, type Chain } from "../fixtures/system.js";
import { RpcServer } from "../fixtures/rpcServer.js";

const run = promisify(execFile);

describe("npm run attack", function () {
  this.timeout(120_000);

  it("rewinds the chain and shows its second branch, signed by the colluders, to the victim only", async () => {
    const [a, b] = (await deploySystem({ networks: ["chainA", "chainB"] })) as [Chain, Chain];
    const servers = [new RpcServer(a), new RpcServer(b)];
    for (const s of servers) await s.up();
    await b.conn.provider.request({ method: "evm_setIntervalMining", params: [100] });
    try {
      const dir = mkdtempSync(join(tmpdir(), "fibc-attack-"));
      const config = join(dir, "attack.json");
      const victimKey = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // Hardhat's second test account
      writeFileSync(config, JSON.stringify({
        chain: { rpcUrl: servers[1]!.url, chainId: b.chainId.toString(), gateway: b.gateway.address, k: K, colluderKeys: committeeKeys(b.chainId, 4) },
        victim: { rpcUrl: servers[0]!.url, registry: a.registry.address, key: victimKey },
        firstBranchBlocks: 10,
      }));
      const { stdout } = await run(join("node_modules", ".bin", "tsx"), ["scripts/attack.ts", "--config", config]);
      const summary = JSON.parse(stdout.trim().split("\n").at(-1)!) as { forkHeight: string; viewsPosted: number; caught: boolean };
      assert.ok(summary.viewsPosted > 0);
      assert.equal(summary.caught, false, "A never saw b1: nothing to compare b2 with");
      // A now holds B's second branch: its accumulator through the newest accepted height folds B's blocks after the rewind.
      const height = await a.registry.read.latestHeight([b.chainId]);
      assert.ok(height > BigInt(summary.forkHeight) + 10n, "the victim accepted views past the first branch's top");
      const hashes: Hex[] = [];
      for (let h = 0n; h <= height; h++) hashes.push((await b.publicClient.getBlock({ blockNumber: h })).hash);
      assert.equal(await a.registry.read.accThrough([b.chainId, height]), foldAcc(ZERO_HASH, hashes));
      assert.equal(await a.registry.read.isFrozen([b.chainId]), false);
    } finally {
      await b.conn.provider.request({ method: "evm_setIntervalMining", params: [0] });
      for (const s of servers) await s.down();
    }
  });
});
