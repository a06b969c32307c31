import { BlockNotFoundError, toHex, type Hex, type PublicClient } from "viem";
import type { Clock } from "../clock.js";
import { backoff } from "../util/backoff.js";
import { ZERO_HASH } from "../view/view.js";
import type { Header, HeadFeed } from "./newHeads.js";

/** The bloom of a block that reports none (a pending block): it may hold any log. */
const FULL_BLOOM: Hex = `0x${"ff".repeat(256)}`;

/** The chain reorganized below a block the follower delivered: block `height` no longer follows the block delivered before it. */
export type Reorg = {
  /** Height of the block whose parent changed. */
  height: bigint;
  /** The hash delivered for height − 1. */
  delivered: Hex;
  /** The parent hash block `height` has now. */
  parentHash: Hex;
};

export type ChainFollowerOptions = {
  client: PublicClient;
  clock: Clock;
  pollMs: number;
  /**
   * Heads the chain pushes (NewHeads): while the feed is live the follower waits for a push instead of polling, and takes
   * the pushed head and the pushed headers below it instead of asking for them; after SILENT_POLLS polls' time without a
   * push it asks its endpoint, as it does whenever the feed is down.
   */
  heads?: HeadFeed;
  /** First height to deliver. */
  from: bigint;
  /** The hash delivered for height from − 1 before (a node resuming from its store): the first block must be its child. */
  parentHash?: Hex;
  /** How many blocks the head must be past a block before the block is delivered; 0 delivers the head itself. */
  finalityDepth: number;
  /** Called for every block in order, once each, with its header's logs bloom; the follower waits for it before the next block. */
  onBlock: (height: bigint, hash: Hex, logsBloom: Hex) => Promise<void> | void;
  /** Called when the endpoint fails; the follower retries with backoff. */
  onError: (error: unknown) => void;
  /** Called once, when the chain reorganized below a delivered block; the follower delivers nothing after it. */
  onReorg: (reorg: Reorg) => void;
};

/** Polls' time a live head feed may stay silent before the follower asks its endpoint (a stalled chain, a lost push). */
export const SILENT_POLLS = 4;

/**
 * Follows one chain over JSON-RPC: polls its head (or takes the heads it pushes, see `heads`) and delivers every block in
 * order once it is `finalityDepth` blocks deep, each one only if its parent is the block delivered before it. A reorganization shallower than finalityDepth
 * never reaches the node; a deeper one would hand it a block of another branch on top of blocks it may have signed
 * views of, so the follower stops there and reports it instead: a node that signed a view of a block must never sign
 * a view in which that block was replaced. A failing endpoint is retried with exponential backoff; nothing queues up
 * meanwhile, since blocks are read from the chain when it answers again.
 */
export class ChainFollower {
  readonly #o: ChainFollowerOptions;
  #next: bigint;
  #last: Hex | undefined;
  #head = -1n;
  #reorg: Reorg | undefined;
  #running = false;
  #stopped: Promise<void> = Promise.resolve();

  constructor(options: ChainFollowerOptions) {
    this.#o = options;
    this.#next = options.from;
    this.#last = options.parentHash;
  }

  /** Newest head seen. */
  get head(): bigint {
    return this.#head;
  }

  /** The reorganization that stopped delivery, if one did. */
  get reorg(): Reorg | undefined {
    return this.#reorg;
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
    const depth = BigInt(this.#o.finalityDepth);
    const heads = this.#o.heads;
    let pushed = false;
    while (this.#running) {
      try {
        // One request a poll, none when the head was pushed: the newest block, which is also the next to deliver when
        // the follower keeps up and the finality depth is 0. The head is still read after a reorganization stopped
        // delivery, for the node's other work and its status.
        // It is delivered as read only when it is the first block of this poll: once the follower waited for anything,
        // the chain may have moved to another branch, and each block is then read when its turn comes.
        // Pushed headers are of the newest push's branch, so they are taken only when the head itself was pushed.
        const feed = pushed ? heads : undefined;
        const latest = feed?.newest() ?? (await this.#header("latest"));
        this.#head = latest.number;
        let fresh = this.#next === latest.number ? latest : undefined;
        while (this.#running && this.#reorg === undefined && this.#next + depth <= this.#head) {
          await this.#deliverNext(fresh ?? feed?.header(this.#next) ?? (await this.#header(this.#next)));
          fresh = undefined;
        }
        retry.reset();
        pushed = false;
        if (heads?.live) pushed = await heads.wait(SILENT_POLLS * this.#o.pollMs);
        else await this.#o.clock.sleep(this.#o.pollMs);
      } catch (error) {
        this.#o.onError(error);
        await this.#o.clock.sleep(retry.next());
      }
    }
  }

  /**
   * The header fields the follower needs, read raw: viem's getBlock formats every field of the block, a third of the CPU
   * of a poll (0.78 ms against 0.48 ms here), and a poll is most of what an idle node does.
   */
  async #header(block: "latest" | bigint): Promise<Header> {
    const tag = block === "latest" ? block : toHex(block);
    const raw = await this.#o.client.request({ method: "eth_getBlockByNumber", params: [tag, false] });
    // A pending block has no number or hash: like a missing one, it is read again at the next poll.
    if (raw === null || raw.number === null || raw.hash === null) throw new BlockNotFoundError(block === "latest" ? {} : { blockNumber: block });
    return { number: BigInt(raw.number), hash: raw.hash, parentHash: raw.parentHash, logsBloom: raw.logsBloom };
  }

  async #deliverNext(block: Header): Promise<void> {
    // A zero parent hash says nothing: no block above genesis has it, but Hardhat reports it for the blocks that
    // hardhat_mine mines in bulk.
    const unknown = block.parentHash === ZERO_HASH;
    if (this.#last !== undefined && !unknown && block.parentHash.toLowerCase() !== this.#last.toLowerCase()) {
      this.#reorg = { height: this.#next, delivered: this.#last, parentHash: block.parentHash };
      this.#o.onReorg(this.#reorg);
      return;
    }
    await this.#o.onBlock(this.#next, block.hash, block.logsBloom ?? FULL_BLOOM);
    this.#last = block.hash;
    this.#next += 1n;
  }
}
