import type { Address, PublicClient } from "viem";
import { registryAbi } from "../chain/abis.js";
import { scanBlocks } from "../chain/scanBlocks.js";
import type { Store } from "../store/store.js";
import type { SignedView } from "./viewList.js";

/**
 * Reads the views this node's own chain's ViewRegistry accepted, with their signatures, from its ViewAccepted events,
 * and the chains it froze, so that a view posted here by anyone (an honest relayer, an attacker, through an EOA, a
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

  /** Scans up to `head`; hands over every accepted signed view and every frozen chain, in the chain's order. */
  async scan(head: bigint, onView: (view: SignedView) => Promise<void>, onFrozen: (chainId: bigint) => void): Promise<void> {
    await scanBlocks({
      store: this.#store,
      name: "registry-scanned",
      head,
      visit: async (fromBlock, toBlock) => {
        const range = { address: this.#registry, abi: registryAbi, fromBlock, toBlock } as const;
        const [accepted, frozen] = await Promise.all([
          this.#client.getContractEvents({ ...range, eventName: "ViewAccepted" }),
          this.#client.getContractEvents({ ...range, eventName: "ChainFrozen" }),
        ]);
        for (const { args } of accepted) {
          const view = args.view_!;
          await onView({ view: { ...view, hashes: [...view.hashes] }, signatures: [...args.signatures!] });
        }
        for (const log of frozen) onFrozen(log.args.chainId!);
      },
    });
  }
}
