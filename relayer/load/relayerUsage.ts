import type { RelayerProcess } from "../devnet/relayerProcess.js";
import { CLOCK_TICKS, cpuTicks, memoryKB, processTree } from "../devnet/processUsage.js";

/** What one relayer cost during a load run: CPU in percent of one core (over every incarnation), highest resident memory, restarts. */
export type RelayerUsage = { config: string; chainId: string; cpuPercent: number; rssMB: number; restarts: number };

/**
 * Samples the CPU time and resident memory of a devnet's relayer processes (with their children) every `everyMs`, from
 * /proc. A relayer killed and restarted is followed into its new process: its CPU time adds up over both.
 */
export class RelayerUsageSampler {
  readonly #relayers: () => readonly RelayerProcess[];
  readonly #everyMs: number;
  readonly #byConfig = new Map<string, { chainId: string; pid: number; lastTicks: number; ticks: number; rssKB: number; restarts: number }>();
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #stoppedAt = 0;

  constructor(relayers: () => readonly RelayerProcess[], everyMs = 2_000) {
    this.#relayers = relayers;
    this.#everyMs = everyMs;
  }

  start(): void {
    this.#startedAt = Date.now();
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.#everyMs);
  }

  stop(): RelayerUsage[] {
    clearInterval(this.#timer);
    this.#sample();
    this.#stoppedAt = Date.now();
    const seconds = Math.max(1e-3, (this.#stoppedAt - this.#startedAt) / 1000);
    return [...this.#byConfig].map(([config, u]) => ({
      config,
      chainId: u.chainId,
      cpuPercent: Math.round((10_000 * u.ticks) / CLOCK_TICKS / seconds) / 100,
      rssMB: Math.round((100 * u.rssKB) / 1024) / 100,
      restarts: u.restarts,
    }));
  }

  #sample(): void {
    for (const r of this.#relayers()) {
      const tree = processTree(r.pid);
      if (tree.length === 0) continue;
      const ticks = tree.reduce((sum, p) => sum + Math.max(0, cpuTicks(p)), 0);
      const rssKB = tree.reduce((sum, p) => sum + memoryKB(`/proc/${p}/status`, "VmRSS"), 0);
      const known = this.#byConfig.get(r.config);
      if (known === undefined) {
        // First seen (at start): its CPU time counts from now.
        this.#byConfig.set(r.config, { chainId: r.chainId, pid: r.pid, lastTicks: ticks, ticks: 0, rssKB, restarts: 0 });
        continue;
      }
      if (known.pid !== r.pid) {
        known.pid = r.pid;
        known.lastTicks = 0; // a restarted relayer's CPU time counts from its start
        known.restarts++;
      }
      known.ticks += Math.max(0, ticks - known.lastTicks);
      known.lastTicks = ticks;
      known.rssKB = Math.max(known.rssKB, rssKB);
    }
  }
}
