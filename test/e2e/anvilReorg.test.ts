import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createPublicClient, createTestClient, http, keccak256, stringToHex, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { parseNodeConfig, type NodeConfig } from "../../relayer/config/nodeConfig.js";
import { freePort } from "../fixtures/freePort.js";
import { MemoryHub, MemoryTransport } from "../../relayer/net/memoryTransport.js";
import { RelayerNode } from "../../relayer/node/relayerNode.js";
import { systemClock } from "../../relayer/clock.js";
import { relate } from "../../relayer/view/relate.js";
import { buildView, type View } from "../../relayer/view/view.js";
import { fromWireView } from "../../relayer/view/wireView.js";

const CHAIN_ID = 31_337;
const K = 8;
const FINALITY_DEPTH = 2;

/**
 * A relayer node on an Anvil chain (Foundry's node, from npm) whose blocks the test mines and reorganizes with
 * `anvil_reorg`. The node is its chain's whole committee (q = 1), so every view it signs is certified and stored: the
 * store shows everything it signed. Its chain has no contracts; the node only follows its chain and signs its views.
 */
describe("A relayer node on an Anvil chain that reorganizes", function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), "fibc-reorg-"));
  let anvil: ChildProcess;
  let url: string;
  let config: NodeConfig;
  let node: RelayerNode | undefined;
  const logs: string[] = [];

  const chain = () => createPublicClient({ transport: http(url, { retryCount: 0 }) });
  const rpc = () => createTestClient({ mode: "anvil", transport: http(url, { retryCount: 0 }) });
  const mine = (blocks: number) => rpc().mine({ blocks });
  const reorg = (depth: number) => rpc().request({ method: "anvil_reorg" as never, params: [depth, []] as never });
  const hashes = async (): Promise<Hex[]> => {
    const head = await chain().getBlockNumber({ cacheTime: 0 });
    return Promise.all(Array.from({ length: Number(head) + 1 }, (_, h) => chain().getBlock({ blockNumber: BigInt(h) }).then((b) => b.hash)));
  };
  /** Every view the node signed, from its store. */
  const certified = () => node!.store.latestSignedView(BigInt(CHAIN_ID))?.height ?? -1n;
  const signed = (): View[] =>
    Array.from({ length: Number(certified()) + 1 }, (_, h) => node!.store.signedView(BigInt(CHAIN_ID), BigInt(h))).flatMap((s) => (s === undefined ? [] : [fromWireView(s.view)]));
  const viewOf = (blockHashes: readonly Hex[], height: bigint) => buildView({ chainId: BigInt(CHAIN_ID), k: K, blockHashes: blockHashes.slice(0, Number(height) + 1) });
  async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${logs.slice(-20).join("\n")}`);
      await sleep(50);
    }
  }
  async function startNode(): Promise<RelayerNode> {
    const hub = new MemoryHub({ clock: systemClock });
    node = new RelayerNode({ config, transport: new MemoryTransport({ hub, address: config.address }), log: (line) => logs.push(line) });
    await node.start();
    return node;
  }

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // No --block-time: the chain moves only when the test mines.
    anvil = spawn(resolve("node_modules", ".bin", "anvil"), ["--port", String(port), "--chain-id", String(CHAIN_ID), "--silent"], { stdio: "ignore", detached: true });
    await until("Anvil answering", async () => (await chain().getChainId().catch(() => undefined)) === CHAIN_ID);
    const key = keccak256(stringToHex("reorg test validator"));
    const address = privateKeyToAccount(key).address;
    const nowhere = `0x${"ee".repeat(20)}`;
    config = parseNodeConfig({
      chainId: String(CHAIN_ID),
      key,
      rpcUrl: url,
      listen: { host: "127.0.0.1", port: 0 },
      store: join(dir, "node.sqlite"),
      k: K,
      chains: [{ chainId: String(CHAIN_ID), gateway: nowhere, registry: nowhere, committee: [address], k: K, finalityDepth: FINALITY_DEPTH }],
      rates: { pollMs: 100, viewSignEvery: 1 },
      refreshBlocks: 100,
    });
  });

  after(async function () {
    await node?.stop();
    if (anvil?.pid !== undefined) {
      try {
        process.kill(-anvil.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    if (this.test!.parent!.tests.every((t) => t.state === "passed")) rmSync(dir, { recursive: true, force: true });
  });

  it("signs only views finalityDepth blocks behind the head, and a reorg no deeper than that goes unnoticed", async () => {
    await mine(10);
    await startNode();
    await until("views signed up to head − finalityDepth", () => certified() === 8n);
    await sleep(500);
    assert.equal(certified(), 8n, "nothing closer to the head than finalityDepth");

    await reorg(FINALITY_DEPTH); // heights 9 and 10, never signed, replaced
    await mine(3);
    await until("views signed past the replaced heights", () => certified() === 11n);
    assert.equal(node!.status().reorg, null);
    const now = await hashes();
    for (const view of signed()) assert.deepEqual(view, viewOf(now, view.height), `the view at ${view.height} is of the chain that stayed`);
  });

  it("attack: a reorg deeper than finalityDepth makes the node stop signing and raise the alarm, rather than sign a view of the other branch", async () => {
    const before = await hashes(); // head 13, signed up to 11
    await reorg(5); // heights 9..13 replaced: 9, 10 and 11 were signed
    await mine(3);
    const after = await hashes();
    assert.notEqual(after[9], before[9], "anvil_reorg replaced height 9");

    await until("the reorg alarm", () => node!.status().reorg !== null);
    assert.deepEqual(node!.status().reorg, { height: "12", delivered: before[11], parentHash: after[11] });
    assert.match(node!.metrics.prometheus(), new RegExp(`^fibc_reorg_alarm\\{chain_id="${CHAIN_ID}"\\} 1$`, "m"));
    assert.ok(logs.some((line) => line.startsWith(`ALARM: chain ${CHAIN_ID} reorganized below what this node delivered`)));

    await mine(4);
    await sleep(1_000);
    assert.equal(certified(), 11n, "nothing signed after the alarm");
    const views = signed();
    // Every view it signed is a view of the branch it followed, and no two conflict: it signed no view of the other branch.
    for (const view of views) assert.deepEqual(view, viewOf(before, view.height), `the view at ${view.height} is of the branch the node followed`);
    for (const x of views) for (const y of views) assert.notEqual(relate(x, y), "conflicting");
  });

  it("raises the alarm again when restarted with the same store, and signs nothing of the other branch", async () => {
    await node!.stop();
    node = undefined;
    await startNode();
    await until("the reorg alarm after the restart", () => node!.status().reorg !== null);
    await mine(2);
    await sleep(1_000);
    assert.equal(certified(), 11n);
    assert.match(node!.metrics.prometheus(), new RegExp(`^fibc_reorg_alarm\\{chain_id="${CHAIN_ID}"\\} 1$`, "m"));
  });
});
