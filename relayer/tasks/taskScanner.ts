import type { Address, PublicClient } from "viem";
import { gatewayAbi } from "../chain/abis.js";
import type { QuietBlocks } from "../chain/quietBlocks.js";
import { scanBlocks } from "../chain/scanBlocks.js";
import type { Store } from "../store/store.js";

/**
 * Finds the contract transactions registered on this node's chain (ContractRegistered events) and
 * stores them as tasks, with the full terms the event carries (every later Gateway step takes them back). The scanned height is stored too: a restarted node rescans only what it has not
 * seen, and a task is never stored twice.
 */
export class TaskScanner {
  readonly #client: PublicClient;
  readonly #gateway: Address;
  readonly #store: Store;
  readonly #quiet: QuietBlocks | undefined;

  constructor({ client, gateway, store, quiet }: { client: PublicClient; gateway: Address; store: Store; quiet?: QuietBlocks }) {
    this.#client = client;
    this.#gateway = gateway;
    this.#store = store;
    this.#quiet = quiet;
  }

  /** Scans up to `head`; returns how many new tasks it found. */
  async scan(head: bigint): Promise<number> {
    let found = 0;
    await scanBlocks({
      store: this.#store,
      name: "scanned",
      head,
      quiet: this.#quiet,
      visit: async (fromBlock, toBlock) => {
        const logs = await this.#client.getContractEvents({ address: this.#gateway, abi: gatewayAbi, eventName: "ContractRegistered", fromBlock, toBlock });
        for (const { args } of logs) {
          if (this.#store.task(args.contractId!) !== undefined) continue;
          this.#store.upsertTask({ contractId: args.contractId!, mirrorId: args.mirrorId!, terms: { ...args.terms! }, state: "registered" });
          found++;
        }
      },
    });
    return found;
  }
}
