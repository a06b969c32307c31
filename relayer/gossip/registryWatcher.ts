import { decodeFunctionData, type Address, type Hex, type PublicClient } from "viem";
import { registryAbi } from "../chain/abis.js";
import { scanBlocks } from "../chain/scanBlocks.js";
import type { Store } from "../store/store.js";
import type { SignedView } from "./viewList.js";


/**
 * Reads the views this node's own chain's ViewRegistry accepted (with their signatures, from the
 * submitting transactions' calldata) and the chains it froze, so that a view posted here by anyone,
 * honest relayer or attacker, enters the view list and meets every other view the overlay carries.
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

  /** Scans up to `head`; hands over every accepted signed view and every frozen chain. */
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
        for (const log of accepted) {
          const tx = await this.#client.getTransaction({ hash: log.transactionHash });
          const call = decodeSubmitView(tx.input);
          // A view accepted through another entry point (a registration's genesis view) is not gossiped.
          if (call !== undefined) await onView(call);
        }
        for (const log of frozen) onFrozen(log.args.chainId!);
      },
    });
  }
}

/** The signed view of a `submitView` call's calldata, or undefined for any other call. */
function decodeSubmitView(input: Hex): SignedView | undefined {
  try {
    const { functionName, args } = decodeFunctionData({ abi: registryAbi, data: input });
    if (functionName !== "submitView") return undefined;
    const [view, signatures] = args;
    return { view: { ...view, hashes: [...view.hashes] }, signatures: [...signatures] };
  } catch {
    return undefined;
  }
}
