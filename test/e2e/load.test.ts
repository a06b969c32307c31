import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FAULT_KINDS } from "../../relayer/load/chaos.js";
import { loadMain } from "../../relayer/load/loadCli.js";
import { LoadError, runLoad, type LoadReport, type LoadRunParameters } from "../../relayer/load/loadRun.js";
import { devnetBasePort } from "../fixtures/freePort.js";

/**
 * Sustained swaps under faults on real processes: a devnet of 3 hardhat node chains × 4 relayer processes, swaps offered
 * at a steady rate between every pair of chains while relayers are killed, a chain is stopped, a chain's JSON-RPC refuses
 * and a relayer's links are cut, one fault at a time. What must hold whatever the faults: no swap released on one side
 * only, every wei where the outcomes say, every swap ended by its expiry plus 50 blocks.
 */
describe("fibc load", function () {
  this.timeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), "fibc-load-"));
  let basePort = 0;

  before(async () => {
    basePort = await devnetBasePort(3, 4);
  });

  after(function () {
    if (this.test!.parent!.tests.every((t) => t.state === "passed")) rmSync(dir, { recursive: true, force: true });
    else console.log(`load run files kept in ${dir}`);
  });

  const parameters = (over: Partial<LoadRunParameters>): LoadRunParameters => ({
    devnet: { chains: 3, validators: 4, blockMs: 500, k: 16, basePort, dir: join(dir, "devnet") },
    rate: 60,
    durationSeconds: 60,
    ttl: 40,
    users: 12,
    seed: 7,
    chaos: [],
    netns: false,
    report: join(dir, "load-report.json"),
    log: () => {},
    progress: () => {},
    signal: new AbortController().signal,
    ...over,
  });

  it("refuses bad input at once and starts nothing: a rate of 0, a negative duration, no devnet in --dir, a dead endpoint, chaos on a devnet it did not start", async () => {
    const dead = join(dir, "dead");
    mkdirSync(dead);
    // A devnet.json whose chains no longer run: nothing listens on port 1.
    const chain = (id: string) => ({ chainId: id, url: "http://127.0.0.1:1", registry: "0x0", gateway: "0x0", token: "0x0", committee: [] });
    writeFileSync(join(dead, "devnet.json"), JSON.stringify({ chains: [chain("31001"), chain("31002")], relayers: [], owner: { address: "0x0", key: `0x${"11".repeat(32)}` } }));
    const cases: [Partial<LoadRunParameters>, RegExp][] = [
      [{ rate: 0 }, /--rate \(swaps per minute\) must be a number/],
      [{ durationSeconds: -5 }, /--duration \(seconds\) must be a number/],
      [{ dir: join(dir, "nothing-here") }, /no devnet in .*nothing-here/],
      [{ dir: dead }, /chain 31001 of the devnet in .* does not answer on http:\/\/127\.0\.0\.1:1: is the devnet up\?/],
      [{ dir: dead, chaos: ["kill"] }, /--chaos needs a devnet of the load run's own/],
    ];
    for (const [over, message] of cases) {
      const started = Date.now();
      await assert.rejects(runLoad(parameters(over)), (error: unknown) => error instanceof LoadError && message.test(error.message));
      assert.ok(Date.now() - started < 10_000, "a bad input is refused at once");
    }
    assert.equal(existsSync(join(dir, "devnet")), false, "no devnet was started");
    assert.equal(existsSync(join(dir, "load-report.json")), false, "no report was written");
    // The command line says the same with the usage exit code, and names the bad value.
    const errors: string[] = [];
    const error = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      assert.equal(await loadMain(["--rate", "0"], "fibc load"), 2);
      assert.equal(await loadMain(["--duration=-5"], "fibc load"), 2);
      assert.equal(await loadMain(["--duration", "-5"], "fibc load"), 2); // node:util's parser takes -5 for an option
      assert.equal(await loadMain(["--faults", "kill,meteor"], "fibc load"), 2);
      assert.equal(await loadMain(["--dir", join(dir, "nothing-here")], "fibc load"), 2);
      assert.equal(await loadMain(["--dir", dead], "fibc load"), 4);
    } finally {
      console.error = error;
    }
    assert.match(errors.join("\n"), /--rate must be a positive number, got "0"/);
    assert.match(errors.join("\n"), /--duration must be a positive number, got "-5"/);
    assert.match(errors.join("\n"), /"meteor" is none of them/);
    assert.match(errors.join("\n"), /chain 31001 of the devnet in .* does not answer/);
  });

  it("under load with every kind of fault, one at a time, splits no swap, loses no wei and ends every swap by its expiry plus 50 blocks", async () => {
    const lines: string[] = [];
    const report = await runLoad(
      parameters({
        durationSeconds: 45,
        chaos: ["kill", "stall", "refuse", "cut"],
        faultTiming: { holdMs: [4_000, 6_000], gapMs: 2_000 },
        log: (line) => lines.push(line),
      }),
    );
    const context = `${JSON.stringify({ ...report, relayers: undefined }, null, 1)}\n${lines.slice(-30).join("\n")}`;
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "load-report.json"), "utf8")).offered, report.offered);

    // The invariants, from the chains' own records and balances.
    assert.equal(report.split, 0, context);
    assert.ok(Object.values(report.lostWei).every((wei) => wei === "0"), context);
    assert.ok(Object.values(report.misplacedWei).every((wei) => wei === "0"), context);
    assert.equal(Object.keys(report.lostWei).length, 6, "each chain's coin and token are accounted for");
    assert.equal(report.unended, 0, context);
    assert.equal(report.endedLate, 0, context);
    assert.equal(report.ok, true, context);

    // It did carry swaps through the faults: matched ones settled, the unmatched and late ones were cancelled.
    assert.ok(report.offered >= 40, context);
    assert.ok(report.settled > 0 && report.refunded > 0, context);
    const kinds = (phase: string) => new Set(report.faults.filter((f) => f.phase === phase).map((f) => f.kind));
    for (const kind of FAULT_KINDS.filter((k) => k !== "partition")) {
      assert.ok(kinds("begin").has(kind) && kinds("end").has(kind), `${kind} was injected and ended: ${JSON.stringify(report.faults)}`);
    }
    // The killed relayer was restarted and measured across both of its processes.
    assert.ok(report.relayers.some((r) => r.restarts > 0), JSON.stringify(report.relayers));
    assert.equal(report.relayers.length, 12);
    assertShape(report);
  });
});

function assertShape(report: LoadReport): void {
  assert.ok(report.latency !== null);
  assert.ok(report.latency.blocks.p50 > 0 && report.latency.blocks.p50 <= report.latency.blocks.p95 && report.latency.blocks.p95 <= report.latency.blocks.max);
  assert.ok(report.swapsPerMinute > 0);
  assert.ok(report.faults.every((f) => !Number.isNaN(Date.parse(f.at))));
}
