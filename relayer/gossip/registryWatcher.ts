import { decodeFunctionData, type Address, type PublicClient } from "viem";
import { registryAbi } from "../chain/abis.js";
import type { Store } from "../store/store.js";
import type { SignedView } from "./viewList.js";

const CURSOR = "registry-scanned";
const CHUNK = 2_000n;

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
    let from = (this.#store.getCursor(CURSOR) ?? -1n) + 1n;
    while (from <= head) {
      const to = from + CHUNK - 1n < head ? from + CHUNK - 1n : head;
      const range = { address: this.#registry, abi: registryAbi, fromBlock: from, toBlock: to } as const;
      const [accepted, frozen] = await Promise.all([
        this.#client.getContractEvents({ ...range, eventName: "ViewAccepted" }),
        this.#client.getContractEvents({ ...range, eventName: "ChainFrozen" }),
      ]);
      for (const log of accepted) {
        const tx = await this.#client.getTransaction({ hash: log.transactionHash });
        try {
          const { functionName, args } = decodeFunctionData({ abi: registryAbi, data: tx.input });
          if (functionName !== "submitView") continue;
          const [view, signatures] = args;
          await onView({ view: { ...view, hashes: [...view.hashes] }, signatures: [...signatures] });
        } catch {
          // accepted through another entry point (registration): its genesis view is not gossiped
        }
      }
      for (const log of frozen) onFrozen(log.args.chainId!);
      this.#store.setCursor(CURSOR, to);
      from = to + 1n;
    }
  }
}
