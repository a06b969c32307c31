import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Devnet, type DevnetFile, type DevnetStatus } from "../../relayer/devnet/devnet.js";
import { DevnetError } from "../../relayer/devnet/devnetError.js";
import { isAlive } from "../../relayer/util/isAlive.js";

const Q = 3;

describe("Devnet with relayer processes", function () {
  this.timeout(90_000);
  const dir = mkdtempSync(join(tmpdir(), "fibc-devnet-relayers-"));
  const devnet = new Devnet();
  let file: DevnetFile | undefined;

  after(async function () {
    await devnet.down({ dir }).catch(() => undefined);
    await devnet.stop();
    if (this.test!.parent!.tests.every((t) => t.state === "passed")) rmSync(dir, { recursive: true, force: true });
    else console.log(`devnet logs kept in ${dir}`);
  });

  it("up starts a relayer per validator that certifies its chain and reaches every peer; down leaves no process alive", async () => {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      const basePort = 21_000 + Math.floor(Math.random() * 1_000) * 10;
      try {
        file = await devnet.up({ chains: 2, validatorsPerChain: Q, basePort, k: 16, blockMs: 200, dir });
        break;
      } catch (error) {
        if (!(error instanceof DevnetError && error.message.includes("already in use")) || attempt === 5) throw error;
      }
    }
    const upMs = Date.now() - started;
    assert.equal(file.relayers.length, 2 * Q);
    assert.deepEqual(file.relayers.map((r) => r.config).sort(), [...file.nodeConfigs].sort());
    for (const chain of file.chains) {
      assert.deepEqual(
        file.relayers.filter((r) => r.chainId === chain.chainId).map((r) => r.address).sort(),
        chain.committee.map((m) => m.address).sort(),
      );
    }

    // Every relayer: a certified view of its own chain past height 0, and all 2Q − 1 peers connected.
    let status: DevnetStatus | undefined;
    const deadline = Date.now() + 40_000;
    const settled = (s: DevnetStatus) =>
      s.relayers.length === 2 * Q &&
      s.relayers.every((r) => r.alive && r.status !== "down" && BigInt(r.status.certifiedHeight ?? "0") > 0n && r.status.peers.connected === 2 * Q - 1);
    for (;;) {
      status = await devnet.status({ dir });
      if (settled(status)) break;
      if (Date.now() > deadline) assert.fail(`relayers did not settle within 40 s: ${JSON.stringify(status.relayers, null, 2)}`);
      await sleep(250);
    }
    const settledMs = Date.now() - started - upMs;
    for (const r of status.relayers) assert.equal(r.status !== "down" && r.status.peers.expected, 2 * Q - 1);

    const pids = [...file.chains.map((c) => c.process!.pid), ...file.relayers.map((r) => r.process.pid)];
    assert.equal(await devnet.down({ dir }), 2 + 2 * Q);
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} still alive`);
    // The relayers' process groups hold the node each tsx launcher ran: none of them is left either.
    for (const r of file.relayers) assert.equal(isAlive(-r.process.pid), false, `process group ${r.process.pid} still alive`);
    // SIGTERM reached each node once, and it shut down cleanly rather than being killed.
    for (const r of file.relayers) assert.match(readFileSync(r.log, "utf8"), /SIGTERM: stopping\n.*stopped\n/, `${r.log} shows a clean stop`);
    const after = await devnet.status({ dir });
    assert.ok(after.relayers.every((r) => !r.alive && r.status === "down"));
    assert.ok(after.chains.every((c) => !c.alive));
    console.log(`      up ${upMs} ms, relayers certified and connected ${settledMs} ms later, down ${Date.now() - started - upMs - settledMs} ms`);
  });
});
