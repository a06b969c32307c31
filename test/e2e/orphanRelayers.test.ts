import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Devnet, type DevnetFile } from "../../relayer/devnet/devnet.js";
import { childrenOf, isRunning } from "../../relayer/devnet/processes.js";
import { devnetBasePort } from "../fixtures/freePort.js";

/**
 * A devnet whose own process dies without a chance to clean up (SIGKILL, an out-of-memory kill): its relayer processes,
 * each in a process group of its own, must not run on forever. They watch the pid that started them and stop.
 */
describe("relayers of a devnet killed with SIGKILL", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "fibc-orphans-"));

  after(async function () {
    await new Devnet().down({ dir }).catch(() => undefined); // the chain processes, which do not watch their parent
    if (this.test!.parent!.tests.every((t) => t.state === "passed")) rmSync(dir, { recursive: true, force: true });
    else console.log(`logs kept in ${dir}`);
  });

  it("stop by themselves within seconds (killed-parent attack on the operator's machine)", async () => {
    const basePort = await devnetBasePort(2, 2);
    const launcher = spawn(join("node_modules", ".bin", "tsx"), ["scripts/devnet.ts", "up", "--chains", "2", "--validators", "2", "--block-ms", "500", "--base-port", String(basePort), "--dir", dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    launcher.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    launcher.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 90_000;
    while (!/relayers up/.test(output)) {
      assert.ok(launcher.exitCode === null, `the devnet exited early:\n${output}`);
      assert.ok(Date.now() < deadline, `no relayers up within 90 s:\n${output}`);
      await sleep(200);
    }
    const file = JSON.parse(readFileSync(join(dir, "devnet.json"), "utf8")) as DevnetFile;
    assert.equal(file.relayers.length, 4);
    assert.ok(file.relayers.every((r) => isRunning(r.process)));

    // tsx runs the devnet in a child node: that process started the relayers, and it is the one that dies.
    const [devnetPid] = childrenOf(launcher.pid!);
    assert.ok(devnetPid !== undefined, "the devnet's node process under tsx");
    process.kill(devnetPid, "SIGKILL");
    const stopBy = Date.now() + 15_000;
    while (file.relayers.some((r) => isRunning(r.process)) && Date.now() < stopBy) await sleep(250);
    assert.deepEqual(file.relayers.filter((r) => isRunning(r.process)).map((r) => r.process.pid), []);
    for (const r of file.relayers) assert.match(readFileSync(r.log, "utf8"), /that started this node is gone: stopping/);
  });
});
