import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { Devnet, type DevnetFile, type DevnetStatus } from "../../relayer/devnet/devnet.js";
import { DevnetError } from "../../relayer/devnet/devnetError.js";
import { COMPILED_RELAYER, compileRelayer } from "../../relayer/devnet/relayerProcess.js";
import { isAlive } from "../../relayer/util/isAlive.js";
import { devnetBasePort } from "../fixtures/freePort.js";

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
      const basePort = await devnetBasePort(2, Q);
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
    // Nor is anything left in the relayers' process groups.
    for (const r of file.relayers) assert.equal(isAlive(-r.process.pid), false, `process group ${r.process.pid} still alive`);
    // SIGTERM reached each node once, and it shut down cleanly rather than being killed.
    for (const r of file.relayers) assert.match(readFileSync(r.log, "utf8"), /SIGTERM: stopping\n.*stopped\n/, `${r.log} shows a clean stop`);
    const after = await devnet.status({ dir });
    assert.ok(after.relayers.every((r) => !r.alive && r.status === "down"));
    assert.ok(after.chains.every((c) => !c.alive));
    console.log(`      up ${upMs} ms, relayers certified and connected ${settledMs} ms later, down ${Date.now() - started - upMs - settledMs} ms`);
  });
});

/**
 * The relayer runs from dist/, compiled by `compileRelayer` before a devnet starts its relayers: on a tree of its own (this
 * repository's build settings and node_modules, a two-file relayer), a relayer started after a source changed runs the
 * changed code, and a source esbuild cannot parse stops the start with esbuild's message.
 */
describe("compileRelayer", function () {
  this.timeout(120_000);
  const root = mkdtempSync(join(tmpdir(), "fibc-compile-"));
  const answer = join(root, "relayer", "answer.ts");
  const runRelayer = async () => (await promisify(execFile)(join(root, "node_modules", ".bin", "node"), [COMPILED_RELAYER], { cwd: root })).stdout.trim();

  before(() => {
    symlinkSync(resolve("node_modules"), join(root, "node_modules"));
    for (const file of ["package.json", "tsconfig.json"]) copyFileSync(file, join(root, file));
    mkdirSync(join(root, "scripts"));
    mkdirSync(join(root, "relayer"));
    writeFileSync(join(root, "scripts", "relayer.ts"), 'import { answer } from "../relayer/answer.js";\nconsole.log(answer());\n');
    writeFileSync(answer, "export const answer = (): string => `node ${process.versions.node.split('.')[0]}: first`;\n");
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  it("a relayer started after its source changed runs the changed code, under Node 24", async () => {
    await compileRelayer(root);
    assert.equal(await runRelayer(), "node 24: first");
    writeFileSync(answer, "export const answer = (): string => `node ${process.versions.node.split('.')[0]}: second`;\n");
    await compileRelayer(root);
    assert.equal(await runRelayer(), "node 24: second");
  });

  it("a source that does not parse stops the start with esbuild's message naming the file", async () => {
    writeFileSync(answer, "export const answer = (: string => 'broken';\n");
    await assert.rejects(compileRelayer(root), (error: unknown) => {
      assert.ok(error instanceof DevnetError);
      assert.match(error.message, /cannot compile the relayer/);
      assert.match(error.message, /relayer\/answer\.ts/);
      return true;
    });
  });
});
