import type { Hex, PublicClient } from "viem";
import type { Clock } from "../clock.js";
import { backoff } from "../util/backoff.js";

export type ChainFollowerOptions = {
  client: PublicClient;
  clock: Clock;
  pollMs: number;
  /** First height to deliver. */
  from: bigint;
  /** Called for every block in order, once each; the follower waits for it before the next block. */
  onBlock: (height: bigint, hash: Hex) => Promise<void> | void;
  /** Called when the endpoint fails; the follower retries with backoff. */
  onError: (error: unknown) => void;
};

/**
 * Follows one chain over JSON-RPC: polls its head and delivers every new block in order. A failing
 * endpoint is retried with exponential backoff; nothing queues up meanwhile, since blocks are read
 * from the chain when it answers again.
 */
export class ChainFollower {
  readonly #o: ChainFollowerOptions;
  #next: bigint;
  #head = -1n;
  #running = false;
  #stopped: Promise<void> = Promise.resolve();

  constructor(options: ChainFollowerOptions) {
    this.#o = options;
    this.#next = options.from;
  }

  /** Newest head seen. */
  get head(): bigint {
    return this.#head;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopped = this.#loop();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#stopped;
  }

  async #loop(): Promise<void> {
    const retry = backoff({ initialMs: this.#o.pollMs, maxMs: 10_000 });
    while (this.#running) {
      try {
        this.#head = await this.#o.client.getBlockNumber({ cacheTime: 0 });
        while (this.#running && this.#next <= this.#head) {
          const block = await this.#o.client.getBlock({ blockNumber: this.#next });
          await this.#o.onBlock(this.#next, block.hash);
          this.#next += 1n;
        }
        retry.reset();
        await this.#o.clock.sleep(this.#o.pollMs);
      } catch (error) {
        this.#o.onError(error);
        await this.#o.clock.sleep(retry.next());
      }
    }
  }
}
