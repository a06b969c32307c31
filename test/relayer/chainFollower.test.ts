import assert from "node:assert/strict";
import fc from "fast-check";
import { keccak256, toHex, type Hex, type PublicClient } from "viem";
import { ChainFollower, type Reorg } from "../../relayer/chain/chainFollower.js";
import { SimulatedClock } from "../../relayer/sim/simulatedClock.js";
import { relate } from "../../relayer/view/relate.js";
import { buildView, type View } from "../../relayer/view/view.js";
import { ViewTracker } from "../../relayer/view/viewTracker.js";

const POLL_MS = 100;
const K = 4;
const CHAIN_ID = 1001n;

type Block = { hash: Hex; parentHash: Hex };

/** A chain served by a fake JSON-RPC client, whose newest blocks can be replaced by another branch (a reorganization). */
class FakeChain {
  /** The canonical chain, by height. */
  readonly blocks: Block[] = [];
  /** Every block ever made, by hash: what a follower may have been handed. */
  readonly made = new Map<Hex, Block>();
  #serial = 0;

  constructor() {
    this.mine(1);
  }

  get head(): bigint {
    return BigInt(this.blocks.length - 1);
  }

  mine(count: number): void {
    for (let i = 0; i < count; i++) {
      const parentHash = this.blocks.at(-1)?.hash ?? `0x${"00".repeat(32)}`;
      const block = { hash: keccak256(toHex(`block ${this.#serial++}`)), parentHash };
      this.blocks.push(block);
      this.made.set(block.hash, block);
    }
  }

  /** Replaces the newest `depth` blocks (never genesis) with as many of another branch, as anvil_reorg does. */
  reorg(depth: number): void {
    const replaced = Math.min(depth, this.blocks.length - 1);
    this.blocks.splice(this.blocks.length - replaced);
    this.mine(replaced);
  }

  /** The one JSON-RPC call a follower makes: eth_getBlockByNumber of "latest" or a height, without transactions. */
  readonly client = {
    request: async ({ method, params: [tag] }: { method: string; params: [Hex | "latest", boolean] }) => {
      assert.equal(method, "eth_getBlockByNumber");
      const number = tag === "latest" ? this.head : BigInt(tag);
      const block = this.blocks[Number(number)];
      return block === undefined ? null : { ...block, number: toHex(number), logsBloom: null };
    },
  } as unknown as PublicClient;
}

/**
 * A follower feeding a view tracker, as a relayer node does: every delivered block's view is one the node may sign.
 * Resumes from `from` (a tracker and the hash delivered last) when given.
 */
function follow(chain: FakeChain, clock: SimulatedClock, finalityDepth: number, from?: { tracker: ViewTracker; parentHash: Hex }) {
  const tracker = from?.tracker ?? new ViewTracker({ chainId: CHAIN_ID, k: K });
  const delivered: Hex[] = [];
  const signable: View[] = [];
  const reorgs: Reorg[] = [];
  const follower = new ChainFollower({
    client: chain.client,
    clock,
    pollMs: POLL_MS,
    from: tracker.next,
    ...(from === undefined ? {} : { parentHash: from.parentHash }),
    finalityDepth,
    onBlock: (height, hash) => {
      tracker.push(height, hash);
      delivered.push(hash);
      signable.push(tracker.view());
    },
    onError: (error) => assert.fail(`the fake endpoint never fails: ${String(error)}`),
    onReorg: (reorg) => reorgs.push(reorg),
  });
  follower.start();
  return { follower, tracker, delivered, signable, reorgs };
}

/** Each delivered block is the child of the one delivered before it: the blocks handed over are one chain's history. */
function assertOneChain(chain: FakeChain, delivered: readonly Hex[], parentOfFirst?: Hex): void {
  delivered.forEach((hash, i) => {
    const parent = i === 0 ? parentOfFirst : delivered[i - 1];
    if (parent !== undefined) assert.equal(chain.made.get(hash)!.parentHash, parent, `block ${i} delivered on top of a block of another branch`);
  });
}

/** No two views the node could sign conflict (relate), and each is the view of the chain it was delivered from. */
function assertNoConflict(views: readonly View[]): void {
  for (let i = 0; i < views.length; i++) {
    for (let j = i + 1; j < views.length; j++) assert.notEqual(relate(views[i]!, views[j]!), "conflicting", `views at ${views[i]!.height} and ${views[j]!.height} conflict`);
  }
}

describe("ChainFollower", () => {
  let clock: SimulatedClock;
  const running: ChainFollower[] = [];
  beforeEach(() => {
    clock = new SimulatedClock();
  });
  afterEach(async () => {
    const stopping = running.splice(0).map((f) => f.stop());
    await clock.advance(POLL_MS);
    await Promise.all(stopping);
  });
  /** Stops a follower, letting its sleep on the simulated clock end. */
  const halt = async (follower: ChainFollower) => {
    const stopped = follower.stop();
    await clock.advance(POLL_MS);
    await stopped;
  };
  const polls = async (n: number) => {
    for (let i = 0; i < n; i++) await clock.advance(POLL_MS);
  };
  const started = (...args: Parameters<typeof follow>) => {
    const f = follow(...args);
    running.push(f.follower);
    return f;
  };

  it("delivers each block once finalityDepth blocks are on top of it, in order, once each", async () => {
    const chain = new FakeChain();
    chain.mine(10);
    const { delivered } = started(chain, clock, 3);
    await polls(1);
    assert.deepEqual(delivered, chain.blocks.slice(0, 8).map((b) => b.hash), "heights 0..7 of a head at 10");
    chain.mine(2);
    await polls(2);
    assert.deepEqual(delivered, chain.blocks.slice(0, 10).map((b) => b.hash));
  });

  it("takes a zero parent hash (what Hardhat reports for blocks hardhat_mine mines in bulk) as unknown, not as a reorg", async () => {
    const chain = new FakeChain();
    chain.mine(6);
    for (const block of chain.blocks.slice(3)) block.parentHash = `0x${"00".repeat(32)}`;
    const { delivered, reorgs } = started(chain, clock, 0);
    await polls(1);
    assert.equal(delivered.length, 7);
    assert.deepEqual(reorgs, []);
  });

  it("attack: a reorg no deeper than finalityDepth goes unnoticed, and every view the node could sign is of the chain that stays", async () => {
    const chain = new FakeChain();
    chain.mine(20);
    const { delivered, signable, reorgs } = started(chain, clock, 3);
    await polls(1);
    chain.reorg(3);
    chain.mine(5);
    await polls(2);
    assert.deepEqual(reorgs, []);
    assert.equal(delivered.length, chain.blocks.length - 3);
    for (const view of signable) assert.deepEqual(view, buildView({ chainId: CHAIN_ID, k: K, blockHashes: chain.blocks.slice(0, Number(view.height) + 1).map((b) => b.hash) }));
  });

  it("attack: a reorg deeper than finalityDepth stops delivery and raises the alarm instead of handing over a block of the other branch", async () => {
    const chain = new FakeChain();
    chain.mine(20);
    const { follower, delivered, signable, reorgs } = started(chain, clock, 2);
    await polls(1);
    assert.equal(delivered.length, 19, "heights 0..18");
    const replaced = chain.blocks[18]!.hash;
    chain.reorg(5); // heights 16..20
    chain.mine(3);
    await polls(3);
    assert.deepEqual(reorgs, [{ height: 19n, delivered: replaced, parentHash: chain.blocks[18]!.hash }]);
    assert.deepEqual(follower.reorg, reorgs[0]);
    assert.equal(delivered.length, 19, "nothing delivered after the alarm");
    assertOneChain(chain, delivered);
    assertNoConflict(signable);
    chain.mine(5);
    await polls(3);
    assert.equal(delivered.length, 19, "it stays stopped");
    assert.equal(reorgs.length, 1, "one alarm");
    assert.equal(follower.head, chain.head, "the head is still read");
  });

  it("checks a resumed follower's first block against the block delivered before the restart", async () => {
    const chain = new FakeChain();
    chain.mine(12);
    const first = started(chain, clock, 1);
    await polls(1);
    await halt(first.follower);
    const resumeAt = { tracker: first.tracker, parentHash: first.delivered.at(-1)! };

    // Nothing changed: the resumed follower goes on where the first stopped.
    chain.mine(2);
    const again = started(chain, clock, 1, resumeAt);
    await polls(1);
    assert.deepEqual(again.reorgs, []);
    assertOneChain(chain, [...first.delivered, ...again.delivered]);
    await halt(again.follower);

    // The chain reorganized below the last block delivered while the node was down: the first block is refused.
    chain.reorg(4);
    chain.mine(2);
    const afterReorg = started(chain, clock, 1, { tracker: again.tracker, parentHash: again.delivered.at(-1)! });
    await polls(1);
    assert.deepEqual(afterReorg.delivered, []);
    assert.equal(afterReorg.reorgs.length, 1);
  });

  it("never hands over a block that does not follow the last one, and alarms exactly when a reorg replaced a delivered block (any reorgs, any depth)", async () => {
    const outcomes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 4 }),
        fc.array(fc.oneof(fc.record({ mine: fc.integer({ min: 1, max: 4 }) }), fc.record({ reorg: fc.integer({ min: 1, max: 8 }) }), fc.record({ poll: fc.constant(true) })), { maxLength: 25 }),
        async (finalityDepth, moves) => {
          const runClock = new SimulatedClock();
          const chain = new FakeChain();
          chain.mine(3);
          const { follower, delivered, signable, reorgs } = follow(chain, runClock, finalityDepth);
          let deepest = 0;
          for (const move of moves) {
            if ("mine" in move) chain.mine(move.mine);
            else if ("reorg" in move) {
              chain.reorg(move.reorg);
              deepest = Math.max(deepest, move.reorg);
            } else await runClock.advance(POLL_MS);
          }
          // Enough new blocks that a follower still delivering reaches past every replaced height.
          chain.mine(finalityDepth + 1);
          await runClock.advance(POLL_MS);
          const stopped = follower.stop();
          await runClock.advance(POLL_MS);
          await stopped;

          assertOneChain(chain, delivered);
          assertNoConflict(signable);
          const lost = delivered.some((hash, height) => chain.blocks[height]?.hash !== hash);
          assert.equal(reorgs.length > 0, lost, lost ? "a delivered block was replaced: alarm" : "every delivered block is still on the chain: no alarm");
          if (deepest <= finalityDepth) assert.deepEqual(reorgs, [], "reorgs within finalityDepth never reach the node");
          if (reorgs.length === 0) assert.equal(BigInt(delivered.length), chain.head - BigInt(finalityDepth) + 1n, "delivered up to head − finalityDepth");
          outcomes.add(reorgs.length > 0 ? "alarm" : deepest > 0 ? "reorg unnoticed" : "no reorg");
        },
      ),
      { numRuns: 200, seed: 42 },
    );
    assert.deepEqual([...outcomes].sort(), ["alarm", "no reorg", "reorg unnoticed"]);
  });
});
