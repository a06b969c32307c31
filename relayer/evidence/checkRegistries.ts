import type { Address } from "viem";
import { shortMessage } from "../util/shortMessage.js";
import { endpointClient, type ChainEndpoint } from "./chainEndpoint.js";
import { ForkFinder, narrower, type Fork } from "./forkFinder.js";
import { RegistryLog } from "./registryLog.js";

/** What one registry gave: how many views up to which block, or why it could not be read. */
export type RegistryReading = ChainEndpoint & { chainId?: bigint; head?: bigint; views: number; error?: string };

/** A forked chain: the two conflicting views that locate the fork most narrowly, how many conflicting pairs there are, and where it is frozen already. */
export type FoundFork = Fork & { pairs: number; frozenOn: bigint[] };

export type CheckResult = { registries: RegistryReading[]; forks: FoundFork[] };

/**
 * `fibc evidence check`: reads every registry's events from block 0 to its head (every signed view it accepted or froze a
 * chain for, and every freeze) and finds, across registries and within one, any two views of one chain that cannot both
 * be its history. A registry whose endpoint does not answer is reported with its error; the others are still read.
 */
export async function checkRegistries(endpoints: readonly ChainEndpoint[]): Promise<CheckResult> {
  const finder = new ForkFinder();
  const forks = new Map<bigint, FoundFork>();
  const frozen = new Map<bigint, bigint[]>();
  const registries: RegistryReading[] = [];
  for (const endpoint of endpoints) {
    const reading: RegistryReading = { ...endpoint, views: 0 };
    registries.push(reading);
    try {
      const client = endpointClient(endpoint.url);
      reading.chainId = BigInt(await client.getChainId());
      reading.head = await client.getBlockNumber({ cacheTime: 0 });
      await new RegistryLog({ client, registry: endpoint.registry as Address, chainId: reading.chainId }).read(reading.head, (events) => {
        for (const event of events) {
          if (event.type === "frozen") {
            frozen.set(event.chainId, [...(frozen.get(event.chainId) ?? []), event.on]);
            continue;
          }
          reading.views++;
          for (const fork of finder.add(event.seen)) {
            // Of all the pairs, the one that locates the fork most narrowly is reported.
            const known = forks.get(fork.chainId);
            if (known === undefined || narrower(fork, known)) forks.set(fork.chainId, { ...fork, pairs: (known?.pairs ?? 0) + 1, frozenOn: [] });
            else known.pairs++;
          }
        }
      });
    } catch (error) {
      reading.error = `${endpoint.url} does not answer or holds no registry at ${endpoint.registry}: ${shortMessage(error)}`;
    }
  }
  for (const [chainId, fork] of forks) fork.frozenOn = frozen.get(chainId) ?? [];
  return { registries, forks: [...forks.values()] };
}
