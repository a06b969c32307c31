/**
 * The benchmarks of the paper's section VII and against the alternatives, in one run:
 *   1. the paper's grid (Table I, Figures 5 and 6) on the relayer's own protocol code over in-memory transports and a simulated clock,
 *      and what view heads save in gossip bytes (two cells at k = 5 and k = 16, each with and without them);
 *   2. the same measurement on real chains: hardhat node and relayer processes over WebSockets, side by side with the
 *      simulation of the same cells and parameters (skipped by --quick);
 *   3. gas: one swap of this framework (alone, and per swap in batches of ten) against a hashed-timelock swap on the same
 *      chains, submitView by committee size, and one proof step (the same measurement as `npm run gas`);
 *   4. relayers: what relayer processes cost doing nothing: 3 chains × 4 relayers with 500 ms blocks, their start time, CPU
 *      time over 60 s idle and resident memory (skipped by --quick).
 * Writes bench-results.json and the SVG charts under docs/bench/ (paths in the JSON), which the README shows.
 *   npm run bench                the 27 cells × 10,000 blocks, real cells 3_1_3, 5_1_3 and 10_1_3, idle relayers (well over an hour on 2 cores)
 *   npm run bench -- --quick     five cells × 200 blocks, n = 3 and n = 10 among them, no real chains (under 2 minutes)
 *   npm run bench -- --parts real,gas   only those parts; the other parts of an existing bench-results.json are kept
 *   npm run bench -- --json      the results object alone on stdout (as written to bench-results.json), the progress on stderr
 * A terminal shows a live line under the progress (the part, the grid's cells done, a real cell's blocks, the time); a pipe or
 * CI gets plain lines. A failure says {error, exitCode, revert} on stdout under --json; bad options exit 2.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createPublicClient, http } from "viem";
import { cliFailure, EXIT, failureJson } from "../relayer/devnet/cliFailure.js";
import { DEFAULT_RATES } from "../relayer/config/nodeConfig.js";
import { readDevnetFile } from "../relayer/devnet/devnet.js";
import { ProgressLine } from "../relayer/devnet/progressLine.js";
import { RelayerError } from "../relayer/util/relayerError.js";
import { simulateCell } from "../relayer/sim/gridCell.js";
import { writeCharts } from "./bench/charts.js";
import { measureGasCosts } from "./bench/gasCosts.js";
import { measureRealCell, type RealCellResult } from "./bench/realCell.js";
import { measureRelayerIdle } from "./bench/relayerIdle.js";
import { measureViewHeads } from "./bench/viewHeadSavings.js";
import { cellName, FULL_BLOCKS, FULL_CELLS, GRID_WORKERS, gridTable, QUICK_BLOCKS, QUICK_CELLS, simulateGrid, type CellSpec } from "./bench/simulateGrid.js";

const RESULTS = fileURLToPath(new URL("../bench-results.json", import.meta.url));
const CHARTS = fileURLToPath(new URL("../docs/bench/", import.meta.url));
/** Real cells: the paper's 5_1_3, the same rates at n = 3 and at n = 10; q = 3 keeps the relayer processes as few as can be. */
const REAL_CELLS: readonly CellSpec[] = [
  { n: 3, taskRate: 0.1, sendRate: 0.3 },
  { n: 5, taskRate: 0.1, sendRate: 0.3 },
  { n: 10, taskRate: 0.1, sendRate: 0.3 },
];
/**
 * The simulated committee of a real cell certifies as the relayers' Cosigner does: the view of every `viewSignEvery`-th
 * block unasked (the pacemaker's), and the head for every check() it answers.
 */
const REAL = { q: 3, k: 16, blocks: 200, blockMs: 500, ttl: 100, signEvery: DEFAULT_RATES.viewSignEvery } as const;

/** Blocks of each simulation that measures what view heads save (scripts/bench/viewHeadSavings.ts). */
const VIEW_HEAD_BLOCKS = 600;

/** The idle relayers: the devnet `fibc devnet up` starts by default. */
const IDLE = { chains: 3, validatorsPerChain: 4, blockMs: 500, warmupSeconds: 60, idleSeconds: 60, basePort: 25_000 } as const;

const PARTS = ["grid", "real", "gas", "relayers"] as const;
type Part = (typeof PARTS)[number];
const json = process.argv.includes("--json");
// With --json, stdout carries the results alone; the progress, and the live line on a terminal, go to stderr.
const progress = new ProgressLine(json ? process.stderr : process.stdout);
/** Says a failure (and, with --json, prints it as JSON) and sets the exit code. */
const failed = (failure: { message: string; exitCode: number }, error: unknown) => {
  progress.done();
  console.error(`bench: ${failure.message}`);
  if (json) console.log(failureJson(failure, error));
  process.exitCode = failure.exitCode;
};
let parsed;
try {
  parsed = parseArgs({ options: { quick: { type: "boolean", default: false }, parts: { type: "string", default: PARTS.join(",") }, json: { type: "boolean", default: false } } });
} catch (error) {
  failed({ message: error instanceof Error ? error.message : String(error), exitCode: EXIT.usage }, error);
  process.exit();
}
const { values } = parsed;
const parts = new Set(values.parts.split(",").map((p) => p.trim()));
for (const p of parts) {
  if (!(PARTS as readonly string[]).includes(p)) {
    failed({ message: `--parts: unknown part ${JSON.stringify(p)}; the parts are ${PARTS.join(", ")}`, exitCode: EXIT.usage }, undefined);
    process.exit();
  }
}
const runs = (part: Part) => parts.has(part);
/** What an earlier run wrote: the parts this run skips are kept from it. */
const earlier: Record<string, unknown> = existsSync(RESULTS) ? (JSON.parse(await readFile(RESULTS, "utf8")) as Record<string, unknown>) : {};
const started = Date.now();
const elapsed = () => `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s]`;

/** What the live line shows: the part, the grid's cells done, or the real cell whose chain's blocks are counted. */
const live: { part: string; cellsDone: number; cells: number; real?: { cell: string; url: string; from: bigint; blocks: number } | undefined } = { part: "starting", cellsDone: 0, cells: 0 };
const say = (line: string) => {
  progress.log(`${elapsed()} ${line}`);
  // The live line is a convenience: a head it cannot read leaves it as it was, never stops the bench.
  if (progress.live) follow(line).catch(() => undefined);
};
/** Follows the progress lines: a part starts ("2/4 real chains: …"), a grid cell ends ("[3/27] …"), a real cell runs or waits. */
async function follow(line: string): Promise<void> {
  const part = /^(\d\/4 [^:(]+)/.exec(line)?.[1];
  if (part !== undefined) live.part = part.trim();
  if (/^ {2}\[\d+\/\d+\] /.test(line)) live.cellsDone++;
  const running = /^ {2}real (\S+): running (\d+) blocks/.exec(line);
  if (running !== undefined && running !== null) {
    const url = (await readDevnetFile(fileURLToPath(new URL(`../.devnet/bench-${running[1]}`, import.meta.url)))).chains[0]!.url;
    const from = await createPublicClient({ transport: http(url) }).getBlockNumber({ cacheTime: 0 });
    live.real = { cell: running[1]!, url, from, blocks: Number(running[2]) };
  }
  if (/^ {2}real \S+: \d+ swaps started/.test(line)) live.real = undefined;
}
/** The live line, redrawn every second (a real cell's block is read from its first chain). */
const ticker = progress.live
  ? setInterval(async () => {
      const r = live.real;
      let detail = live.cells > 0 && live.part.startsWith("1/4") ? ` · ${live.cellsDone}/${live.cells} cells done` : "";
      if (r !== undefined) {
        const head = await createPublicClient({ transport: http(r.url, { retryCount: 0, timeout: 500 }) }).getBlockNumber({ cacheTime: 0 }).catch(() => undefined);
        detail = ` · ${r.cell}: block ${head === undefined ? "?" : Math.min(r.blocks, Number(head - r.from))} of ${r.blocks}`;
      }
      progress.update(`${elapsed()} ${live.part}${detail}`);
    }, 1_000)
  : undefined;

try {
  let gridPart: Record<string, unknown> | undefined;
  if (!runs("grid")) say("1/4 the paper's grid: not run (--parts); kept from the last run");
  else {
    say(`1/4 the paper's grid, simulated: ${values.quick ? `${QUICK_CELLS.length} cells × ${QUICK_BLOCKS}` : `${FULL_CELLS.length} cells × ${FULL_BLOCKS}`} blocks per system, ${GRID_WORKERS} cell${GRID_WORKERS > 1 ? "s" : ""} at a time`);
    live.cells = (values.quick ? QUICK_CELLS : FULL_CELLS).length;
    const grid = await simulateGrid({ cells: values.quick ? QUICK_CELLS : FULL_CELLS, blocks: values.quick ? QUICK_BLOCKS : FULL_BLOCKS, log: (line) => say(`  ${line}`) });
    await mkdir(CHARTS, { recursive: true });
    const charts = writeCharts(grid, CHARTS);
    const c513 = grid.cells.find((c) => c.name === "5_1_3");
    gridPart = {
      grid: grid.cells.map(({ systems: _systems, histogram: _histogram, ...cell }) => cell),
      scaleRatio: grid.scaleRatio,
      claims: {
        // The paper: for a given task rate, messages per task do not change with n (1 means they do not).
        messagesPerTaskIndependentOfN: grid.scaleRatio.map((r) => ({ cell: `${r.taskRate * 10}_${r.sendRate * 10}`, ratio: Number(r.ratio.toFixed(3)) })),
        // The paper: in 5_1_3 the expected gap is below 3 and k = 5 covers the worst case.
        gap5_1_3: c513 === undefined ? null : { mean: c513.gap.mean, p95: c513.gap.p95, max: c513.gap.max, meanBelow3: c513.gap.mean < 3, maxWithinK5: c513.gap.max <= 5 },
      },
      simulation: { quick: values.quick, blocks: grid.blocks, q: grid.q, k: grid.k, signEvery: grid.signEvery, seed: grid.seed, work: grid.work, workers: grid.workers, wallSeconds: Math.round(grid.wallMs / 1000), cpuSeconds: Math.round(grid.cpuMs / 1000) },
      charts,
    };
    progress.log(`\n${gridTable(grid)}\n`);
    say(`scale ratio (messages per task, largest n over smallest): ${grid.scaleRatio.map((r) => `${r.taskRate * 10}_${r.sendRate * 10} ${r.ratio.toFixed(2)}`).join(", ")}`);
    say("view heads: 5_1_3 and 10_1_3 at k = 5 and k = 16, each with whole views only and with heads");
    gridPart.viewHeads = await measureViewHeads({ blocks: values.quick ? QUICK_BLOCKS : VIEW_HEAD_BLOCKS, log: (line) => say(`  ${line}`) });
  }

  const real: { cell: string; real: RealCellResult; simulated: ReturnType<typeof sideOf> }[] = [];
  if (!runs("real") || values.quick) say(`2/4 real chains: not run (${values.quick ? "--quick" : "--parts"})`);
  else {
    say(`2/4 real chains: cells ${REAL_CELLS.map(cellName).join(", ")} on hardhat node and relayer processes (q = ${REAL.q}, ${REAL.blocks} blocks of ${REAL.blockMs} ms)`);
    for (const [i, spec] of REAL_CELLS.entries()) {
      const measured = await measureRealCell({ ...spec, ...REAL, basePort: 24_000 + i * 100, dir: fileURLToPath(new URL(`../.devnet/bench-${cellName(spec)}`, import.meta.url)), seed: 7, log: (line) => say(`  ${line}`) });
      // The simulation starts tasks until 2 × expiry + 10 blocks before its end, then lets them finish: the same tasks
      // window as the real run, which then waits for its swaps to end.
      const simulated = await simulateCell({ ...spec, q: REAL.q, k: REAL.k, blocks: REAL.blocks + 2 * REAL.ttl + 10, blockMs: REAL.blockMs, signEvery: REAL.signEvery, expiryBlocks: REAL.ttl, seed: 7 });
      real.push({ cell: cellName(spec), real: measured, simulated: sideOf(simulated) });
      say(
        `  ${cellName(spec)}: real ${measured.requestsPerTask} requests/task, ${(measured.gossipPerSystem / measured.blocksObserved).toFixed(1)} gossip per system per block, gap mean ${measured.gap.mean.toFixed(2)} p95 ${measured.gap.p95}; ` +
          `simulated ${simulated.requestsPerTask.toFixed(2)} requests/task, ${(simulated.systems.reduce((sum, x) => sum + x.gossip, 0) / simulated.systems.length / simulated.blocks).toFixed(1)} gossip per system per block, gap mean ${simulated.gap.mean.toFixed(2)} p95 ${simulated.gap.p95}`,
      );
    }
  }

  let gasPart: Record<string, unknown> | undefined;
  if (!runs("gas")) say("3/4 gas: not run (--parts)");
  else {
    say("3/4 gas: a swap of this framework (alone and in batches of ten) and a hashed-timelock swap; submitView by committee size; one proof step");
    const gas = await measureGasCosts({ log: (line) => say(`  ${line}`) });
    const { seconds: _seconds, ...figures } = gas;
    gasPart = { gas: figures };
    const fmt = (n: number) => n.toLocaleString("en-US");
    say(
      `gas of one swap: ${fmt(gas.swap.single.total)} alone, ${fmt(gas.swap.batched.perSwap)} per swap in batches of ${gas.swap.batched.size} ` +
        `(framework) vs ${fmt(gas.htlcSwap.total)} (HTLC): ${gas.ratios.singleOverHtlc.value}× and ${gas.ratios.batchedPerSwapOverHtlc.value}×`,
    );
  }

  let relayersPart: Record<string, unknown> | undefined;
  if (!runs("relayers") || values.quick) say(`4/4 idle relayers: not run (${values.quick ? "--quick" : "--parts"})`);
  else {
    say(`4/4 idle relayers: ${IDLE.chains} chains × ${IDLE.validatorsPerChain} relayer processes, ${IDLE.blockMs} ms blocks, ${IDLE.idleSeconds} s idle after ${IDLE.warmupSeconds} s of warm-up`);
    const relayers = await measureRelayerIdle({ ...IDLE, dir: fileURLToPath(new URL("../.devnet/bench-relayers", import.meta.url)), log: (line) => say(`  ${line}`) });
    relayersPart = { relayers };
    const verdict = (met: boolean) => (met ? "goal met" : "goal missed");
    say(
      `idle relayers (${relayers.command}): each uses ${relayers.idleCpuPercent} % of a core on average (at most ${relayers.maxIdleCpuPercent} %; goal ≤ ${relayers.goals.idleCpuPercent} %, ${verdict(relayers.met.idleCpuPercent)}) ` +
        `and at most ${relayers.rssMB} MB resident (goal ≤ ${relayers.goals.rssMB} MB, ${verdict(relayers.met.rssMB)}; ${relayers.pssMB} MB without the pages relayers share); ` +
        `all ${IDLE.chains * IDLE.validatorsPerChain} answered ${relayers.startSeconds} s after the first started; load average ${relayers.loadAverage} on ${availableParallelism()} cores`,
    );
  }

  const realPart = runs("real") && !values.quick ? { real, swapWallTime: real.map((r) => ({ cell: r.cell, ...r.real.swapTime })) } : undefined;
  const results = {
    ...earlier,
    ...gridPart,
    ...realPart,
    ...gasPart,
    ...relayersPart,
    ranAt: { ...(earlier.ranAt as Record<string, string> | undefined), ...Object.fromEntries([...parts].filter((p) => !values.quick || (p !== "real" && p !== "relayers")).map((p) => [p, new Date().toISOString()])) },
    durationSeconds: Math.round((Date.now() - started) / 1000),
  };
  await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  say(`results written to ${RESULTS}`);
  if (json) console.log(JSON.stringify(results, null, 2));
} catch (error) {
  failed(cliFailure(error, error instanceof RelayerError), error);
} finally {
  clearInterval(ticker);
  progress.done();
}

/** What the simulation says of a cell, in the real measurement's terms. */
function sideOf(c: Awaited<ReturnType<typeof simulateCell>>) {
  const mean = (pick: (s: (typeof c.systems)[number]) => number) => c.systems.reduce((sum, s) => sum + pick(s), 0) / c.systems.length;
  return {
    tasks: c.tasks,
    successfulTasks: c.successfulTasks,
    requestsPerTask: Number(c.requestsPerTask.toFixed(2)),
    requestsPerSystem: Number(mean((s) => s.requests).toFixed(1)),
    gossipPerSystem: Number(mean((s) => s.gossip).toFixed(1)),
    gossipPerSystemPerBlock: Number((mean((s) => s.gossip) / c.blocks).toFixed(2)),
    gap: c.gap,
  };
}
