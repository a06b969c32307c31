import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Status } from "../chain/abis.js";
import { connect } from "../devnet/connect.js";
import { isFinal } from "../devnet/swap.js";
import { Devnet, readDevnetFile, type DevnetFile } from "../devnet/devnet.js";
import { DevnetError } from "../devnet/devnetError.js";
import { deriveSeed, seededRandom } from "../sim/seededRandom.js";
import { Chaos, type FaultEvent, type FaultKind } from "./chaos.js";
import { FaultNet } from "./faultNet.js";
import { checkHistory, readFees, readFinalStates, readHoldings, timeline, type HistoryVerdict, type SwapTimeline } from "./loadHistory.js";
import { prepareUsers, type LoadChain } from "./loadUsers.js";
import { createNetns, netnsUnavailable, type NetnsHosts } from "./netns.js";
import { OutcomeWatcher } from "./outcomeWatcher.js";
import { runIsolationScenario, type IsolationResult } from "./isolationScenario.js";
import { RelayerUsageSampler, type RelayerUsage } from "./relayerUsage.js";
import { SwapTraffic, type LoadSwap } from "./swapTraffic.js";

/** A load run cannot start as asked (bad numbers, no devnet, a dead endpoint): nothing was started. */
export class LoadError extends DevnetError {}

export type LoadRunParameters = {
  /** Run against the devnet that runs in this directory; undefined: start one of its own (`devnet`) and stop it at the end. */
  dir?: string;
  /** The devnet a run starts for itself. */
  devnet: { chains: number; validators: number; blockMs: number; k: number; basePort: number; dir: string };
  /** Swaps offered per minute, spread evenly over the run. */
  rate: number;
  durationSeconds: number;
  /** Blocks from a swap's offer to its expiry on each chain. */
  ttl: number;
  /** Load users (each registers one side at a time per chain). */
  users: number;
  seed: number;
  /** Faults injected while it runs (an own devnet only). */
  chaos: readonly FaultKind[];
  /** Each chain and its relayers in a network namespace of their own (root, iproute2); falls back to loopback with a message. */
  netns: boolean;
  /** How long a `partition` fault cuts its chain off; default 60 s. */
  partitionMs?: number;
  /** How long the other faults last and the quiet time between two (Chaos's defaults: 8–16 s and 5 s). */
  faultTiming?: { holdMs?: readonly [number, number]; gapMs?: number };
  /** A side ended more than this many blocks past its expiry counts as ended late; default 50. */
  graceBlocks?: number;
  /** Where the report goes; default load-report.json. */
  report: string;
  log: (line: string) => void;
  /** The live status line. */
  progress: (line: string) => void;
  /** Aborted (Ctrl-C): the run stops offering, stops what it started and still writes the report of what happened. */
  signal: AbortSignal;
};

export type Percentiles = { p50: number; p95: number; max: number };

/** load-report.json. */
export type LoadReport = {
  startedAt: string;
  config: { chains: number; validators: number; blockMs: number; rate: number; durationSeconds: number; ttl: number; users: number; seed: number; chaos: FaultKind[]; netns: boolean; ownDevnet: boolean };
  /** Swaps offered, and how they ended: settled (both sides released), refunded (nothing released: cancelled or refunded), not started (no side registered), unended. */
  offered: number;
  settled: number;
  refunded: number;
  notStarted: number;
  unended: number;
  /** Matched swaps with both sides registered, and the share of them settled: what the bridge answers for. */
  matchedRegistered: number;
  settledShare: number;
  split: number;
  lostWei: Record<string, string>;
  misplacedWei: Record<string, string>;
  endedLate: number;
  latency: { blocks: Percentiles; seconds: Percentiles } | null;
  /** Settled swaps per minute of offering, and offered per minute. */
  swapsPerMinute: number;
  offeredPerMinute: number;
  wallSeconds: number;
  /** Each relayer's CPU (percent of one core over the run) and highest resident memory, and their mean and highest. */
  relayers: RelayerUsage[];
  relayerCpuPercent: { mean: number; max: number } | null;
  relayerRssMB: { max: number } | null;
  faults: FaultEvent[];
  /** Every swap that broke an invariant or did not end, with its timeline. */
  failures: { split: SwapTimeline[]; lateAccepted: SwapTimeline[]; unended: SwapTimeline[]; endedLate: SwapTimeline[]; notStarted: SwapTimeline[] };
  interrupted: boolean;
  /** With --netns: section VI.B's isolation scenario, run after the load on the same hosts; null otherwise. */
  isolation?: IsolationResult | { error: string } | null;
  /** No split, nothing lost or misplaced, no late registration accepted. */
  ok: boolean;
};

/**
 * A load run: swaps between every pair of chains at `rate` per minute for `durationSeconds`, by users of its own, with
 * faults injected if asked; then it waits until every swap has ended (or its chains are `graceBlocks` past its expiry),
 * checks the history against the chains and writes the report.
 */
export async function runLoad(p: LoadRunParameters): Promise<LoadReport> {
  assertParameters(p);
  const graceBlocks = p.graceBlocks ?? 50;
  const startedAt = new Date();
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const { file, devnet, faultNet, hosts } = await devnetFor(p, cleanups);
    const { chains, users } = await prepareUsers({ chains: file.chains, owner: file.owner, count: p.users, log: p.log });
    const before = await readHoldings(chains, users);
    const watcher = new OutcomeWatcher(chains);
    await watcher.start();
    cleanups.push(() => watcher.stop());
    const usage = devnet === undefined ? undefined : new RelayerUsageSampler(() => devnet.relayers);
    usage?.start();
    const chaos =
      p.chaos.length === 0 || devnet === undefined
        ? undefined
        : new Chaos({ kinds: p.chaos, seed: deriveSeed(p.seed, "chaos"), devnet, file, ...(p.partitionMs === undefined ? {} : { partitionMs: p.partitionMs }), ...(p.faultTiming ?? {}), ...(faultNet === undefined ? {} : { faultNet }), ...(hosts === undefined ? {} : { hosts }), log: p.log });
    const traffic = new SwapTraffic({ chains, users, ttl: p.ttl, random: seededRandom(deriveSeed(p.seed, "traffic")) });

    p.log(`offering ${p.rate} swaps a minute between ${chains.length} chains for ${p.durationSeconds} s (ttl ${p.ttl} blocks, seed ${p.seed}${p.chaos.length > 0 ? `, faults: ${p.chaos.join(", ")}` : ""})`);
    chaos?.start();
    const t0 = Date.now();
    const intervalMs = 60_000 / p.rate;
    const status = () => progressLine(traffic.swaps, watcher, t0, p.durationSeconds);
    for (let n = 0; !p.signal.aborted; n++) {
      const due = t0 + n * intervalMs;
      if (due >= t0 + p.durationSeconds * 1000) break;
      while (Date.now() < due && !p.signal.aborted) {
        p.progress(status());
        await sleep(Math.max(0, Math.min(500, due - Date.now())), undefined, { signal: p.signal }).catch(() => {});
      }
      if (p.signal.aborted) break;
      traffic.offer();
    }
    const offeringSeconds = (Date.now() - t0) / 1000;
    p.log(`offered ${traffic.swaps.length} swaps in ${offeringSeconds.toFixed(0)} s${p.signal.aborted ? " (interrupted)" : ""}; ending the faults and waiting for every swap to end`);
    await chaos?.stop();
    await traffic.settled();
    if (!p.signal.aborted) await drain({ swaps: traffic.swaps, watcher, chains, graceBlocks, signal: p.signal, progress: () => p.progress(status()) });
    await watcher.stop();

    p.log("reading every contract, balance and fee from the chains to check the history");
    await readFinalStates(chains, traffic.swaps);
    for (const swap of traffic.swaps) {
      for (const side of swap.sides ?? []) {
        const seen = watcher.outcome(side.contractId);
        if (seen !== undefined) side.finishedAtMs = seen.atMs;
      }
    }
    const [after, fees] = await Promise.all([readHoldings(chains, users), readFees(chains, users)]);
    const verdict = checkHistory({ swaps: traffic.swaps, before, after, fees, graceBlocks: BigInt(graceBlocks) });
    const relayers = usage?.stop() ?? [];
    // Last, as it leaves a chain frozen everywhere: section VI.B's isolation on the same hosts.
    const isolation = hosts !== undefined && chains.length >= 3 && !p.signal.aborted ? await isolationOf(file, hosts, p) : null;
    const report = { ...reportOf({ p, startedAt, swaps: traffic.swaps, verdict, offeringSeconds, relayers, faults: chaos?.events ?? [], file }), isolation };
    await writeFile(p.report, JSON.stringify(report, null, 2) + "\n");
    return report;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => p.log(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`));
  }
}

function assertParameters(p: LoadRunParameters): void {
  const whole = (name: string, value: number, min: number) => {
    if (!Number.isFinite(value) || value < min) throw new LoadError(`${name} must be a number ≥ ${min}, got ${value}`);
  };
  whole("--rate (swaps per minute)", p.rate, Number.MIN_VALUE);
  whole("--duration (seconds)", p.durationSeconds, Number.MIN_VALUE);
  whole("--ttl (blocks)", p.ttl, 4);
  whole("--users", p.users, 2);
  if (p.dir !== undefined && p.chaos.length > 0) {
    throw new LoadError("--chaos needs a devnet of the load run's own (without --dir): it kills and restarts relayers and cuts links it set up itself");
  }
  if (p.dir !== undefined && p.netns) throw new LoadError("--netns starts a devnet of its own in network namespaces: leave out --dir");
  if (p.chaos.includes("partition") && !p.netns) throw new LoadError("a partition needs --netns");
}

/** The devnet to load: the running one in `p.dir` (checked reachable), or one of its own (in namespaces with --netns). */
async function devnetFor(p: LoadRunParameters, cleanups: (() => Promise<void>)[]): Promise<{ file: DevnetFile; devnet?: Devnet; faultNet?: FaultNet; hosts?: NetnsHosts }> {
  if (p.dir !== undefined) {
    const file = await readDevnetFile(p.dir).catch((error: unknown) => {
      throw new LoadError(error instanceof Error ? error.message : String(error), { cause: error });
    });
    if (file.chains.length < 2) throw new LoadError(`the devnet in ${resolve(p.dir)} has ${file.chains.length} chain: swaps need two`);
    for (const chain of file.chains) {
      await connect({ rpcUrl: chain.url, key: file.owner.key, timeoutMs: 3_000 }).catch((error: unknown) => {
        throw new LoadError(`chain ${chain.chainId} of the devnet in ${resolve(p.dir!)} does not answer on ${chain.url}: is the devnet up?`, { cause: error });
      });
    }
    p.log(`loading the running devnet in ${resolve(p.dir)} (${file.chains.length} chains, ${file.relayers.length} relayers)`);
    return { file };
  }
  let hosts: NetnsHosts | undefined;
  if (p.netns) {
    const why = netnsUnavailable();
    if (why === undefined) {
      hosts = await createNetns({ chains: p.devnet.chains, log: p.log });
      const made = hosts;
      cleanups.push(() => made.close());
      p.log(`each chain and its relayers run in a network namespace of their own: ${hosts.names.join(", ")}`);
    } else p.log(`--netns: ${why}; falling back to this host's loopback (partitions are not possible there)`);
  }
  // On loopback, every relayer link runs through a proxy the chaos can cut; namespaces are cut by their routes.
  const faultNet = hosts === undefined && (p.chaos.includes("refuse") || p.chaos.includes("cut")) ? new FaultNet() : undefined;
  if (faultNet !== undefined) cleanups.push(() => faultNet.close());
  const devnet = new Devnet({ log: (line) => p.log(`devnet: ${line}`) });
  cleanups.push(() => devnet.stop());
  const d = p.devnet;
  const file = await devnet.up({
    chains: d.chains,
    validatorsPerChain: d.validators,
    basePort: d.basePort,
    k: d.k,
    blockMs: d.blockMs,
    dir: d.dir,
    ...(hosts === undefined ? {} : { placement: hosts }),
    ...(faultNet === undefined ? {} : { links: faultNet }),
  });
  return { file, devnet, ...(faultNet === undefined ? {} : { faultNet }), ...(hosts === undefined ? {} : { hosts }) };
}

/** Runs the isolation scenario (chain 0 cut off while chain 1 shows a fork to chain 2); its failure is reported, not thrown. */
async function isolationOf(file: DevnetFile, hosts: NetnsHosts, p: LoadRunParameters): Promise<IsolationResult | { error: string }> {
  p.log("isolation (section VI.B): cutting chain 0 off while chain 1 shows a second branch to chain 2, then measuring how soon chain 0 freezes chain 1 once its links return");
  try {
    const result = await runIsolationScenario({ file, hosts, isolated: 0, forked: 1, victim: 2, partitionSeconds: (p.partitionMs ?? 60_000) / 1000, log: p.log });
    p.log(`isolation: chain ${result.isolated} froze chain ${result.forked} ${result.detectionBlocks ?? "never"} blocks after its links returned (bound ${result.boundBlocks})`);
    return result;
  } catch (error) {
    p.log(`isolation scenario failed: ${error instanceof Error ? error.message : String(error)}`);
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** Waits until every registered side has ended, or every chain is `graceBlocks` (+ 10) past the expiries of its open sides. */
async function drain(p: { swaps: LoadSwap[]; watcher: OutcomeWatcher; chains: LoadChain[]; graceBlocks: number; signal: AbortSignal; progress: () => void }): Promise<void> {
  const open = () => p.swaps.flatMap((s) => (s.sides ?? []).filter((side) => side.registeredBlock !== undefined && p.watcher.outcome(side.contractId) === undefined));
  while (!p.signal.aborted) {
    p.progress();
    const left = open();
    if (left.length === 0) return;
    const heads = await Promise.all(p.chains.map((c) => c.reader.publicClient.getBlockNumber({ cacheTime: 0 }).catch(() => 0n)));
    if (left.every((side) => heads[side.chain]! > side.expiry + BigInt(p.graceBlocks) + 10n)) return;
    await sleep(1_000, undefined, { signal: p.signal }).catch(() => {});
  }
}

/** "load 2:13/10:00 · offered 222 · in flight 45 · settled 170 · refunded 7 · 100.2 offered/min". */
function progressLine(swaps: LoadSwap[], watcher: OutcomeWatcher, t0: number, durationSeconds: number): string {
  let settled = 0;
  let refunded = 0;
  let inFlight = 0;
  for (const s of swaps) {
    const seen = (s.sides ?? []).map((side) => watcher.outcome(side.contractId)?.status);
    if (seen.length === 2 && seen.every((st) => st === Status.Released)) settled++;
    else if (seen.some((st) => st === Status.Refunded || st === Status.Cancelled)) refunded++;
    else if (s.error === undefined) inFlight++;
  }
  const elapsed = (Date.now() - t0) / 1000;
  const clock = (sec: number) => `${Math.floor(sec / 60)}:${String(Math.floor(sec % 60)).padStart(2, "0")}`;
  return `load ${clock(Math.min(elapsed, durationSeconds))}/${clock(durationSeconds)} · offered ${swaps.length} · in flight ${inFlight} · settled ${settled} · refunded ${refunded} · ${((60 * swaps.length) / Math.max(1, elapsed)).toFixed(1)} offered/min`;
}

function reportOf(a: { p: LoadRunParameters; startedAt: Date; swaps: LoadSwap[]; verdict: HistoryVerdict; offeringSeconds: number; relayers: RelayerUsage[]; faults: FaultEvent[]; file: DevnetFile }): LoadReport {
  const { p, swaps, verdict } = a;
  const registered = (s: LoadSwap) => (s.sides ?? []).filter((side) => side.registeredBlock !== undefined).length;
  const settledSwaps = swaps.filter((s) => s.sides !== undefined && s.sides.every((side) => side.status === Status.Released));
  const notStarted = swaps.filter((s) => registered(s) === 0);
  const refunded = swaps.filter((s) => registered(s) > 0 && !s.sides!.some((side) => side.status === Status.Released) && s.sides!.every((side) => side.registeredBlock === undefined || isFinal(side.status)));
  const matchedRegistered = swaps.filter((s) => s.kind === "matched" && registered(s) === 2);
  const latencies = settledSwaps.map((s) => {
    const [x, y] = s.sides!;
    const blocks = Math.max(Number(x.finishedBlock! - x.registeredBlock!), Number(y.finishedBlock! - y.registeredBlock!));
    const seen = [x.finishedAtMs, y.finishedAtMs];
    const seconds = seen.every((ms) => ms !== undefined) ? (Math.max(...(seen as number[])) - Math.max(x.registeredAtMs ?? 0, y.registeredAtMs ?? 0)) / 1000 : undefined;
    return { blocks, seconds };
  });
  const seconds = latencies.flatMap((l) => (l.seconds === undefined ? [] : [l.seconds]));
  const settledOfMatched = matchedRegistered.filter((s) => settledSwaps.includes(s)).length;
  return {
    startedAt: a.startedAt.toISOString(),
    config: {
      // What ran, read from the devnet itself: a running one (--dir) need not match the options of a devnet of its own.
      chains: a.file.chains.length,
      validators: a.file.chains[0]!.committee.length,
      blockMs: a.file.blockMs,
      rate: p.rate,
      durationSeconds: p.durationSeconds,
      ttl: p.ttl,
      users: p.users,
      seed: p.seed,
      chaos: [...p.chaos],
      netns: p.netns,
      ownDevnet: p.dir === undefined,
    },
    offered: swaps.length,
    settled: settledSwaps.length,
    refunded: refunded.length,
    notStarted: notStarted.length,
    unended: verdict.unended.length,
    matchedRegistered: matchedRegistered.length,
    settledShare: matchedRegistered.length === 0 ? 0 : Math.round((10_000 * settledOfMatched) / matchedRegistered.length) / 10_000,
    split: verdict.split.length,
    lostWei: verdict.lostWei,
    misplacedWei: verdict.misplacedWei,
    endedLate: verdict.endedLate.length,
    latency: latencies.length === 0 ? null : { blocks: percentiles(latencies.map((l) => l.blocks)), seconds: percentiles(seconds) },
    swapsPerMinute: round((60 * settledSwaps.length) / Math.max(1, a.offeringSeconds)),
    offeredPerMinute: round((60 * swaps.length) / Math.max(1, a.offeringSeconds)),
    wallSeconds: round((Date.now() - a.startedAt.getTime()) / 1000),
    relayers: a.relayers,
    relayerCpuPercent: a.relayers.length === 0 ? null : { mean: round(a.relayers.reduce((sum, r) => sum + r.cpuPercent, 0) / a.relayers.length), max: Math.max(...a.relayers.map((r) => r.cpuPercent)) },
    relayerRssMB: a.relayers.length === 0 ? null : { max: Math.max(...a.relayers.map((r) => r.rssMB)) },
    faults: a.faults,
    failures: { split: verdict.split, lateAccepted: verdict.lateAccepted, unended: verdict.unended, endedLate: verdict.endedLate, notStarted: notStarted.map(timeline) },
    interrupted: p.signal.aborted,
    ok: verdict.ok,
  };
}

function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p95: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { p50: round(at(0.5)), p95: round(at(0.95)), max: round(sorted[sorted.length - 1]!) };
}

const round = (x: number) => Math.round(x * 100) / 100;
