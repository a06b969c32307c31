import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { basename, isAbsolute } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Devnet, type DevnetFile, type DevnetStatus } from "../../relayer/devnet/devnet.js";
import { CLOCK_TICKS, cpuTicks, memoryKB, processTree, startedAtSeconds, uptimeSeconds } from "../../relayer/devnet/processUsage.js";

export type RelayerIdleParameters = {
  chains: number;
  validatorsPerChain: number;
  blockMs: number;
  basePort: number;
  dir: string;
  /** How long the relayers run after settling before they are sampled: a started process compiles its hot code first. */
  warmupSeconds: number;
  /** How long the CPU time and memory of the idle relayers are sampled. */
  idleSeconds: number;
  log: (line: string) => void;
};

/** What the `relayers` part of bench-results.json holds. */
export type RelayerIdleResult = {
  chains: number;
  validators: number;
  blockMs: number;
  /**
   * CPU time of each relayer process (with its children) over `idleSeconds` after `warmupSeconds`, in percent of one core:
   * mean and highest over the relayers.
   */
  idleCpuPercent: number;
  maxIdleCpuPercent: number;
  /** The same over the warm-up, right after the relayers settled: what V8's compiling of the hot code adds at first. */
  warmupCpuPercent: number;
  /** Highest resident memory (VmRSS) of any relayer process (with its children) while sampled. */
  rssMB: number;
  /**
   * Highest proportional set size of any relayer process (with its children): its own memory plus its share of the pages
   * it shares with other processes, chiefly the Node binary's code that every relayer maps (about 50 MB of each VmRSS).
   */
  pssMB: number;
  /** From the first relayer process's start to every relayer answering GET /status. */
  startSeconds: number;
  warmupSeconds: number;
  idleSeconds: number;
  /** The machine's 1-minute load average when the sampling ended: on a shared machine the CPU figures grow with it. */
  loadAverage: number;
  /** The relayers' command line up to --config, absolute paths by their file names, after their MALLOC_ARENA_MAX. */
  command: string;
  goals: { idleCpuPercent: number; rssMB: number };
  met: { idleCpuPercent: boolean; rssMB: boolean };
};

export const RELAYER_GOALS = { idleCpuPercent: 1.0, rssMB: 100 } as const;
/** How often resident memory is read while the relayers idle. */
const SAMPLE_MS = 2_000;
/** How long the relayers get to connect to every peer and certify a view of their chain before the idle time is sampled. */
const SETTLE_TIMEOUT_MS = 120_000;

/**
 * The cost of relayers doing nothing: a devnet of `chains` hardhat node chains with `validatorsPerChain` relayer processes
 * each (the devnet `fibc devnet up` starts), no swaps; once every relayer has connected to all its peers and certified a
 * view of its chain and has run `warmupSeconds` more, the CPU time (utime + stime in /proc/<pid>/stat, children included)
 * and resident memory (VmRSS) of every relayer process over `idleSeconds`. Linux only: it reads /proc.
 */
export async function measureRelayerIdle(p: RelayerIdleParameters): Promise<RelayerIdleResult> {
  const devnet = new Devnet();
  try {
    p.log(`relayers: starting ${p.chains} chains with ${p.validatorsPerChain} relayer processes each (${p.blockMs} ms blocks)`);
    const file = await devnet.up({ chains: p.chains, validatorsPerChain: p.validatorsPerChain, basePort: p.basePort, k: 16, blockMs: p.blockMs, dir: p.dir });
    // Every relayer answers GET /status now; the kernel knows when each process started, to 1/CLK_TCK of a second.
    const startSeconds = uptimeSeconds() - Math.min(...file.relayers.map((r) => startedAtSeconds(r.process.pid)));
    p.log(`relayers: ${file.relayers.length} relayers answer ${startSeconds.toFixed(1)} s after the first started; waiting until each has certified a view and reached every peer`);
    await settled(devnet, p.dir, file);
    const pids = file.relayers.map((r) => r.process.pid);
    const rss = pids.map(() => 0);
    const pss = pids.map(() => 0);
    const sample = () => pids.map((pid, i) => {
      const tree = processTree(pid);
      if (tree.length === 0) throw new Error(`relayer process ${pid} (${file.relayers[i]!.config}) ended while idle; see ${file.relayers[i]!.log}`);
      rss[i] = Math.max(rss[i]!, tree.reduce((sum, q) => sum + memoryKB(`/proc/${q}/status`, "VmRSS"), 0));
      pss[i] = Math.max(pss[i]!, tree.reduce((sum, q) => sum + memoryKB(`/proc/${q}/smaps_rollup`, "Pss"), 0));
      return { at: uptimeSeconds(), ticks: tree.reduce((sum, q) => sum + cpuTicks(q), 0) };
    });
    /** Each relayer's CPU in percent of a core over `seconds` from now, sampled every SAMPLE_MS. */
    const cpuOver = async (seconds: number) => {
      const first = sample();
      const deadline = Date.now() + seconds * 1000;
      while (Date.now() < deadline) {
        await sleep(Math.min(SAMPLE_MS, Math.max(0, deadline - Date.now())));
        sample();
      }
      const last = sample();
      return pids.map((_, i) => (100 * (last[i]!.ticks - first[i]!.ticks)) / CLOCK_TICKS / (last[i]!.at - first[i]!.at));
    };
    const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / xs.length);
    p.log(`relayers: letting the relayers warm up for ${p.warmupSeconds} s`);
    const warmup = await cpuOver(p.warmupSeconds);
    p.log(`relayers: sampling CPU time and memory of the idle relayers for ${p.idleSeconds} s`);
    const cpu = await cpuOver(p.idleSeconds);
    const idleCpuPercent = mean(cpu);
    const rssMB = round(Math.max(...rss) / 1024);
    return {
      chains: p.chains,
      validators: p.validatorsPerChain,
      blockMs: p.blockMs,
      idleCpuPercent,
      maxIdleCpuPercent: round(Math.max(...cpu)),
      warmupCpuPercent: mean(warmup),
      rssMB,
      pssMB: round(Math.max(...pss) / 1024),
      startSeconds: round(startSeconds),
      warmupSeconds: p.warmupSeconds,
      idleSeconds: p.idleSeconds,
      loadAverage: round(loadavg()[0]!),
      command: commandOf(pids[0]!),
      goals: { ...RELAYER_GOALS },
      met: { idleCpuPercent: idleCpuPercent <= RELAYER_GOALS.idleCpuPercent, rssMB: rssMB <= RELAYER_GOALS.rssMB },
    };
  } finally {
    await devnet.stop();
  }
}

/** Waits until every relayer has certified a view of its chain past height 0 and is connected to all its peers. */
async function settled(devnet: Devnet, dir: string, file: DevnetFile): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  const ready = (s: DevnetStatus) =>
    s.relayers.every((r) => r.alive && r.status !== "down" && BigInt(r.status.certifiedHeight ?? "0") > 0n && r.status.peers.connected === r.status.peers.expected);
  for (;;) {
    const status = await devnet.status({ dir });
    if (status.relayers.length === file.relayers.length && ready(status)) return;
    if (Date.now() > deadline) throw new Error(`relayers not settled within ${SETTLE_TIMEOUT_MS / 1000} s: ${JSON.stringify(status.relayers)}`);
    await sleep(500);
  }
}

/**
 * The command line of `pid` up to --config, absolute paths shortened to their file names, after the malloc setting of its
 * environment ("MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 dist/relayer.mjs"): what a user runs to get the same process.
 */
function commandOf(pid: number): string {
  const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  const arenas = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").find((entry) => entry.startsWith("MALLOC_ARENA_MAX="));
  return [...(arenas === undefined ? [] : [arenas]), ...args.slice(0, args.indexOf("--config")).map((a) => (isAbsolute(a) ? basename(a) : a))].join(" ");
}

const round = (x: number) => Math.round(x * 100) / 100;
