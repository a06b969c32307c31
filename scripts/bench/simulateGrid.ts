/**
 * The paper's simulation grid (section VII.A, Table I) on the relayer's own protocol code: every cell
 * n_t_s (n systems, cross-chain tasks in t·10 % of blocks, gossip send rate s·10 %) runs GossipOverlay,
 * ViewList and RequestChannel over in-memory transports with a simulated clock (relayer/sim/gridCell.ts).
 * `npm run bench` runs it (scripts/bench.ts); `--quick` runs QUICK_CELLS.
 */
import type { GapSummary } from "../../relayer/sim/gapHistogram.js";
import { cpuMsSince } from "../../relayer/sim/cpuTime.js";
import { simulateCell, type CellResult, type SystemResult } from "../../relayer/sim/gridCell.js";
import { SignatureCache, type SignatureWork } from "../../relayer/sim/signatureCache.js";

/** One cell of the grid: the paper's three parameters. */
export type CellSpec = { n: number; taskRate: number; sendRate: number };

const SCALES = [3, 5, 10] as const;
const TASK_RATES = [0.1, 0.2, 0.4] as const;
const SEND_RATES = [0.1, 0.2, 0.3] as const;

/** Table I: n = 3/5/10, tasks in 10/20/40 % of blocks, send rate 10/20/30 %, in that nesting order. */
export const FULL_CELLS: readonly CellSpec[] = SCALES.flatMap((n) => TASK_RATES.flatMap((taskRate) => SEND_RATES.map((sendRate) => ({ n, taskRate, sendRate }))));
export const FULL_BLOCKS = 10_000;

/**
 * A grid that runs in well under a minute: both ends of the scale at the lowest and highest rates (so the
 * scale ratio has two points), and 5_1_3, the cell the paper draws k = 5 from.
 */
export const QUICK_CELLS: readonly CellSpec[] = [
  { n: 3, taskRate: 0.1, sendRate: 0.1 },
  { n: 3, taskRate: 0.4, sendRate: 0.3 },
  { n: 5, taskRate: 0.1, sendRate: 0.3 },
  { n: 10, taskRate: 0.1, sendRate: 0.1 },
  { n: 10, taskRate: 0.4, sendRate: 0.3 },
];
export const QUICK_BLOCKS = 200;

/** A cell as the paper names it: 5_1_3 is n = 5, tasks in 10 % of blocks, send rate 30 %. */
export const cellName = ({ n, taskRate, sendRate }: CellSpec): string => `${n}_${Math.round(taskRate * 10)}_${Math.round(sendRate * 10)}`;

export type GridCell = CellSpec & {
  name: string;
  blocks: number;
  tasks: number;
  successfulTasks: number;
  /** check() requests per successful task (both sides, every retry). */
  requestsPerTask: number;
  /** Request-channel messages (requests and answers) per successful task. */
  messagesPerTask: number;
  /** Means over the cell's systems of what each one's nodes sent during the run (the paper's Fig. 5). */
  requestsPerSystem: number;
  gossipPerSystem: number;
  messagesPerSystem: number;
  /** Every node's lag behind every other system, in blocks. */
  gap: GapSummary;
  /** Every system's lag behind every other system, its freshest node's (the paper's Fig. 6, where a system is one node). */
  systemGap: GapSummary;
  histogram: number[];
  systems: SystemResult[];
  incidents: Record<string, number>;
  wallMs: number;
  cpuMs: number;
};

/** For one task rate and send rate: messages per task at the largest scale over those at the smallest. */
export type ScaleRatio = { taskRate: number; sendRate: number; from: number; to: number; messagesPerTask: [number, number]; ratio: number };

export type GridResult = {
  blocks: number;
  seed: number;
  q: number;
  k: number;
  signEvery: number;
  cells: GridCell[];
  /** The paper's claim that a task costs the same at any scale: 1 means it does. */
  scaleRatio: ScaleRatio[];
  /** secp256k1 work of the whole grid (cells of one seed share their chains, so later cells reuse signatures). */
  work: SignatureWork;
  wallMs: number;
  cpuMs: number;
};

export type SimulateGridParameters = {
  cells: readonly CellSpec[];
  blocks: number;
  seed?: number;
  log?: (line: string) => void;
};

export async function simulateGrid({ cells, blocks, seed = 1, log = () => {} }: SimulateGridParameters): Promise<GridResult> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const cache = new SignatureCache();
  const results: GridCell[] = [];
  let last: CellResult | undefined;
  for (const [i, spec] of cells.entries()) {
    last = await simulateCell({ ...spec, blocks, seed, cache });
    const cell = gridCell(spec, last);
    results.push(cell);
    log(
      `[${i + 1}/${cells.length}] ${cell.name}: ${cell.successfulTasks}/${cell.tasks} tasks, ${fmt(cell.messagesPerTask)} msgs/task, ` +
        `${fmt(cell.requestsPerSystem)} requests and ${fmt(cell.gossipPerSystem)} gossip per system, ` +
        `system gap mean ${fmt(cell.systemGap.mean, 2)} p95 ${cell.systemGap.p95} max ${cell.systemGap.max}, node gap mean ${fmt(cell.gap.mean, 2)} p95 ${cell.gap.p95} ` +
        `(${seconds(cell.wallMs)} s, CPU ${seconds(cell.cpuMs)} s)`,
    );
  }
  return {
    blocks,
    seed,
    q: last?.q ?? 4,
    k: last?.k ?? 5,
    signEvery: last?.signEvery ?? 1,
    cells: results,
    scaleRatio: scaleRatios(results),
    work: { ...cache.work },
    wallMs: performance.now() - started,
    cpuMs: cpuMsSince(cpuBefore),
  };
}

function gridCell(spec: CellSpec, r: CellResult): GridCell {
  const mean = (pick: (s: SystemResult) => number) => r.systems.reduce((sum, s) => sum + pick(s), 0) / r.systems.length;
  return {
    ...spec,
    name: cellName(spec),
    blocks: r.blocks,
    tasks: r.tasks,
    successfulTasks: r.successfulTasks,
    requestsPerTask: r.requestsPerTask,
    messagesPerTask: r.messagesPerTask,
    requestsPerSystem: mean((s) => s.requests),
    gossipPerSystem: mean((s) => s.gossip),
    messagesPerSystem: mean((s) => s.messages),
    gap: r.gap,
    systemGap: r.systemGap,
    histogram: r.histogram,
    systems: r.systems,
    incidents: r.incidents,
    wallMs: r.wallMs,
    cpuMs: r.cpuMs,
  };
}

function scaleRatios(cells: readonly GridCell[]): ScaleRatio[] {
  const ratios: ScaleRatio[] = [];
  for (const taskRate of new Set(cells.map((c) => c.taskRate))) {
    for (const sendRate of new Set(cells.map((c) => c.sendRate))) {
      const same = cells.filter((c) => c.taskRate === taskRate && c.sendRate === sendRate && c.successfulTasks > 0).sort((a, b) => a.n - b.n);
      const [small, large] = [same[0], same.at(-1)];
      if (small === undefined || large === undefined || small.n === large.n) continue;
      ratios.push({ taskRate, sendRate, from: small.n, to: large.n, messagesPerTask: [small.messagesPerTask, large.messagesPerTask], ratio: large.messagesPerTask / small.messagesPerTask });
    }
  }
  return ratios;
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);
const fmt = (value: number, digits = 1) => value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The grid as a Markdown table, one row per cell. */
export function gridTable(grid: GridResult): string {
  const rows = [
    "| cell | tasks ok | requests/task | msgs/task | requests/system | gossip/system | msgs/system | gap mean | gap p95 | gap max | > k | node gap mean | node gap p95 | CPU s |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...grid.cells.map(
      (c) =>
        `| ${c.name} | ${c.successfulTasks}/${c.tasks} | ${fmt(c.requestsPerTask, 2)} | ${fmt(c.messagesPerTask, 2)} | ${fmt(c.requestsPerSystem)} | ${fmt(c.gossipPerSystem)} | ` +
        `${fmt(c.messagesPerSystem)} | ${fmt(c.systemGap.mean, 2)} | ${c.systemGap.p95} | ${c.systemGap.max} | ${(c.systemGap.aboveK * 100).toFixed(2)} % | ` +
        `${fmt(c.gap.mean, 2)} | ${c.gap.p95} | ${seconds(c.cpuMs)} |`,
    ),
  ];
  const ratios = grid.scaleRatio.map((r) => `- tasks ${r.taskRate * 100} %, send ${r.sendRate * 100} %: msgs/task n=${r.to} / n=${r.from} = ${fmt(r.messagesPerTask[1], 2)} / ${fmt(r.messagesPerTask[0], 2)} = ${r.ratio.toFixed(3)}`);
  return [...rows, "", "Scale ratio (messages per successful task):", ...ratios].join("\n");
}
