/**
 * The paper's simulation grid (section VII.A, Table I) on the relayer's own protocol code: every cell
 * n_t_s (n systems, cross-chain tasks in t·10 % of blocks, gossip send rate s·10 %) runs GossipOverlay,
 * ViewList and RequestChannel over in-memory transports with a simulated clock (relayer/sim/gridCell.ts).
 * `npm run bench` runs it (scripts/bench.ts); `--quick` runs QUICK_CELLS.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { CellWorkerReply, CellWorkerRequest } from "../../relayer/sim/cellWorker.js";
import { processCpuMs } from "../../relayer/sim/cpuTime.js";
import type { GapSummary } from "../../relayer/sim/gapHistogram.js";
import { CELL_DEFAULTS, simulateCell, type CellResult, type SystemResult } from "../../relayer/sim/gridCell.js";
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

/** Cells run at a time by default: two worker threads on a machine of two cores or more, else one thread. */
export const GRID_WORKERS = Math.min(2, availableParallelism());

/** The worker thread's module, beside the simulator (TypeScript under tsx, JavaScript once built). */
const CELL_WORKER = new URL(`../../relayer/sim/cellWorker.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url);
/**
 * What a worker needs to load TypeScript: tsx, which a thread starts with only when the process was started with it on
 * the command line (the tsx command, or --import tsx), not when a host registered it in process (hardhat's test runner).
 */
const WORKER_EXEC_ARGV = import.meta.url.endsWith(".ts") && !process.execArgv.some((arg) => arg.includes("tsx")) ? [...process.execArgv, "--import", import.meta.resolve("tsx")] : process.execArgv;

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
  /** secp256k1 work of the whole grid (cells of one seed share their chains, so each signature is made once). */
  work: SignatureWork;
  /** Threads the cells ran in. */
  workers: number;
  wallMs: number;
  /** CPU time of the process, every thread's. */
  cpuMs: number;
};

export type SimulateGridParameters = {
  cells: readonly CellSpec[];
  blocks: number;
  seed?: number;
  /**
   * Worker threads that run the cells side by side (cells are independent): GRID_WORKERS by default. With one, the
   * cells run one after another in this thread.
   */
  workers?: number;
  log?: (line: string) => void;
};

export async function simulateGrid({ cells, blocks, seed = 1, workers = GRID_WORKERS, log = () => {} }: SimulateGridParameters): Promise<GridResult> {
  const started = performance.now();
  const cpuBefore = processCpuMs();
  // A cell's line is logged when it is done (in two workers the costliest go first), numbered by its place in the grid.
  const finished: (GridCell | undefined)[] = cells.map(() => undefined);
  const onCell = (id: number, result: CellResult) => {
    const cell = (finished[id] = gridCell(cells[id]!, result));
    log(
      `[${id + 1}/${cells.length}] ${cell.name}: ${cell.successfulTasks}/${cell.tasks} tasks, ${fmt(cell.messagesPerTask)} msgs/task, ` +
        `${fmt(cell.requestsPerSystem)} requests and ${fmt(cell.gossipPerSystem)} gossip per system, ` +
        `system gap mean ${fmt(cell.systemGap.mean, 2)} p95 ${cell.systemGap.p95} max ${cell.systemGap.max}, node gap mean ${fmt(cell.gap.mean, 2)} p95 ${cell.gap.p95} ` +
        `(${seconds(cell.wallMs)} s, CPU ${seconds(cell.cpuMs)} s)`,
    );
  };
  const work = workers > 1 ? await runInWorkers({ cells, blocks, seed, workers, onCell }) : await runHere({ cells, blocks, seed, onCell });
  const results = finished.map((cell) => cell!);
  return {
    blocks,
    seed,
    q: CELL_DEFAULTS.q,
    k: CELL_DEFAULTS.k,
    signEvery: CELL_DEFAULTS.signEvery,
    cells: results,
    scaleRatio: scaleRatios(results),
    work,
    workers: Math.max(1, workers),
    wallMs: performance.now() - started,
    cpuMs: processCpuMs() - cpuBefore,
  };
}

type RunCells = { cells: readonly CellSpec[]; blocks: number; seed: number; onCell: (id: number, result: CellResult) => void };

/** Every cell in this thread, in order, with one cache: a cell signs only what the cells before it had not. */
async function runHere({ cells, blocks, seed, onCell }: RunCells): Promise<SignatureWork> {
  const cache = new SignatureCache();
  for (const [id, spec] of cells.entries()) onCell(id, await simulateCell({ ...spec, blocks, seed, cache }));
  return { ...cache.work };
}

/**
 * The cells in `workers` worker threads (relayer/sim/cellWorker.ts). First each worker certifies its share of the
 * grid's chains (system i goes to worker i mod workers) and adopts the others' shares, so that each signature is made
 * once, as in one thread; then the cells go out costliest first (largest n, then task rate and send rate), each to the
 * worker that is free, so that the last to finish are short ones. A cell's figures do not depend on where it ran: its
 * cache only saves work (signatures are deterministic).
 */
async function runInWorkers({ cells, blocks, seed, workers, onCell }: RunCells & { workers: number }): Promise<SignatureWork> {
  const pool = Array.from({ length: Math.min(workers, cells.length) }, () => new Worker(CELL_WORKER, { execArgv: WORKER_EXEC_ARGV }));
  const failed = new Promise<never>((_, reject) => {
    for (const worker of pool) {
      worker.on("error", reject);
      worker.on("exit", (code) => reject(new Error(`a grid worker stopped (exit code ${code}) before the grid was done`)));
    }
  });
  failed.catch(() => {}); // awaited below, in a race with the work
  const reply = (worker: Worker) => Promise.race([new Promise<CellWorkerReply>((resolve) => worker.once("message", resolve)), failed]);
  const ask = (worker: Worker, request: CellWorkerRequest) => worker.postMessage(request);
  const work: SignatureWork = { signatures: 0, signingMs: 0, verifications: 0, verifyingMs: 0, verificationsShared: 0 };
  const add = (more: SignatureWork) => {
    for (const key of Object.keys(work) as (keyof SignatureWork)[]) work[key] += more[key];
  };
  try {
    const systems = Math.max(...cells.map((c) => c.n));
    const shares = await Promise.all(
      pool.map(async (worker, w) => {
        const indices = Array.from({ length: systems }, (_, i) => i).filter((i) => i % pool.length === w);
        ask(worker, { kind: "certify", indices, blocks, seed, ...CELL_DEFAULTS });
        const answer = await reply(worker);
        if (answer.kind !== "certified") throw new Error(`a grid worker answered ${answer.kind} to certify`);
        add(answer.work);
        return answer.shared;
      }),
    );
    pool.forEach((worker, w) => shares.forEach((shared, other) => other !== w && ask(worker, { kind: "adopt", shared })));
    shares.length = 0; // posted (copied): some hundreds of MB that this thread need not keep while the cells run

    const queue = [...cells.keys()].sort((a, b) => cost(cells[b]!) - cost(cells[a]!));
    await Promise.all(
      pool.map(async (worker) => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          ask(worker, { kind: "cell", id, parameters: { ...cells[id]!, blocks, seed } });
          const answer = await reply(worker);
          if (answer.kind !== "cell" || answer.id !== id) throw new Error(`a grid worker answered ${answer.kind} to cell ${id}`);
          add(answer.result.work);
          onCell(id, answer.result);
        }
      }),
    );
  } finally {
    for (const worker of pool) worker.removeAllListeners("exit");
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
  return work;
}

/** The order of a cell's cost: gossip grows with n² and the send rate, requests with n and the task rate. */
const cost = ({ n, taskRate, sendRate }: CellSpec) => n * (n * sendRate + taskRate);

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
