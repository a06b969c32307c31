import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createPublicClient, http, type Address } from "viem";
import { Devnet, type DevnetFile } from "../../relayer/devnet/devnet.js";
import { DevnetError } from "../../relayer/devnet/devnetError.js";

const exec = promisify(execFile);
const FIBC = join("bin", "fibc.js");

/** Runs `fibc args…` (the launcher, with the Node running the tests); never throws on a non-zero exit. */
async function fibc(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [FIBC, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("fibc", function () {
  this.timeout(60_000);

  it("--help exits 0 and lists the subcommands", async () => {
    const { code, stdout } = await fibc("--help");
    assert.equal(code, 0);
    for (const command of ["devnet", "deploy", "node", "attack", "swap", "status"]) assert.match(stdout, new RegExp(`^  ${command} `, "m"));
  });

  it("swap --help exits 0 and describes the command", async () => {
    const { code, stdout } = await fibc("swap", "--help");
    assert.equal(code, 0);
    assert.match(stdout, /usage: fibc swap .*--from <chainId> --to <chainId> --give/);
    assert.match(stdout, /test accounts #1/);
  });

  it("an unknown subcommand exits 2 and says so", async () => {
    const { code, stderr } = await fibc("frobnicate");
    assert.equal(code, 2);
    assert.match(stderr, /unknown command "frobnicate"/);
  });

  /** stdout of a --json run: one JSON object and nothing else (JSON.parse throws on anything more). */
  const onlyJson = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

  it("--json: a usage error is {error, exitCode: 2, revert: null} alone on stdout, and nothing was done", async () => {
    const { code, stdout, stderr } = await fibc("swap", "--give", "1coin", "--json");
    assert.equal(code, 2);
    assert.deepEqual(onlyJson(stdout), { error: "fibc swap: --from is required", exitCode: 2, revert: null });
    assert.match(stderr, /usage: fibc swap /);
  });

  it("attack --json with a bad attack.json exits 2 and names every missing part in the JSON error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fibc-attack-json-"));
    const config = join(dir, "attack.json");
    writeFileSync(config, JSON.stringify({ chain: { rpcUrl: "not a url" } }));
    try {
      const { code, stdout } = await fibc("attack", "--config", config, "--json");
      assert.equal(code, 2);
      const failure = onlyJson(stdout);
      assert.equal(failure.exitCode, 2);
      assert.equal(failure.revert, null);
      for (const part of ["chain.rpcUrl", "chain.gateway", "victim"]) assert.match(String(failure.error), new RegExp(`^${part.replace(".", "\\.")}: `, "m"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("devnet down --json where there is no devnet exits 1 with the error as JSON, and stops nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fibc-down-json-"));
    try {
      const { code, stdout } = await fibc("devnet", "down", "--dir", dir, "--json");
      assert.equal(code, 1);
      const failure = onlyJson(stdout);
      assert.match(String(failure.error), /^no devnet in .*devnet\.json cannot be read/);
      assert.equal(failure.exitCode, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("node, watch and dashboard --help say they serve until stopped and print no result", async () => {
    for (const command of ["node", "watch", "dashboard"]) {
      const { code, stdout } = await fibc(command, "--help");
      assert.equal(code, 0);
      assert.match(stdout, /serves until stopped and has no result to print, so it takes no --json/, command);
    }
  });

  describe("swap on a devnet of real processes", function () {
    this.timeout(180_000);
    const dir = mkdtempSync(join(tmpdir(), "fibc-cli-"));
    const devnet = new Devnet();
    let file: DevnetFile | undefined;

    before(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          file = await devnet.up({ chains: 2, validatorsPerChain: 3, basePort: 27_100 + attempt * 20, k: 16, blockMs: 250, dir });
          break;
        } catch (error) {
          if (!(error instanceof DevnetError && error.message.includes("already in use")) || attempt === 4) throw error;
        }
      }
    });

    after(async function () {
      await devnet.down({ dir }).catch(() => undefined);
      await devnet.stop();
      if (this.test!.parent!.tests.every((t) => t.state === "passed")) rmSync(dir, { recursive: true, force: true });
      else console.log(`devnet logs kept in ${dir}`);
    });

    it("registers both sides and waits until the relayers release both", async () => {
      const [a, b] = file!.chains;
      const started = Date.now();
      const { code, stdout, stderr } = await fibc("swap", "--dir", dir, "--from", a!.chainId, "--to", b!.chainId, "--give", "100token", "--get", "1coin", "--ttl", "40");
      assert.equal(code, 0, `fibc swap failed:\n${stdout}\n${stderr}`);
      assert.match(stdout, new RegExp(`^contract on chain ${a!.chainId}: 0x[0-9a-f]{64}$`, "m"));
      assert.match(stdout, new RegExp(`^contract on chain ${b!.chainId}: 0x[0-9a-f]{64}$`, "m"));
      assert.match(stdout, new RegExp(`^chain ${a!.chainId}: released$`, "m"));
      assert.match(stdout, new RegExp(`^chain ${b!.chainId}: released$`, "m"));
      assert.match(stdout, /0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC on chain \d+ +0 → 100 token/);
      console.log(`      fibc swap took ${Date.now() - started} ms`);
    });

    it("deploy --json on its running chains prints where each chain's new contracts are, as one JSON object, the logs on stderr", async () => {
      const deployed = mkdtempSync(join(tmpdir(), "fibc-deploy-json-"));
      try {
        const urls = file!.chains.map((c) => c.url);
        const { code, stdout, stderr } = await fibc("deploy", ...urls.flatMap((url) => ["--rpc", url]), "--validators", "1", "--dir", deployed, "--no-relayers", "--no-dashboard", "--json");
        assert.equal(code, 0, stderr);
        assert.match(stderr, /devnet ready/);
        const summary = onlyJson(stdout) as { chains: { chainId: string; url: string; registry: Address; gateway: Address; pid?: number }[]; relayers: unknown[]; dashboard: unknown };
        assert.deepEqual(summary.chains.map((c) => c.url), urls);
        assert.deepEqual(summary.relayers, []);
        assert.equal(summary.dashboard, null);
        assert.doesNotMatch(stdout, /"key"/, "no key is printed");
        for (const c of summary.chains) {
          assert.equal(c.pid, undefined, "deploy starts no chain");
          const client = createPublicClient({ transport: http(c.url) });
          for (const address of [c.registry, c.gateway]) assert.ok(((await client.getCode({ address })) ?? "0x").length > 2, `a contract at ${address} on chain ${c.chainId}`);
          assert.notEqual(c.registry, file!.chains.find((d) => d.chainId === c.chainId)!.registry, "a new registry, not the devnet's");
        }
      } finally {
        rmSync(deployed, { recursive: true, force: true });
      }
    });

    it("devnet down --json stops every chain and relayer and says how many", async () => {
      const { code, stdout, stderr } = await fibc("devnet", "down", "--dir", dir, "--json");
      assert.equal(code, 0, stderr);
      assert.deepEqual(onlyJson(stdout), { dir, stopped: file!.chains.length + file!.relayers.length });
      const status = await devnet.status({ dir });
      assert.ok(status.chains.every((c) => !c.alive) && status.relayers.every((r) => !r.alive), "every process stopped");
    });
  });
});
