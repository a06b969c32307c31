import { setTimeout as sleep } from "node:timers/promises";
import type { Hex } from "viem";
import { gatewayAbi, Status } from "../chain/abis.js";
import type { LoadChain } from "./loadUsers.js";

/** How a contract ended, as its Gateway's event said: its status, the block, and when the watcher saw it. */
export type SeenOutcome = { status: number; block: bigint; atMs: number };

const ENDINGS = ["ContractReleased", "ContractRefunded", "ContractCancelled"] as const;
const STATUS_OF = { ContractReleased: Status.Released, ContractRefunded: Status.Refunded, ContractCancelled: Status.Cancelled } as const;

/**
 * Follows every chain's Gateway for contracts that end (released, refunded, cancelled): one eth_getLogs per chain per new
 * block, however many swaps are open. A chain that does not answer (stopped, refusing) is read again at the next poll from
 * where it was left, so nothing is missed.
 */
export class OutcomeWatcher {
  readonly #chains: LoadChain[];
  readonly #seen = new Map<Hex, SeenOutcome>();
  readonly #pollMs: number;
  #running = false;
  #loops: Promise<void>[] = [];

  constructor(chains: LoadChain[], pollMs = 500) {
    this.#chains = chains;
    this.#pollMs = pollMs;
  }

  /** Starts following from each chain's current head. */
  async start(): Promise<void> {
    const heads = await Promise.all(this.#chains.map((c) => c.reader.publicClient.getBlockNumber({ cacheTime: 0 })));
    this.#running = true;
    this.#loops = this.#chains.map((c, i) => this.#follow(c, heads[i]!));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  /** How contract `contractId` ended, if the watcher has seen it end. */
  outcome(contractId: Hex): SeenOutcome | undefined {
    return this.#seen.get(contractId);
  }

  async #follow(chain: LoadChain, from: bigint): Promise<void> {
    let next = from + 1n;
    while (this.#running) {
      try {
        const head = await chain.reader.publicClient.getBlockNumber({ cacheTime: 0 });
        if (head >= next) {
          const logs = await chain.reader.publicClient.getContractEvents({ address: chain.gateway, abi: gatewayAbi, fromBlock: next, toBlock: head });
          const now = Date.now();
          for (const log of logs) {
            if (!(ENDINGS as readonly string[]).includes(log.eventName)) continue;
            const { contractId } = log.args as { contractId: Hex };
            if (!this.#seen.has(contractId)) this.#seen.set(contractId, { status: STATUS_OF[log.eventName as (typeof ENDINGS)[number]], block: log.blockNumber, atMs: now });
          }
          next = head + 1n;
        }
      } catch {
        // The chain is stopped or refusing: the same range is read at the next poll.
      }
      await sleep(this.#pollMs);
    }
  }
}
