import { setTimeout as sleep } from "node:timers/promises";
import { createPublicClient, http, keccak256, parseEther, stringToHex, type PublicClient } from "viem";
import { gatewayAbi } from "../../relayer/chain/abis.js";
import { Devnet, type DevnetChain, type DevnetFile } from "../../relayer/devnet/devnet.js";
import { fetchStatus, messagesSent } from "../../relayer/devnet/relayerProcess.js";
import { runSwap, type SwapResult } from "../../relayer/devnet/swap.js";
import { GapHistogram, type GapSummary } from "../../relayer/sim/gapHistogram.js";
import { seededRandom } from "../../relayer/sim/seededRandom.js";

export type RealCellParameters = {
  /** Number of chains (systems). */
  n: number;
  /** Validators (relayer processes) per chain. */
  q: number;
  /** Share of blocks of each chain that carry a new cross-chain task (a swap with a random other chain). */
  taskRate: number;
  /** The relayers' gossip send rate. */
  sendRate: number;
  /** Blocks of each chain during which tasks are started. */
  blocks: number;
  blockMs: number;
  basePort: number;
  dir: string;
  /** Blocks from registration to expiry of every swap. */
  ttl: number;
  seed: number;
  log: (line: string) => void;
};

export type SwapTiming = { blocks: number; seconds: number };

/** A swap that did not settle: how each side ended or the error that stopped it, and what it said on the way (seconds from its start). */
export type UnsettledSwap = { label: string; from: string; to: string; outcomes?: { from: string; to: string }; error?: string; seconds: number; timeline: string[] };

type EndedSwap = { label: string; from: string; to: string; result?: SwapResult; error?: string; seconds: number; timeline: string[] };

export type RealCellResult = {
  n: number;
  q: number;
  taskRate: number;
  sendRate: number;
  blocks: number;
  tasks: number;
  successfulTasks: number;
  /** Blocks of the first chain from the first task to the end of the last: what the message counts cover. */
  blocksObserved: number;
  /** Messages per system over the run, summed over its q relayers. */
  requestsPerSystem: number;
  gossipPerSystem: number;
  messagesPerSystem: number;
  /** The same per message kind (requests, answers, view updates and pulls, co-signatures, …). */
  messagesPerSystemByKind: Record<string, number>;
  /** Requests (and all node-to-node messages) per successful task. */
  requestsPerTask: number;
  messagesPerTask: number;
  /** Head of each other chain minus the newest view of it in each relayer's view list, sampled once per block. */
  gap: GapSummary;
  /** Seconds from the devnet's start until every relayer held a view of every other chain within k blocks of its head (see WARM_UP_LIMIT_MS). */
  warmUpSeconds: number;
  /** From the users' registrations to both payouts, per settled swap: mean blocks (on the slower side) and seconds. */
  swapTime: { mean: SwapTiming; max: SwapTiming };
  /** Every swap that did not settle: its chains and how each side ended, or the error that stopped it. */
  unsettled: UnsettledSwap[];
  wallSeconds: number;
};

/**
 * One cell of the paper's grid on real processes: a devnet of `n` hardhat node chains with `q` relayer processes each, swaps
 * started on `taskRate` of each chain's blocks towards a random other chain, for `blocks` blocks; then the relayers' message
 * counters (GET /status) and the gap of their view lists, sampled every block, as the simulation reports them.
 */
export async function measureRealCell(p: RealCellParameters): Promise<RealCellResult> {
  const started = Date.now();
  const devnet = new Devnet();
  try {
    p.log(`real ${p.n}_${p.taskRate * 10}_${p.sendRate * 10}: starting ${p.n} chains and ${p.n * p.q} relayer processes`);
    const file = await devnet.up({ chains: p.n, validatorsPerChain: p.q, basePort: p.basePort, k: K, blockMs: p.blockMs, dir: p.dir, gossip: { sendRate: p.sendRate } });
    const clients = file.chains.map((c) => createPublicClient({ transport: http(c.url) }) as PublicClient);
    const warmUpSeconds = await warmUp(file, clients, (line) => p.log(`real ${p.n}_${p.taskRate * 10}_${p.sendRate * 10}: ${line}`));
    const baseline = await messagesSent(file.relayers);
    const random = seededRandom(p.seed);
    const heads = await Promise.all(clients.map((c) => c.getBlockNumber({ cacheTime: 0 })));
    const start = [...heads];
    const swaps: Promise<EndedSwap>[] = [];
    const gaps = new GapHistogram();
    let sampledAt = heads[0]!;
    p.log(`real ${p.n}_${p.taskRate * 10}_${p.sendRate * 10}: running ${p.blocks} blocks`);
    while (heads.some((h, i) => h - start[i]! < BigInt(p.blocks))) {
      await sleep(p.blockMs / 4);
      for (const [i, client] of clients.entries()) {
        const head = await client.getBlockNumber({ cacheTime: 0 });
        for (let h = heads[i]! + 1n; h <= head && h - start[i]! <= BigInt(p.blocks); h++) {
          if (random() >= p.taskRate) continue;
          const others = file.chains.filter((_, j) => j !== i);
          swaps.push(startSwap(file.chains[i]!, others[Math.floor(random() * others.length)]!, `${p.seed}/${i}/${h}`, p.ttl));
        }
        heads[i] = head;
      }
      if (heads[0]! > sampledAt) {
        sampledAt = heads[0]!;
        for (const gap of await sampleGaps(file, clients)) gaps.add(gap);
      }
    }
    p.log(`real ${p.n}_${p.taskRate * 10}_${p.sendRate * 10}: ${swaps.length} swaps started; waiting for them to end`);
    const ended = await Promise.all(swaps);
    const sent = await messagesSent(file.relayers);
    const blocksObserved = Number((await clients[0]!.getBlockNumber({ cacheTime: 0 })) - start[0]!);
    const delta = (kind: string) => (sent[kind]?.count ?? 0) - (baseline[kind]?.count ?? 0);
    const all = Object.keys(sent).reduce((total, kind) => total + delta(kind), 0);
    const isSettled = (s: EndedSwap) => s.result?.from.outcome === "released" && s.result.to.outcome === "released";
    const settled = ended.filter(isSettled);
    const unsettled = ended
      .filter((s) => !isSettled(s))
      .map(({ label, from, to, result, error, seconds, timeline }): UnsettledSwap => ({ label, from, to, ...(result ? { outcomes: { from: result.from.outcome, to: result.to.outcome } } : { error: error ?? "" }), seconds: round(seconds), timeline }));
    for (const u of unsettled) p.log(`real ${p.n}_${p.taskRate * 10}_${p.sendRate * 10}: swap ${u.label} (${u.from} → ${u.to}) did not settle: ${u.error ?? `${u.outcomes!.from} / ${u.outcomes!.to}`}`);
    const timings = await Promise.all(settled.map((s) => timing(s.result!, s.seconds, file)));
    const successful = settled.length;
    const perTask = (x: number) => (successful === 0 ? 0 : round(x / successful));
    return {
      n: p.n,
      q: p.q,
      taskRate: p.taskRate,
      sendRate: p.sendRate,
      blocks: p.blocks,
      blocksObserved,
      tasks: swaps.length,
      successfulTasks: successful,
      requestsPerSystem: round(delta("request") / p.n),
      gossipPerSystem: round((delta("view-update") + delta("view-pull")) / p.n),
      messagesPerSystem: round(all / p.n),
      messagesPerSystemByKind: Object.fromEntries(Object.keys(sent).sort().map((kind) => [kind, round(delta(kind) / p.n)])),
      requestsPerTask: perTask(delta("request")),
      messagesPerTask: perTask(all),
      gap: gaps.summary(K),
      warmUpSeconds,
      swapTime: {
        mean: { blocks: round(mean(timings.map((t) => t.blocks))), seconds: round(mean(timings.map((t) => t.seconds))) },
        max: { blocks: Math.max(0, ...timings.map((t) => t.blocks)), seconds: round(Math.max(0, ...timings.map((t) => t.seconds))) },
      },
      unsettled,
      wallSeconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await devnet.stop();
  }
}

/** A swap of 1 token for 0.01 coin between payers of its own; resolves when it has ended, with the error that stopped it if one did (never rejects). */
async function startSwap(x: DevnetChain, y: DevnetChain, label: string, ttl: number): Promise<EndedSwap> {
  const began = Date.now();
  const timeline: string[] = [];
  const ended = { label, from: x.chainId, to: y.chainId, timeline };
  const key = (side: string) => keccak256(stringToHex(`bench/${label}/${side}`));
  try {
    const result = await runSwap({
      from: { rpcUrl: x.url, gateway: x.gateway, registry: x.registry, token: x.token, payerKey: key("from"), give: { asset: "token", amount: parseEther("1") } },
      to: { rpcUrl: y.url, gateway: y.gateway, registry: y.registry, token: y.token, payerKey: key("to"), give: { asset: "coin", amount: parseEther("0.01") } },
      ttl,
      // Its timing in blocks comes from the records; a slower poll keeps the benchmark's own load off the chains it measures.
      pollMs: 2_000,
      log: (line) => timeline.push(`${((Date.now() - began) / 1000).toFixed(1)} s: ${line}`),
    });
    return { ...ended, result, seconds: (Date.now() - began) / 1000 };
  } catch (error) {
    return { ...ended, error: error instanceof Error ? error.message : String(error), seconds: (Date.now() - began) / 1000 };
  }
}

/** Blocks from registration to release on the slower side (the Gateways' records), and the seconds runSwap waited. */
async function timing(result: SwapResult, seconds: number, file: DevnetFile): Promise<SwapTiming> {
  const blocksOf = async (chainId: bigint, contractId: `0x${string}`) => {
    const chain = file.chains.find((c) => c.chainId === chainId.toString())!;
    const [, registeredAt, , finishedAt] = await createPublicClient({ transport: http(chain.url) }).readContract({ address: chain.gateway, abi: gatewayAbi, functionName: "recordOf", args: [contractId] });
    return Number(finishedAt - registeredAt);
  };
  const blocks = Math.max(await blocksOf(result.from.chainId, result.from.contractId), await blocksOf(result.to.chainId, result.to.contractId));
  return { blocks, seconds };
}

/** The devnet's k: views at most this many blocks apart. */
const K = 16;
/** Longest the warm-up waits before the measurement starts anyway (it says so). */
const WARM_UP_LIMIT_MS = 120_000;

/**
 * Waits until the network is warm: every relayer holds a view of every other chain at most k blocks behind that chain's
 * head. The devnet starts its chains one after another and its relayers last, so at first the later chains' views are
 * tens of blocks behind everywhere until gossip carries them round; the simulation starts every system at genesis
 * together and has no such start. Measured from there, the gap compares the network's steady state with the
 * simulation's (with it, 10_1_3's first 10 s of samples had a mean gap of 10.4 and a max of 66; the rest, 4.2 and 20).
 * Returns the seconds it took.
 */
async function warmUp(file: DevnetFile, clients: PublicClient[], log: (line: string) => void): Promise<number> {
  const started = Date.now();
  const pairs = file.relayers.length * (file.chains.length - 1);
  for (;;) {
    const gaps = await sampleGaps(file, clients);
    const seconds = Math.round((Date.now() - started) / 1000);
    if (gaps.length === pairs && gaps.every((gap) => gap <= K)) {
      log(`every relayer holds a view of every other chain within ${K} blocks (after ${seconds} s): the measurement starts`);
      return seconds;
    }
    if (Date.now() - started > WARM_UP_LIMIT_MS) {
      log(`after ${seconds} s, ${gaps.filter((gap) => gap <= K).length} of ${pairs} relayer/chain views are within ${K} blocks: the measurement starts anyway`);
      return seconds;
    }
    await sleep(file.blockMs);
  }
}

/** One gap per (relayer, other chain): that chain's head now minus the newest view of it in the relayer's view list. */
async function sampleGaps(file: DevnetFile, clients: PublicClient[]): Promise<number[]> {
  const heads = new Map(await Promise.all(file.chains.map(async (c, i) => [c.chainId, await clients[i]!.getBlockNumber({ cacheTime: 0 })] as const)));
  const gaps: number[] = [];
  await Promise.all(
    file.relayers.map(async (r) => {
      const status = await fetchStatus(r.statusUrl);
      const list = (status?.viewList ?? {}) as Record<string, string | null>;
      for (const [chainId, height] of Object.entries(list)) {
        if (height === null) continue;
        gaps.push(Math.max(0, Number(heads.get(chainId)! - BigInt(height))));
      }
    }),
  );
  return gaps;
}

const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const round = (x: number) => Math.round(x * 100) / 100;
