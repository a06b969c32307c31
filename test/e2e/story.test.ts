import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { DevnetFile } from "../../relayer/devnet/devnet.js";
import { isRunning } from "../../relayer/devnet/processes.js";
import type { StoryReport } from "../../relayer/devnet/story.js";
import { devnetBasePort } from "../fixtures/freePort.js";

const exec = promisify(execFile);
const CHAINS = 3;
const Q = 3;
const ETH = 10n ** 18n;

/**
 * The README's first command with small parameters: `tsx scripts/demo.ts` as a user runs it, on real `hardhat node` and relayer
 * processes, then the figures of the report it writes.
 */
describe("the demo story on real processes (3 chains, q = 3)", function () {
  this.timeout(600_000);
  const dir = mkdtempSync(join(tmpdir(), "fibc-story-"));
  const reportPath = join(dir, "report.json");
  let report: StoryReport;
  let output = "";

  before(async () => {
    const basePort = await devnetBasePort(CHAINS, Q);
    const args = ["scripts/demo.ts", "--chains", String(CHAINS), "--validators", String(Q), "--block-ms", "500", "--base-port", String(basePort), "--dir", join(dir, "devnet"), "--report", reportPath];
    try {
      ({ stdout: output } = await exec(join("node_modules", ".bin", "tsx"), args, { timeout: 540_000, maxBuffer: 64 * 1024 * 1024 }));
    } catch (error) {
      output = `${(error as { stdout?: string }).stdout ?? ""}\n${(error as { stderr?: string }).stderr ?? ""}`;
      if (!existsSync(reportPath)) throw new Error(`the demo wrote no report; its output:\n${output.slice(-4_000)}`);
    }
    report = JSON.parse(readFileSync(reportPath, "utf8")) as StoryReport;
  });

  after(function () {
    if (this.test!.parent!.tests.every((t) => t.state === "passed")) rmSync(dir, { recursive: true, force: true });
    else console.log(`story logs kept in ${dir}; the demo printed:\n${output.slice(-4_000)}`);
  });

  it("settles the swap between every pair of chains and fails none", () => {
    assert.deepEqual(report.swaps, { settled: (CHAINS * (CHAINS - 1)) / 2, refunded: 1, failed: 0 });
    assert.equal(report.chains.length, CHAINS);
    assert.equal(report.validatorsPerChain, Q);
    // The last chain's committee signs with BLS12-381, so swaps cross both schemes.
    assert.deepEqual(report.chains.map((id) => report.schemes[String(id)]), ["ECDSA", "ECDSA", "BLS"]);
  });

  it("detects the fork and freezes and slashes the forked chain on every other chain", () => {
    const honest = report.chains.filter((id) => id !== report.fork.chain).sort();
    assert.deepEqual([...report.fork.frozenOn].sort(), honest);
    assert.ok(report.fork.detectedAfterBlocks >= 0, `detected after ${report.fork.detectedAfterBlocks} blocks`);
    // Each honest chain slashes the whole 1000 ETH bond it holds for the forked chain: 10 % to the reporter, 40 % kept for
    // the harmed users, the rest burned.
    const bonds = BigInt(honest.length) * 1000n * ETH;
    assert.deepEqual(
      [report.fork.slashed, report.fork.reward, report.fork.pool, report.fork.burned].map(BigInt),
      [bonds, bonds / 10n, (bonds * 4n) / 10n, bonds / 2n],
    );
  });

  it("pays the user b2 robbed the value of the contract, claimed within the compensation window, after the claim period", () => {
    assert.ok(report.fork.releasedBeforeFreeze >= 0 && report.fork.releasedBeforeFreeze <= 80, `released ${report.fork.releasedBeforeFreeze} blocks before the freeze`);
    assert.equal(report.fork.compensationFiled, ETH.toString());
    assert.equal(report.fork.compensationPaid, ETH.toString());
    assert.equal(report.fork.compensated, ETH.toString());
  });

  it("conserves every user's and escrow's balances", () => {
    assert.deepEqual(report.balanceErrors, []);
    assert.equal(report.balancesConserved, true);
  });

  it("counts the relayers' messages and the gas of every protocol step", () => {
    assert.ok(report.messagesPerTask.requests >= 1, `requests per task ${report.messagesPerTask.requests}`);
    assert.ok(report.messagesPerTask.answers >= 1);
    assert.ok(report.messagesPerTask.gossip > 0);
    // A batch step posts the counterparty's view in the same transaction when the registry needs a newer one.
    for (const steps of [["register"], ["precommit", "precommit+view"], ["terminate", "terminate+view"], ["cancel"], ["submitView"], ["submitForkEvidence"], ["claimCompensation"], ["withdrawCompensation"]]) {
      const calls = steps.reduce((n, step) => n + (report.gas[step]?.calls ?? 0), 0);
      assert.ok(calls > 0, `no ${steps.join(" or ")} call in the report's gas`);
      for (const step of steps) if (report.gas[step] !== undefined) assert.ok(report.gas[step].meanGas > 21_000, `${step}: ${report.gas[step].meanGas} gas`);
    }
    for (const step of ["precommit", "precommit+view", "terminate", "terminate+view"]) {
      const entry = report.gas[step];
      if (entry !== undefined) assert.ok(entry.contracts! >= entry.calls, `${step}: ${entry.contracts} contracts in ${entry.calls} batches`);
    }
  });

  it("leaves no chain or relayer process running", () => {
    const file = JSON.parse(readFileSync(join(dir, "devnet", "devnet.json"), "utf8")) as DevnetFile;
    const records = [...file.chains.flatMap((c) => (c.process ? [c.process] : [])), ...file.relayers.map((r) => r.process)];
    assert.equal(records.length, CHAINS + CHAINS * Q);
    assert.deepEqual(records.filter(isRunning).map((r) => r.pid), []);
  });
});
