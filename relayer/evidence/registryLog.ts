import type { Address, Hex, PublicClient } from "viem";
import { registryAbi } from "../chain/abis.js";
import type { SignedView } from "../view/signedView.js";
import type { SeenView } from "./forkFinder.js";

/** What a registry's events tell a watcher: a signed view it holds, or a chain it froze. */
export type RegistryEvent =
  | { type: "view"; seen: SeenView }
  | { type: "frozen"; chainId: bigint; on: bigint; blockNumber: bigint; reporter: Address; slashed: bigint; reward: bigint };

const WATCHED = (["ViewAccepted", "ViewConflicted", "ForkProven", "ChainFrozen"] as const).map((name) =>
  registryAbi.find((item): item is Extract<(typeof registryAbi)[number], { type: "event"; name: typeof name }> => item.type === "event" && item.name === name)!,
);

/** Blocks per eth_getLogs: most endpoints refuse larger ranges. */
const CHUNK = 2_000n;

type EventView = { chainId: bigint; height: bigint; acc: Hex; hashes: readonly Hex[] };
const signed = (view: EventView, signatures: readonly Hex[]): SignedView => ({ view: { ...view, hashes: [...view.hashes] }, signatures: [...signatures] });

/**
 * Reads one ViewRegistry's events in block order, from block 0 on, in chunks: every signed view it accepted (ViewAccepted),
 * every signed view it froze a chain for (ViewConflicted, and both views of a ForkProven), and every freeze (ChainFrozen).
 * A registry announces every view it takes in an event whoever called, so this is all it holds, without a key, a store or
 * a peer. The cursor moves past a chunk only once its events were handed over: after a failed read the next one goes on
 * from the same block.
 */
export class RegistryLog {
  readonly #client: PublicClient;
  readonly #registry: Address;
  /** The chain the registry is on. */
  readonly chainId: bigint;
  #next = 0n;

  constructor({ client, registry, chainId }: { client: PublicClient; registry: Address; chainId: bigint }) {
    this.#client = client;
    this.#registry = registry;
    this.chainId = chainId;
  }

  /** The first block not read yet. */
  get next(): bigint {
    return this.#next;
  }

  /** Reads the events up to block `head`, handing over each chunk's in order. */
  async read(head: bigint, onEvents: (events: RegistryEvent[]) => void | Promise<void>): Promise<void> {
    while (this.#next <= head) {
      const to = this.#next + CHUNK - 1n < head ? this.#next + CHUNK - 1n : head;
      const logs = await this.#client.getLogs({ address: this.#registry, events: WATCHED, fromBlock: this.#next, toBlock: to, strict: true });
      const events: RegistryEvent[] = [];
      const seen = (view: SignedView, blockNumber: bigint): RegistryEvent => ({ type: "view", seen: { ...view, on: this.chainId, blockNumber } });
      for (const log of logs) {
        switch (log.eventName) {
          case "ViewAccepted":
          case "ViewConflicted":
            events.push(seen(signed(log.args.view_, log.args.signatures), log.blockNumber));
            break;
          case "ForkProven":
            events.push(seen(signed(log.args.a, log.args.sigA), log.blockNumber), seen(signed(log.args.b, log.args.sigB), log.blockNumber));
            break;
          case "ChainFrozen":
            events.push({ type: "frozen", chainId: log.args.chainId, on: this.chainId, blockNumber: log.blockNumber, reporter: log.args.reporter, slashed: log.args.slashed, reward: log.args.reward });
            break;
        }
      }
      await onEvents(events);
      this.#next = to + 1n;
    }
  }
}
