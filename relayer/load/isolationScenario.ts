import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { parseEventLogs } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ForkAttack } from "../attack/forkAttack.js";
import { registryAbi } from "../chain/abis.js";
import { parseNodeConfig } from "../config/nodeConfig.js";
import { connect, transact, type Connection } from "../devnet/connect.js";
import type { DevnetFile } from "../devnet/devnet.js";
import { DevnetError } from "../devnet/devnetError.js";
import { terminate } from "../devnet/processes.js";
import type { NetnsHosts } from "./netns.js";

export type IsolationResult = {
  isolated: string;
  forked: string;
  victim: string;
  forkHeight: string;
  /** Blocks of the isolated chain from the moment its links returned to the block in which its registry froze the forked chain. */
  detectionBlocks: number | null;
  /** (n − 1) × the relayers' pacemaker interval, in blocks: the paper's bound. */
  boundBlocks: number;
  /** Chain ids whose registry froze the forked chain by the end. */
  frozenOn: string[];
  /** ISO timestamps. */
  timeline: { at: string; event: string }[];
};

export type IsolationParameters = {
  /** A running devnet whose chains and relayers live in the namespaces of `hosts` (Devnet.up with `placement: hosts`). */
  file: DevnetFile;
  hosts: NetnsHosts;
  /** Indices into `file.chains`: three different chains. */
  isolated: number;
  forked: number;
  victim: number;
  /** How long the isolated chain stays cut off, counted from the partition (at least until the victim froze the forked chain). */
  partitionSeconds: number;
  log: (line: string) => void;
};

/** The isolation scenario could not be played as described (the victim never froze the forked chain, bad indices). */
export class IsolationScenarioError extends DevnetError {}

/**
 * The isolation scenario of the paper's section VI.B, on hosts of their own. The attacker controls chain `forked` (its
 * whole committee: the colluders' keys are its validators' keys in devnet.json) and the network around chain `isolated`.
 * It snapshots `forked` and lets branch b1 run long enough for b1's certified views to reach every system, cuts `isolated`
 * off from the overlay, silences the forked chain's relayers, rewinds the chain onto branch b2 and posts b2's views to
 * `victim`'s registry (sent with the devnet owner's key). The overlay catches the fork and the victim freezes the forked
 * chain, but the evidence cannot reach the isolated chain. After `partitionSeconds` the links return, and the scenario
 * counts the isolated chain's blocks until its own registry froze the forked chain: the paper claims a pacemaker bounds
 * this by (n − 1) pacemaker intervals. It waits 3 × that bound before it gives up (detectionBlocks null). The partition is
 * healed on every path out.
 */
export async function runIsolationScenario(p: IsolationParameters): Promise<IsolationResult> {
  const { file, hosts, log } = p;
  const indices = [p.isolated, p.forked, p.victim];
  if (new Set(indices).size !== 3 || indices.some((i) => !Number.isInteger(i) || i < 0 || i >= file.chains.length)) {
    throw new IsolationScenarioError(`the isolation scenario needs three different chains among 0..${file.chains.length - 1}, not ${indices.join(", ")}`);
  }
  if (!(Number.isFinite(p.partitionSeconds) && p.partitionSeconds > 0)) {
    throw new IsolationScenarioError(`the partition must last a positive number of seconds, not ${p.partitionSeconds}`);
  }
  const isolated = file.chains[p.isolated]!;
  const forked = file.chains[p.forked]!;
  const victim = file.chains[p.victim]!;
  const forkedId = BigInt(forked.chainId);
  const timeline: IsolationResult["timeline"] = [];
  const mark = (event: string) => {
    timeline.push({ at: new Date().toISOString(), event });
    log(`isolation: ${event}`);
  };

  const boundBlocks = await pacemakerBound(file, isolated.chainId);
  const connections = new Map<string, Connection>();
  const on = async (chainId: string) => {
    const chain = file.chains.find((c) => c.chainId === chainId)!;
    return connections.get(chainId) ?? connections.set(chainId, await connect({ rpcUrl: chain.url, key: file.owner.key })).get(chainId)!;
  };
  const registryOf = (chainId: string) => file.chains.find((c) => c.chainId === chainId)!.registry;
  const isFrozenOn = async (chainId: string) =>
    (await on(chainId)).publicClient.readContract({ address: registryOf(chainId), abi: registryAbi, functionName: "isFrozen", args: [forkedId] });
  const head = async (chainId: string) => (await on(chainId)).publicClient.getBlockNumber({ cacheTime: 0 });
  const blockMs = file.blockMs;

  const onForked = await on(forked.chainId);
  const attack = await ForkAttack.begin({ client: onForked.publicClient, chainId: forkedId, gateway: forked.gateway, k: file.k, colluders: forked.committee.map((m) => privateKeyToAccount(m.key)) });
  // Branch b1 runs until its certified views went around: every relayer pushes its whole view list to each other system
  // at least once per bound, so by then the isolated chain's relayers hold b1 past the fork, which b2 will contradict.
  const b1Blocks = BigInt(boundBlocks + 10);
  mark(`chain ${forked.chainId} snapshot at block ${attack.forkHeight}: branch b1 runs for ${b1Blocks} blocks`);
  const b1Top = attack.forkHeight + b1Blocks;
  while ((await head(forked.chainId)) < b1Top) await sleep(blockMs);

  await hosts.partition(p.isolated);
  const partitionedAt = Date.now();
  mark(`chain ${isolated.chainId} cut off from the overlay`);
  let healHead: bigint;
  try {
    // The attacker has the whole committee of the forked chain: its relayers fall silent rather than tell anyone of b1.
    const silenced = file.relayers.filter((r) => r.chainId === forked.chainId);
    await Promise.all(silenced.map((r) => terminate(r.process)));
    await attack.switchToSecondBranch();
    const onVictim = await on(victim.chainId);
    const known = await onVictim.publicClient.readContract({ address: victim.registry, abi: registryAbi, functionName: "latestHeight", args: [forkedId] });
    // b2 must reach past b1's newest view the victim accepted, or its views would say nothing new there.
    await attack.mineTo((known > b1Top ? known : b1Top) + 5n);
    mark(`chain ${forked.chainId}'s ${silenced.length} relayers silenced; rewound to block ${attack.forkHeight}, now on branch b2 up to block ${await head(forked.chainId)}`);

    const views = await attack.signedViews({ after: known, from: attack.forkHeight + 1n, to: await head(forked.chainId) });
    let posted = 0;
    for (const { view, signatures, bridge } of views) {
      try {
        const receipt = await transact(onVictim, "posting b2's view", () =>
          onVictim.wallet.writeContract({ address: victim.registry, abi: registryAbi, functionName: "submitView", args: [view, signatures, bridge] }),
        );
        posted++;
        // The victim had accepted b1 past the fork: b2's view is the evidence by itself.
        if (parseEventLogs({ abi: registryAbi, eventName: "ChainFrozen", logs: receipt.logs }).length > 0) break;
      } catch (error) {
        // The overlay can be faster than the attacker: once the victim froze the chain, the rest of b2 is refused.
        if (error instanceof DevnetError && error.message.includes("ViewRegistryChainFrozen")) break;
        throw error;
      }
    }
    mark(`b2 shown to chain ${victim.chainId}: ${posted} of ${views.length} signed views posted to its registry`);

    const victimDeadline = Date.now() + Math.max(60_000, 100 * blockMs);
    while (!(await isFrozenOn(victim.chainId))) {
      if (Date.now() > victimDeadline) throw new IsolationScenarioError(`chain ${victim.chainId} did not freeze chain ${forked.chainId} within ${Math.round((victimDeadline - partitionedAt) / 1000)} s of the partition: the fork was not caught, so there is nothing to detect after the links return`);
      await sleep(blockMs);
    }
    mark(`chain ${victim.chainId} froze chain ${forked.chainId}; chain ${isolated.chainId} ${(await isFrozenOn(isolated.chainId)) ? "froze it too (the partition leaked?)" : "has not"}`);
    const left = partitionedAt + p.partitionSeconds * 1000 - Date.now();
    if (left > 0) await sleep(left);
  } finally {
    try {
      healHead = await head(isolated.chainId);
    } finally {
      await hosts.heal(p.isolated);
    }
    mark(`chain ${isolated.chainId}'s links are back at its block ${healHead}`);
  }

  // Polled twice a block, so the freeze is seen in the block it happened in or the next; frozenAt says which.
  const giveUpAt = healHead + BigInt(3 * boundBlocks);
  let detectionBlocks: number | null = null;
  for (;;) {
    if (await isFrozenOn(isolated.chainId)) {
      const frozenAt = await (await on(isolated.chainId)).publicClient.readContract({ address: isolated.registry, abi: registryAbi, functionName: "frozenAt", args: [forkedId] });
      detectionBlocks = Number(frozenAt - healHead);
      mark(`chain ${isolated.chainId} froze chain ${forked.chainId} at its block ${frozenAt}: ${detectionBlocks} blocks after the links returned (bound ${boundBlocks})`);
      break;
    }
    if ((await head(isolated.chainId)) >= giveUpAt) {
      mark(`chain ${isolated.chainId} has not frozen chain ${forked.chainId} by its block ${giveUpAt} (3 × the bound of ${boundBlocks} blocks after the links returned)`);
      break;
    }
    await sleep(blockMs / 2);
  }

  const frozenOn: string[] = [];
  for (const chain of file.chains) if (chain !== forked && (await isFrozenOn(chain.chainId))) frozenOn.push(chain.chainId);
  return { isolated: isolated.chainId, forked: forked.chainId, victim: victim.chainId, forkHeight: attack.forkHeight.toString(), detectionBlocks, boundBlocks, frozenOn, timeline };
}

/**
 * (n − 1) × the pacemaker interval, in blocks of the isolated chain. A relayer of chain j sends its whole view list to the
 * next other system every `gossip.pacemakerBlocks` blocks of chain j, which is pacemakerBlocks × blockMs_j milliseconds,
 * or pacemakerBlocks × blockMs_j / blockMs_isolated blocks of the isolated chain (rounded up); with n systems the
 * isolated one is each pusher's target once in n − 1 turns. Every devnet chain mines a block every `file.blockMs` (the
 * one block time devnet.json holds), so the ratio is 1 and the interval is pacemakerBlocks itself; the slowest pacemaker
 * of the other chains' relayers sets it.
 */
async function pacemakerBound(file: DevnetFile, isolatedChainId: string): Promise<number> {
  let interval = 0;
  for (const path of file.nodeConfigs) {
    const config = parseNodeConfig(JSON.parse(await readFile(path, "utf8")), { source: path });
    if (config.chainId.toString() !== isolatedChainId) interval = Math.max(interval, config.gossip.pacemakerBlocks);
  }
  return (file.chains.length - 1) * interval;
}
