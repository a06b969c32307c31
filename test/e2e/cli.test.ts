import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
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
  });
});
