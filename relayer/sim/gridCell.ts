import type { Address, Hex } from "viem";
import { DEFAULT_GOSSIP, ratesForBlockTime } from "../config/nodeConfig.js";
import { MemoryHub } from "../net/memoryTransport.js";
import type { Message, MessageKind } from "../net/message.js";
import { fanout, type RemoteSystem } from "../net/requestChannel.js";
import { thresholdOf } from "../view/threshold.js";
import { threadCpuMs } from "./cpuTime.js";
import { GapHistogram, type GapSummary } from "./gapHistogram.js";
import { deriveSeed, seededRandom } from "./seededRandom.js";
import { SignatureCache, type SignatureWork } from "./signatureCache.js";
import { SimNode } from "./simNode.js";
import { SimTaskRunner } from "./simTaskRunner.js";
import { SimulatedClock } from "./simulatedClock.js";
import { SyntheticSystem } from "./syntheticSystem.js";
import { TaskSide, type TaskOutcome } from "./taskSide.js";

/** r = 2/3, as in PBFT: a view needs ceil(2q/3) signatures and a request goes to (1 − r)q + 1 nodes. */
const R = { rNumerator: 2, rDenominator: 3 };

/** What a cell's committees and chains are when its parameters do not say: q = 4 (threshold 3), k = 5, every block certified. */
export const CELL_DEFAULTS = { q: 4, k: 5, signEvery: 1 } as const;

/** How many of a committee of q sign a view of a simulated system: ceil(r·q). */
export function committeeThreshold(q: number): number {
  return thresholdOf(q, { numerator: R.rNumerator, denominator: R.rDenominator });
}

export type CellParameters = {
  /** Number of systems (chains). */
  n: number;
  /** Probability that a block of a system holds a new cross-chain task. */
  taskRate: number;
  /** The gossip send rate: probability of pushing a changed view list to each other system. */
  sendRate: number;
  /** Blocks each system produces. */
  blocks: number;
  /** Committee size of every system. Default 4 (threshold 3, a request to 2 nodes). */
  q?: number;
  /** View window. Default 5, the paper's choice for 5_1_3. */
  k?: number;
  seed?: number;
  /** The committee certifies every this many blocks (the relayer's viewSignEvery). Default 1. */
  signEvery?: number;
  /** A task's contracts expire this many blocks after they enter their chains. Default 20. */
  expiryBlocks?: number;
  /** Block interval of every system, ms of simulated time. Default 100 (the paper's 0.1 s). */
  blockMs?: number;
  /** One-way delay of each message, drawn uniformly. Default 10–50 ms. */
  latencyMs?: { min: number; max: number };
  /** Most contracts per batch step, as the relayer's TaskRunner takes it. Default DEFAULT_BATCH_SIZE. */
  batchSize?: number;
  /** Whether gossip pushes carry view heads (the relayer's gossip.viewHeads). Default true. */
  viewHeads?: boolean;
  /** Signatures and checks shared with other cells of the same seed; a fresh one when absent. */
  cache?: SignatureCache;
};

/** What one system sent during a cell, and how far behind its nodes saw the others. */
export type SystemResult = {
  chainId: string;
  /** check() requests its nodes sent. */
  requests: number;
  /** Answers and answer errors its nodes sent. */
  answers: number;
  /** view-update, view-pull and evidence messages its nodes sent. */
  gossip: number;
  /** Their bytes, as JSON text. */
  gossipBytes: number;
  /** Every node-to-node message its nodes sent. */
  messages: number;
  bytes: number;
  /** Successful tasks it took part in (as either side). */
  successfulTasks: number;
  /** Its request-channel messages (requests and answers) per successful task it took part in. */
  messagesPerTask: number;
  /** Gaps of its nodes' views of every other system. */
  gap: GapSummary;
  /** Gaps of the system's view of every other system: the freshest of its nodes' (see CellResult.systemGap). */
  systemGap: GapSummary;
};

export type CellResult = {
  n: number;
  taskRate: number;
  sendRate: number;
  blocks: number;
  q: number;
  k: number;
  threshold: number;
  /** Nodes a request (and a gossip push) goes to in a system: (1 − r)q + 1. */
  fanout: number;
  seed: number;
  signEvery: number;
  expiryBlocks: number;
  /** Tasks started, in the blocks that leave time to finish them. */
  tasks: number;
  /** Tasks both sides released: the swap happened. */
  successfulTasks: number;
  /** Tasks neither side released: each side got its assets back (refunded or cancelled). */
  refundedTasks: number;
  /** Tasks one side released and the other did not: what the IBCP must never let happen. */
  splitTasks: number;
  /** Tasks not ended when the run stopped. */
  unfinishedTasks: number;
  /** Totals over all systems: check() requests, request-channel messages, gossip, all messages. */
  requests: number;
  requestChannelMessages: number;
  gossip: number;
  gossipBytes: number;
  messages: number;
  /** What the transports delivered and dropped: every counted message is delivered exactly once. */
  delivered: number;
  dropped: number;
  requestsPerTask: number;
  /** Request-channel messages (requests and answers of both sides) per successful task. */
  messagesPerTask: number;
  systems: SystemResult[];
  /** Gaps of every node's view of every other system, sampled at a random instant of every block interval. */
  gap: GapSummary;
  /** `histogram[g]`: samples with gap g. */
  histogram: number[];
  /**
   * Gaps of every system's view of every other system, sampled with `gap`: the newest view any of its nodes holds. One
   * node per system pushes in a round and a push reaches (1 − r)q + 1 of a system's nodes, so the system as a whole
   * knows what its freshest node knows (section IV.C: any member can prove a fork to its chain), and this is the gap of
   * the paper's simulation, where a system is one node. A single node's view lags more: it hears most in its rounds.
   */
  systemGap: GapSummary;
  /**
   * Refused messages by reason, and fork evidence. An honest network shows only "unexpected answer" (the slower
   * of a request's two answers) and "duplicate gossip" (the same update from two peers).
   */
  incidents: Record<string, number>;
  /** secp256k1 work of this cell (with a shared cache, only what earlier cells had not done). */
  work: SignatureWork;
  wallMs: number;
  /** CPU time of the cell's thread: what the run costs whatever else the machine (or another cell's thread) is doing. */
  cpuMs: number;
};

type Counters = { byKind: Map<MessageKind, number>; bytes: number; gossipBytes: number; successfulTasks: number; gap: GapHistogram; systemGap: GapHistogram };

const REQUEST_CHANNEL: readonly MessageKind[] = ["request", "answer", "answer-error"];
const GOSSIP: readonly MessageKind[] = ["view-update", "view-pull", "evidence"];

/**
 * One cell of the paper's Table I grid (section VII.A), run on the relayer's own protocol code: n
 * synthetic systems of q nodes each produce a block every `blockMs` of simulated time; every node runs a
 * ViewList, a GossipOverlay with the cell's send rate and a RequestChannel over one MemoryHub. A block
 * holds a new task with probability `taskRate`: a contract on its system and a mirror on a random other
 * one. Every node runs its chain's task sides with the relayer's StepSchedule at each block (SimTaskRunner),
 * at the rates a devnet node of that block time runs with (ratesForBlockTime). Counts every message by
 * sender and kind, and samples each node's gap to every other system once per block interval.
 */
export async function simulateCell(parameters: CellParameters): Promise<CellResult> {
  const { n, taskRate, sendRate, blocks, q = CELL_DEFAULTS.q, k = CELL_DEFAULTS.k, seed = 1, signEvery = CELL_DEFAULTS.signEvery, expiryBlocks = 20, blockMs = 100, latencyMs = { min: 10, max: 50 }, viewHeads = true, batchSize } = parameters;
  const rates = ratesForBlockTime(blockMs);
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`a network of ${n} systems: at least 2 are needed`);
  if (!(taskRate >= 0 && taskRate <= 1 && sendRate >= 0 && sendRate <= 1)) throw new RangeError("taskRate and sendRate are probabilities");
  if (!Number.isInteger(blocks) || blocks < 1) throw new RangeError(`blocks must be a positive integer, not ${blocks}`);
  if (latencyMs.min < 0 || latencyMs.max < latencyMs.min) throw new RangeError("latencyMs needs 0 ≤ min ≤ max");
  const started = performance.now();
  const cpuBefore = threadCpuMs();
  const cache = parameters.cache ?? new SignatureCache();
  const workBefore = { ...cache.work };
  const threshold = committeeThreshold(q);
  const cellSeed = deriveSeed(seed, "cell", n, taskRate, sendRate, blocks);
  const stream = (name: string) => seededRandom(deriveSeed(cellSeed, name));

  const clock = new SimulatedClock();
  const latency = stream("latency");
  const hub = new MemoryHub({ clock, latencyMs: () => latencyMs.min + latency() * (latencyMs.max - latencyMs.min) });
  const systems = Array.from({ length: n }, (_, index) => new SyntheticSystem({ index, seed, q, threshold, k, signEvery, cache }));
  const remote = new Map<bigint, RemoteSystem>(systems.map((s) => [s.chainId, { members: s.committee.members, ...R }]));
  const counters = systems.map((): Counters => ({ byKind: new Map(), bytes: 0, gossipBytes: 0, successfulTasks: 0, gap: new GapHistogram(), systemGap: new GapHistogram() }));
  const incidents: Record<string, number> = {};
  /** Per system, its task sides not ended yet. */
  const open = systems.map(() => new Set<TaskSide>());
  /** Each node's task work, by address: a request it serves nudges it. */
  const runners = new Map<Address, SimTaskRunner>();
  const nodes = systems.map((system) =>
    system.committee.members.map(
      (address, member) =>
        new SimNode({
          system,
          address,
          systems,
          remote,
          hub,
          clock,
          cache,
          gossip: { sendRate, pacemakerBlocks: DEFAULT_GOSSIP.pacemakerBlocks, roundBlocks: DEFAULT_GOSSIP.roundBlocks, maxPerPeerPerSecond: DEFAULT_GOSSIP.maxPerPeerPerSecond, maxStrikes: DEFAULT_GOSSIP.maxStrikes, viewHeads },
          requestTimeoutMs: rates.requestTimeoutMs,
          maxRequestsPerSecond: rates.maxRequestsPerSecond,
          random: stream(`gossip/${system.index}/${member}`),
          onSent: (message: Message, bytes: number) => {
            const counter = counters[system.index]!;
            counter.byKind.set(message.kind, (counter.byKind.get(message.kind) ?? 0) + 1);
            counter.bytes += bytes;
            if (GOSSIP.includes(message.kind)) counter.gossipBytes += bytes;
          },
          onRequest: (contractId, from) => runners.get(address)!.nudge(contractId, from),
          onIncident: (what) => (incidents[what] = (incidents[what] ?? 0) + 1),
        }),
    ),
  );
  for (const [index, group] of nodes.entries()) {
    for (const node of group) {
      const { members } = systems[index]!.committee;
      runners.set(node.address, new SimTaskRunner({ node, members, sides: () => open[index]!, clock, retryMs: 2 * rates.pollMs, takeoverMs: rates.takeoverMs, committees: remote, ...(batchSize !== undefined && { batchSize }) }));
    }
  }
  for (const node of nodes.flat()) await node.start();

  // Tasks start only where both contracts can expire and be terminated within the run.
  const lastTaskBlock = blocks - 2 * expiryBlocks - 10;
  const taskRandom = stream("tasks");
  const ended = { successful: 0, refunded: 0, split: 0 };
  let tasks = 0;
  /** `${system}:${height}` → task sides that expire when that block is produced. */
  const expiring = new Map<string, TaskSide[]>();

  const newTask = (origin: SyntheticSystem, height: number) => {
    const target = systems.filter((s) => s !== origin)[Math.floor(taskRandom() * (n - 1))]!;
    const id = tasks++;
    const contract: Hex = `0x${(2 * id + 1).toString(16).padStart(64, "0")}`;
    const mirror: Hex = `0x${(2 * id + 2).toString(16).padStart(64, "0")}`;
    const mirrorHeight = target.height + 1;
    origin.register(contract, height);
    target.register(mirror, mirrorHeight);
    const outcomes: TaskOutcome[] = [];
    const onDone = (outcome: TaskOutcome) => {
      outcomes.push(outcome);
      if (outcomes.length < 2) return;
      const released = outcomes.filter((o) => o === "released").length;
      if (released === 1) ended.split += 1;
      else if (released === 0) ended.refunded += 1;
      else {
        ended.successful += 1;
        for (const s of [origin, target]) counters[s.index]!.successfulTasks += 1;
      }
    };
    const side = (own: SyntheticSystem, other: SyntheticSystem, contractId: Hex, mirrorId: Hex, registeredAt: number, h2: number) => {
      const h1 = registeredAt + expiryBlocks;
      const task: TaskSide = new TaskSide({ contractId, mirrorId, own, other, registeredAt, h1, h2, onDone: (outcome) => (open[own.index]!.delete(task), onDone(outcome)) });
      open[own.index]!.add(task);
      const key = `${own.index}:${h1 + 1}`;
      expiring.set(key, [...(expiring.get(key) ?? []), task]);
    };
    side(origin, target, contract, mirror, height, mirrorHeight + expiryBlocks);
    side(target, origin, mirror, contract, mirrorHeight, height + expiryBlocks);
  };

  const produce = async (system: SyntheticSystem) => {
    const height = system.produce();
    for (const node of nodes[system.index]!) await node.onBlock(height);
    if (height <= lastTaskBlock && taskRandom() < taskRate) newTask(system, height);
    const key = `${system.index}:${height}`;
    for (const task of expiring.get(key) ?? []) task.expired();
    expiring.delete(key);
    for (const node of nodes[system.index]!) runners.get(node.address)!.tick();
    if (height + 1 < blocks) clock.setTimeout(() => void produce(system), blockMs);
  };
  // Like the chains, the block times depend on the seed alone: every cell of a grid sees system i produce at the same instants.
  const phase = seededRandom(deriveSeed(seed, "phase"));
  for (const system of systems) clock.setTimeout(() => void produce(system), phase() * blockMs);

  // Every system has its genesis by blockMs; sample once in each interval after it, while all systems still produce.
  // The instant is random in the interval: at a fixed instant, a system whose blocks happen to come just before it
  // would always look one block behind (its newest block still in flight), and the gap would measure the phases.
  const instant = stream("samples");
  const sample = (round: number) => {
    for (const [index, group] of nodes.entries()) {
      for (const node of group) {
        for (const other of systems) {
          if (other.index === index) continue;
          const seen = node.viewList.newest(other.chainId)?.view.height;
          counters[index]!.gap.add(other.height - (seen === undefined ? -1 : Number(seen)));
        }
      }
      for (const other of systems) {
        if (other.index === index) continue;
        const freshest = Math.max(...group.map((node) => Number(node.viewList.newest(other.chainId)?.view.height ?? -1)));
        counters[index]!.systemGap.add(other.height - freshest);
      }
    }
    if (round + 1 < blocks) schedule(round + 1);
  };
  const schedule = (round: number) => clock.setTimeout(() => sample(round), round * blockMs + instant() * blockMs - clock.now());
  schedule(1);

  await clock.advance(blocks * blockMs);
  await clock.runUntilIdle();

  const count = (counter: Counters, kinds: readonly MessageKind[]) => kinds.reduce((sum, kind) => sum + (counter.byKind.get(kind) ?? 0), 0);
  const systemResults = systems.map((system, index): SystemResult => {
    const counter = counters[index]!;
    const requestChannel = count(counter, REQUEST_CHANNEL);
    return {
      chainId: system.chainId.toString(),
      requests: count(counter, ["request"]),
      answers: count(counter, ["answer", "answer-error"]),
      gossip: count(counter, GOSSIP),
      gossipBytes: counter.gossipBytes,
      messages: [...counter.byKind.values()].reduce((sum, v) => sum + v, 0),
      bytes: counter.bytes,
      successfulTasks: counter.successfulTasks,
      messagesPerTask: counter.successfulTasks === 0 ? 0 : requestChannel / counter.successfulTasks,
      gap: counter.gap.summary(k),
      systemGap: counter.systemGap.summary(k),
    };
  });
  const total = (pick: (s: SystemResult) => number) => systemResults.reduce((sum, s) => sum + pick(s), 0);
  const gap = new GapHistogram();
  const systemGap = new GapHistogram();
  for (const counter of counters) {
    gap.merge(counter.gap);
    systemGap.merge(counter.systemGap);
  }
  const successfulTasks = ended.successful;
  const requests = total((s) => s.requests);
  const requestChannelMessages = total((s) => s.requests + s.answers);
  const work = Object.fromEntries(Object.entries(cache.work).map(([key, value]) => [key, value - workBefore[key as keyof SignatureWork]])) as SignatureWork;
  return {
    n,
    taskRate,
    sendRate,
    blocks,
    q,
    k,
    threshold,
    fanout: fanout(remote.get(systems[0]!.chainId)!),
    seed,
    signEvery,
    expiryBlocks,
    tasks,
    successfulTasks,
    refundedTasks: ended.refunded,
    splitTasks: ended.split,
    unfinishedTasks: tasks - ended.successful - ended.refunded - ended.split,
    requests,
    requestChannelMessages,
    gossip: total((s) => s.gossip),
    gossipBytes: total((s) => s.gossipBytes),
    messages: total((s) => s.messages),
    delivered: hub.delivered,
    dropped: hub.dropped,
    requestsPerTask: successfulTasks === 0 ? 0 : requests / successfulTasks,
    messagesPerTask: successfulTasks === 0 ? 0 : requestChannelMessages / successfulTasks,
    systems: systemResults,
    gap: gap.summary(k),
    histogram: [...gap.counts],
    systemGap: systemGap.summary(k),
    incidents,
    work,
    wallMs: performance.now() - started,
    cpuMs: threadCpuMs() - cpuBefore,
  };
}
