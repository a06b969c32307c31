import type { Address, Hex, PublicClient } from "viem";
import { getAcceptedView } from "../chain/acceptedView.js";
import { registryAbi } from "../chain/abis.js";
import type { QuietBlocks } from "../chain/quietBlocks.js";
import { scanBlocks } from "../chain/scanBlocks.js";
import type { Store } from "../store/store.js";
import type { Evidence, SignedView } from "../view/signedView.js";

/** What the watcher hands over, in the chain's order. */
export type RegistryWatcherHandlers = {
  onView: (view: SignedView) => Promise<void>;
  onEvidence: (evidence: Evidence) => void;
  onFrozen: (chainId: bigint) => void;
};

const WATCHED = (["ViewAccepted", "ViewConflicted", "ForkProven", "ChainFrozen"] as const).map((name) =>
  registryAbi.find((item): item is Extract<(typeof registryAbi)[number], { type: "event"; name: typeof name }> => item.type === "event" && item.name === name)!,
);

type EventView = { chainId: bigint; height: bigint; acc: Hex; hashes: readonly Hex[] };
const signed = (view: EventView, signatures: readonly Hex[]): SignedView => ({ view: { ...view, hashes: [...view.hashes] }, signatures: [...signatures] });

/**
 * Reads the views this node's own chain's ViewRegistry accepted, with their signatures, from its ViewAccepted events,
 * the fork evidence it acted on (ViewConflicted, paired with the accepted view it contradicts, and ForkProven), and the
 * chains it froze, so that a view or a fork posted here by anyone (an honest relayer, an attacker, through an EOA, a
 * multisig, a forwarder or the Gateway's batch steps, or a registration's genesis) enters the view list and meets
 * every other view the overlay carries.
 */
export class RegistryWatcher {
  readonly #client: PublicClient;
  readonly #registry: Address;
  readonly #store: Store;
  readonly #quiet: QuietBlocks | undefined;

  constructor({ client, registry, store, quiet }: { client: PublicClient; registry: Address; store: Store; quiet?: QuietBlocks }) {
    this.#client = client;
    this.#registry = registry;
    this.#store = store;
    this.#quiet = quiet;
  }

  /** Scans up to `head` and hands over what it finds. */
  async scan(head: bigint, { onView, onEvidence, onFrozen }: RegistryWatcherHandlers): Promise<void> {
    await scanBlocks({
      store: this.#store,
      name: "registry-scanned",
      head,
      quiet: this.#quiet,
      visit: async (fromBlock, toBlock) => {
        // One eth_getLogs for the four events, handed over in the chain's order (a freeze follows the evidence that caused it).
        const logs = await this.#client.getLogs({ address: this.#registry, events: WATCHED, fromBlock, toBlock, strict: true });
        for (const log of logs) {
          switch (log.eventName) {
            case "ViewAccepted":
              await onView(signed(log.args.view_, log.args.signatures));
              break;
            case "ViewConflicted": {
              const other = await getAcceptedView({ client: this.#client, registry: this.#registry, chainId: log.args.chainId, height: log.args.acceptedHeight });
              onEvidence({ a: { view: other.view, signatures: other.signatures }, b: signed(log.args.view_, log.args.signatures) });
              break;
            }
            case "ForkProven":
              onEvidence({ a: signed(log.args.a, log.args.sigA), b: signed(log.args.b, log.args.sigB) });
              break;
            case "ChainFrozen":
              onFrozen(log.args.chainId);
              break;
          }
        }
      },
    });
  }
}
