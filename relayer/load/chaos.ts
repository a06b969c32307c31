import { setTimeout as sleep } from "node:timers/promises";
import type { Address } from "viem";
import type { Devnet, DevnetFile } from "../devnet/devnet.js";
import { signal } from "../devnet/processes.js";
import { processTree } from "../devnet/processUsage.js";
import { seededRandom } from "../sim/seededRandom.js";
import type { FaultNet } from "./faultNet.js";
import type { NetnsHosts } from "./netns.js";

/**
 * The faults a load run injects: `kill`, kill -9 of a relayer, restarted after the hold; `stall`, a chain's process stopped
 * (SIGSTOP) and continued; `refuse`, a chain's JSON-RPC refusing its relayers; `cut`, every link of a relayer (to its chain
 * and its peers) cut and restored; `partition`, a chain's host (network namespace) cut off from the other chains' hosts.
 */
export const FAULT_KINDS = ["kill", "stall", "refuse", "cut", "partition"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One line of the fault log: when (ISO time and seconds since the run began), what, on whom, and whether it began or ended. */
export type FaultEvent = { at: string; t: number; kind: FaultKind; target: string; phase: "begin" | "end"; note?: string };

export type ChaosParameters = {
  kinds: readonly FaultKind[];
  /** The faults, their targets and their lengths are drawn from this seed alone: the same seed replays the same faults. */
  seed: number;
  devnet: Devnet;
  file: DevnetFile;
  /** Needed for `refuse` and `cut`. */
  faultNet?: FaultNet;
  /** Needed for `partition`. */
  hosts?: NetnsHosts;
  /** Each fault lasts a time drawn from this range, in ms; default 8–16 s (a stall longer than a view interval of 16 blocks of 500 ms). */
  holdMs?: readonly [number, number];
  /** A `partition` lasts this long instead; default 60 s. */
  partitionMs?: number;
  /** Quiet time between two faults, in ms; default 5 s. */
  gapMs?: number;
  log: (line: string) => void;
};

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Injects faults into a running devnet one at a time, each ended before the next begins, so that a committee of q ≥ 4
 * never loses more than one member at once (below its threshold the chain's swaps would wait, not break: that is a
 * different run). Every fault is logged with its timestamps, and the sequence is a function of the seed.
 */
export class Chaos {
  readonly events: FaultEvent[] = [];
  readonly #p: ChaosParameters;
  readonly #t0 = Date.now();
  #stopping = false;
  #loop: Promise<void> | undefined;
  readonly #wake = new AbortController();

  constructor(p: ChaosParameters) {
    if (p.kinds.length === 0) throw new Error("chaos needs at least one kind of fault");
    if ((p.kinds.includes("refuse") || p.kinds.includes("cut")) && p.faultNet === undefined) throw new Error("refuse and cut need the devnet's links to run through a FaultNet");
    if (p.kinds.includes("partition") && p.hosts === undefined) throw new Error("partition needs hosts of their own (--netns)");
    this.#p = p;
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Ends the fault in progress (restarts, continues, restores) and stops injecting; resolves when everything is whole again. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { kinds, seed, holdMs = [8_000, 16_000], partitionMs = 60_000, gapMs = 5_000 } = this.#p;
    const random = seededRandom(seed);
    // Every kind once per round, in an order drawn anew each round: a short run still sees each of them.
    let round: FaultKind[] = [];
    while (!this.#stopping) {
      await this.#pause(gapMs);
      if (this.#stopping) return;
      if (round.length === 0) round = shuffled(kinds, random);
      const kind = round.shift()!;
      const hold = kind === "partition" ? partitionMs : holdMs[0] + Math.floor(random() * (holdMs[1] - holdMs[0]));
      const fault = this.#fault(kind, random);
      this.#event(kind, fault.target, "begin", `for ${(hold / 1000).toFixed(1)} s`);
      await fault.begin();
      await this.#pause(hold);
      await fault.end();
      this.#event(kind, fault.target, "end");
    }
  }

  /** What one fault does to whom, drawn from `random`. */
  #fault(kind: FaultKind, random: () => number): { target: string; begin: () => Promise<void>; end: () => Promise<void> } {
    const { devnet, file, faultNet, hosts } = this.#p;
    const chain = Math.floor(random() * file.chains.length);
    const relayer = file.relayers[Math.floor(random() * file.relayers.length)]!;
    const chainName = `chain ${file.chains[chain]!.chainId}`;
    const relayerName = `relayer ${relayer.address} of chain ${relayer.chainId}`;
    switch (kind) {
      case "kill":
        return { target: relayerName, begin: () => devnet.crashRelayer(relayer.config), end: async () => void (await devnet.restartRelayer(relayer.config)) };
      case "stall": {
        // Chains started in parallel are listed in the order they answered: find this one by its id.
        const pid = devnet.chains.find((c) => String(c.chainId) === file.chains[chain]!.chainId)!.pid;
        // The node and whatever it started: a stopped chain answers nothing, and its blocks stop.
        const tree = () => processTree(pid);
        return {
          target: chainName,
          begin: async () => tree().forEach((p) => signal(p, "SIGSTOP")),
          end: async () => tree().forEach((p) => signal(p, "SIGCONT")),
        };
      }
      case "refuse":
        return { target: `${chainName}'s JSON-RPC`, begin: async () => faultNet!.refuseRpc(chain), end: async () => faultNet!.restoreRpc(chain) };
      case "cut":
        return { target: relayerName, begin: async () => faultNet!.isolate(relayer.address as Address), end: async () => faultNet!.rejoin(relayer.address as Address) };
      case "partition":
        return { target: chainName, begin: () => hosts!.partition(chain), end: () => hosts!.heal(chain) };
    }
  }

  #event(kind: FaultKind, target: string, phase: "begin" | "end", note?: string): void {
    const now = Date.now();
    const event: FaultEvent = { at: new Date(now).toISOString(), t: Math.round((now - this.#t0) / 100) / 10, kind, target, phase, ...(note === undefined ? {} : { note }) };
    this.events.push(event);
    this.#p.log(`chaos: ${phase === "begin" ? "begins" : "ends"} ${kind} of ${target}${note === undefined ? "" : ` ${note}`}`);
  }

  /** Sleeps `ms`, or less when `stop` is called. */
  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#wake.signal }).catch(() => {});
  }
}
