import type { Address, Hex, PublicClient } from "viem";
import { getAcceptedView } from "../chain/acceptedView.js";
import { registryAbi } from "../chain/abis.js";
import { scanBlocks } from "../chain/scanBlocks.js";
import type { Store } from "../store/store.js";
import type { Evidence, SignedView } from "./viewList.js";

/** What the watcher hands over, in the chain's order: accepted views, then fork evidence, then freezes. */
export type RegistryWatcherHandlers = {
  onView: (view: SignedView) => Promise<void>;
  onEvidence: (evidence: Evidence) => void;
  onFrozen: (chainId: bigint) => void;
};

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

  constructor({ client, registry, store }: { client: PublicClient; registry: Address; store: Store }) {
    this.#client = client;
    this.#registry = registry;
    this.#store = store;
  }

  /** Scans up to `head` and hands over what it finds. */
  async scan(head: bigint, { onView, onEvidence, onFrozen }: RegistryWatcherHandlers): Promise<void> {
    await scanBlocks({
      store: this.#store,
      name: "registry-scanned",
      head,
      visit: async (fromBlock, toBlock) => {
        const range = { address: this.#registry, abi: registryAbi, fromBlock, toBlock } as const;
        const [accepted, conflicted, proven, frozen] = await Promise.all([
          this.#client.getContractEvents({ ...range, eventName: "ViewAccepted" }),
          this.#client.getContractEvents({ ...range, eventName: "ViewConflicted" }),
          this.#client.getContractEvents({ ...range, eventName: "ForkProven" }),
          this.#client.getContractEvents({ ...range, eventName: "ChainFrozen" }),
        ]);
        for (const { args } of accepted) await onView(signed(args.view_!, args.signatures!));
        for (const { args } of conflicted) {
          const other = await getAcceptedView({ client: this.#client, registry: this.#registry, chainId: args.chainId!, height: args.acceptedHeight! });
          onEvidence({ a: { view: other.view, signatures: other.signatures }, b: signed(args.view_!, args.signatures!) });
        }
        for (const { args } of proven) onEvidence({ a: signed(args.a!, args.sigA!), b: signed(args.b!, args.sigB!) });
        for (const log of frozen) onFrozen(log.args.chainId!);
      },
    });
  }
}
