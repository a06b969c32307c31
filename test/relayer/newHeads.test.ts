import assert from "node:assert/strict";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { keccak256, toHex, type Hex, type PublicClient } from "viem";
import { WebSocketServer, type WebSocket } from "ws";
import { ChainFollower, type Reorg } from "../../relayer/chain/chainFollower.js";
import { NewHeads } from "../../relayer/chain/newHeads.js";
import { systemClock } from "../../relayer/clock.js";
import { freePort } from "../fixtures/freePort.js";

const POLL_MS = 50;

type Block = { number: bigint; hash: Hex; parentHash: Hex };

/**
 * A chain with a JSON-RPC endpoint over HTTP (a fake client that counts what it is asked) and one over WebSocket that
 * answers eth_subscribe("newHeads") and pushes each block it mines, as Hardhat and Anvil do. The WebSocket endpoint can
 * be stopped and started again on its port, and can be told to refuse subscriptions or to push what is no header.
 */
class PushingChain {
  readonly blocks: Block[] = [];
  /** eth_getBlockByNumber requests the follower sent over HTTP, by tag ("latest" or a height). */
  readonly asked: string[] = [];
  refuse = false;
  #server: WebSocketServer | undefined;
  readonly #subscribers = new Set<WebSocket>();
  #serial = 0;

  constructor(readonly port: number) {
    this.#mineOne();
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async startEndpoint(): Promise<void> {
    const server = new WebSocketServer({ host: "127.0.0.1", port: this.port });
    await once(server, "listening");
    server.on("connection", (ws) => {
      ws.on("message", (data) => {
        const request = JSON.parse(String(data)) as { id: number; method: string };
        if (request.method !== "eth_subscribe") return;
        if (this.refuse) return ws.send(JSON.stringify({ jsonrpc: "2.0", id: request.id, error: { code: -32601, message: "subscriptions not supported" } }));
        ws.send(JSON.stringify({ jsonrpc: "2.0", id: request.id, result: "0x1" }));
        this.#subscribers.add(ws);
      });
      ws.on("close", () => this.#subscribers.delete(ws));
    });
    this.#server = server;
  }

  async stopEndpoint(): Promise<void> {
    for (const ws of this.#subscribers) ws.terminate();
    this.#subscribers.clear();
    await new Promise<void>((resolve) => this.#server!.close(() => resolve()));
  }

  /** Mines a block and pushes its header to every subscriber. */
  mine(): Block {
    const block = this.#mineOne();
    this.push({ number: toHex(block.number), hash: block.hash, parentHash: block.parentHash, logsBloom: `0x${"00".repeat(256)}` });
    return block;
  }

  push(result: unknown): void {
    for (const ws of this.#subscribers) ws.send(JSON.stringify({ jsonrpc: "2.0", method: "eth_subscription", params: { subscription: "0x1", result } }));
  }

  get subscribed(): boolean {
    return this.#subscribers.size > 0;
  }

  readonly client = {
    request: async ({ params: [tag] }: { method: string; params: [Hex | "latest", boolean] }) => {
      this.asked.push(tag);
      const block = tag === "latest" ? this.blocks.at(-1)! : this.blocks[Number(BigInt(tag))];
      return block === undefined ? null : { number: toHex(block.number), hash: block.hash, parentHash: block.parentHash, logsBloom: null };
    },
  } as unknown as PublicClient;

  #mineOne(): Block {
    const parentHash = this.blocks.at(-1)?.hash ?? `0x${"00".repeat(32)}`;
    const block = { number: BigInt(this.blocks.length), hash: keccak256(toHex(`block ${this.#serial++}`)), parentHash };
    this.blocks.push(block);
    return block;
  }
}

/**
 * Runs `body` with a pushing chain whose WebSocket endpoint is up (refusing subscriptions with `refuse`) and a follower of
 * it fed by a NewHeads subscription, recording what it delivers; stops both afterwards, whatever happened.
 */
async function following(body: (chain: PushingChain, f: Followed) => Promise<void>, { refuse = false } = {}): Promise<void> {
  const chain = new PushingChain(await freePort());
  chain.refuse = refuse;
  await chain.startEndpoint();
  const f: Followed = { delivered: [], reorgs: [], errors: [], heads: new NewHeads({ url: chain.url, clock: systemClock, onError: (error) => f.errors.push(error.message) }) };
  const follower = new ChainFollower({
    client: chain.client,
    clock: systemClock,
    pollMs: POLL_MS,
    heads: f.heads,
    from: 0n,
    finalityDepth: 0,
    onBlock: (height, hash) => void f.delivered.push({ height, hash }),
    onError: () => {},
    onReorg: (reorg) => void f.reorgs.push(reorg),
  });
  f.heads.start();
  follower.start();
  try {
    await body(chain, f);
  } finally {
    f.heads.stop();
    await follower.stop();
    await chain.stopEndpoint();
  }
}

type Followed = { heads: NewHeads; delivered: { height: bigint; hash: Hex }[]; reorgs: Reorg[]; errors: string[] };

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("NewHeads (the heads a chain pushes, in place of polling)", function () {
  this.timeout(30_000);

  it("follows a chain from the heads it pushes: every block delivered in order, and no request for the newest block while pushes come", async () => {
    await following(async (chain, f) => {
      await until(() => f.heads.live && chain.subscribed, "the subscription");
      // The follower may be in the poll it began before the feed was live: one pushed block later it waits on the feed.
      chain.mine();
      await until(() => f.delivered.length === chain.blocks.length, "the first pushed block");
      await sleep(2 * POLL_MS);
      const asked = chain.asked.length;
      for (let i = 0; i < 20; i++) {
        chain.mine();
        await sleep(POLL_MS / 2);
      }
      await until(() => f.delivered.length === chain.blocks.length, "every block");
      assert.deepEqual(f.delivered, chain.blocks.map((b) => ({ height: b.number, hash: b.hash })));
      // Twenty blocks of pushes: the follower asked its HTTP endpoint nothing (a silence longer than SILENT_POLLS polls
      // would have made it ask).
      assert.equal(chain.asked.length - asked, 0, `asked ${JSON.stringify(chain.asked.slice(asked))}`);
      assert.deepEqual(f.reorgs, []);
    });
  });

  it("polls while its endpoint is gone, and takes pushes again once it is back (an endpoint restart)", async () => {
    await following(async (chain, f) => {
      await until(() => f.heads.live, "the subscription");
      await chain.stopEndpoint();
      await until(() => !f.heads.live, "the feed to notice");
      const before = chain.asked.length;
      for (let i = 0; i < 5; i++) chain.mine();
      await until(() => f.delivered.length === chain.blocks.length, "the blocks mined while the feed was down");
      assert.ok(chain.asked.length > before, "the follower polled while the feed was down");
      await chain.startEndpoint();
      await until(() => f.heads.live && chain.subscribed, "the subscription made again", 10_000);
      chain.mine();
      await until(() => f.delivered.length === chain.blocks.length, "the first block pushed after the return");
      await sleep(2 * POLL_MS);
      const asked = chain.asked.length;
      for (let i = 0; i < 5; i++) {
        chain.mine();
        await sleep(POLL_MS / 2);
      }
      await until(() => f.delivered.length === chain.blocks.length, "the blocks pushed after the return");
      assert.equal(chain.asked.length - asked, 0);
      assert.deepEqual(f.delivered, chain.blocks.map((b) => ({ height: b.number, hash: b.hash })));
    });
  });

  it("drops a pushed notification that is no header and reads the block itself; a pushed head off the delivered chain raises the reorg alarm", async () => {
    await following(async (chain, f) => {
      await until(() => f.heads.live && chain.subscribed, "the subscription");
      await until(() => f.delivered.length === chain.blocks.length, "genesis");
      const block = chain.mine();
      chain.push({ number: "0xzz", hash: "nope" });
      chain.push({ number: toHex(block.number + 1n), parentHash: block.hash }); // no hash
      await until(() => f.delivered.length === chain.blocks.length, "the block pushed before the garbage");
      assert.deepEqual(f.delivered.at(-1), { height: block.number, hash: block.hash });
      // A head at the next height whose parent is not the delivered block: the same alarm as a polled one.
      chain.push({ number: toHex(block.number + 1n), hash: keccak256(toHex("other branch")), parentHash: keccak256(toHex("not the parent")) });
      await until(() => f.reorgs.length === 1, "the reorg alarm");
      assert.equal(f.reorgs[0]!.height, block.number + 1n);
      assert.equal(f.delivered.length, chain.blocks.length);
    });
  });

  it("polls, and says why, when the endpoint refuses the subscription", async () => {
    await following(async (chain, f) => {
      await until(() => f.errors.some((e) => /subscriptions not supported/.test(e)), "the refusal");
      assert.equal(f.heads.live, false);
      for (let i = 0; i < 3; i++) chain.mine();
      await until(() => f.delivered.length === chain.blocks.length, "the blocks, polled");
      assert.ok(chain.asked.filter((t) => t === "latest").length >= 2);
    }, { refuse: true });
  });
});
