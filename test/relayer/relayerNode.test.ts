import assert from "node:assert/strict";
import { decodeFunctionData, keccak256, parseEther, stringToHex, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { gatewayAbi } from "../../relayer/chain/abis.js";
import type { Message } from "../../relayer/net/message.js";
import type { Transport } from "../../relayer/net/transport.js";
import { designatedFor } from "../../relayer/tasks/taskRunner.js";
import { getStorageProof } from "../../relayer/chain/recordProof.js";
import { recordSlot } from "../../relayer/chain/recordSlot.js";
import { deploySystem, type Chain } from "../fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg, type Swap } from "../fixtures/swap.js";
import { RelayerNetwork } from "../fixtures/relayerNetwork.js";
import { flipByte } from "../fixtures/tamper.js";

const Status = { Registered: 1, Committed: 2, Released: 3, Refunded: 4, Cancelled: 5 } as const;
const TTL = 90n;

async function statusOf(chain: Chain, id: Hex): Promise<number> {
  const [status] = await chain.gateway.read.recordOf([id]);
  return status;
}

/** A user on x pays 100 tokens for 1 coin of a user on y. */
async function tokenForCoin(x: Chain, y: Chain, salt: string): Promise<Swap> {
  const { alice, bob } = x.users;
  await x.token.write.mint([alice.account.address, 1000n]);
  return prepareSwap(
    { chain: x, payer: alice, beneficiary: bob.account.address, asset: x.token.address, amount: 100n, expiry: (await x.publicClient.getBlockNumber()) + TTL },
    { chain: y, payer: y.users.bob, beneficiary: alice.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await y.publicClient.getBlockNumber()) + TTL },
    keccak256(stringToHex(salt)),
  );
}

async function registerBoth(swaps: Swap[]) {
  for (const swap of swaps) {
    await registerLeg(swap.x, swap.regX);
    await registerLeg(swap.y, swap.regY);
  }
}

async function released(swaps: Swap[]): Promise<boolean> {
  for (const s of swaps) {
    if ((await statusOf(s.x.chain, s.idX)) !== Status.Released) return false;
    if ((await statusOf(s.y.chain, s.idY)) !== Status.Released) return false;
  }
  return true;
}

/** Every Gateway call a chain's history holds for `contractId`, by function name. */
async function gatewayCalls(chain: Chain, contractId: Hex): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  const head = await chain.publicClient.getBlockNumber();
  for (let n = 0n; n <= head; n++) {
    const block = await chain.publicClient.getBlock({ blockNumber: n, includeTransactions: true });
    for (const tx of block.transactions) {
      if (tx.to?.toLowerCase() !== chain.gateway.address.toLowerCase()) continue;
      try {
        const { functionName, args } = decodeFunctionData({ abi: gatewayAbi, data: tx.input });
        if (args?.[0] === contractId) calls[functionName] = (calls[functionName] ?? 0) + 1;
      } catch {
        // register and other calls the relayer ABI does not name
      }
    }
  }
  return calls;
}

describe("RelayerNode", function () {
  this.timeout(240_000);
  let chains: Chain[];
  let network: RelayerNetwork | undefined;

  beforeEach(async () => {
    chains = await deploySystem({ networks: ["chainA", "chainB", "chainC"], q: 4 });
  });
  afterEach(async () => {
    await network?.stop();
    network = undefined;
  });

  it("settles swaps between three chains by itself, with one node of B down, and refunds an unmatched one", async () => {
    const [a, b, c] = chains as [Chain, Chain, Chain];
    network = new RelayerNetwork(chains);
    await network.start();
    await network.stopNode(b.committee[0]!.address);

    // A transaction sent from a node's account by someone else: its nonces must not wedge.
    const nodeOfA = network.configs.find((cfg) => cfg.chainId === a.chainId)!;
    await a.users.deployer.sendTransaction({ account: privateKeyToAccount(nodeOfA.key), to: a.users.carol.account.address, value: 1n });

    const swaps = [await tokenForCoin(a, b, "ab"), await tokenForCoin(b, c, "bc"), await tokenForCoin(c, a, "ca")];
    const unmatched = await tokenForCoin(a, c, "unmatched");
    const txsBefore = await Promise.all(chains.map((ch) => ch.publicClient.getTransactionCount({ address: ch.users.alice.account.address })));
    await registerBoth(swaps);
    await registerLeg(unmatched.x, unmatched.regX);

    await network!.until("every matched swap released on both sides", () => released(swaps));
    await network!.until("the unmatched contract cancelled", async () => (await statusOf(a, unmatched.idX)) === Status.Cancelled);

    for (const s of swaps) {
      assert.equal(await s.x.chain.token.read.balanceOf([s.x.chain.users.bob.account.address]), 100n);
    }
    assert.equal(await a.token.read.balanceOf([a.gateway.address]), 0n, "A's escrow is empty: the unmatched 100 tokens went back");
    // The users sent only their registrations (and token approvals): the relayers did everything else.
    const txsAfter = await Promise.all(chains.map((ch) => ch.publicClient.getTransactionCount({ address: ch.users.alice.account.address })));
    assert.deepEqual(txsAfter.map((n, i) => n - txsBefore[i]!), [4, 2, 2]);

    const sent = network.messagesSent();
    const tasks = swaps.length * 2;
    const perTask = (sent.request?.count ?? 0) / tasks;
    console.log(`      messages: ${JSON.stringify(sent)}; requests per task side: ${perTask.toFixed(2)}`);
    assert.ok(perTask >= 4, "each side of a swap asks twice (pre-commit and terminate), each time (1 − r)·q + 1 = 2 nodes");
  });

  it("settles once, with no duplicate transaction, when the chosen node is killed mid-task and restarted", async () => {
    const [a, b] = chains as [Chain, Chain];
    network = new RelayerNetwork(chains.slice(0, 2));
    await network.start();
    const [swap] = [await tokenForCoin(a, b, "restart")] as [Swap];
    const chosen = designatedFor(`${swap.idX}:precommit`, a.committee.map((m) => m.address));
    const config = network.configs.find((cfg) => cfg.address === chosen)!;
    await registerBoth([swap]);

    // Kill it as soon as it has sent its pre-commit, before it could see the receipt.
    await network!.until("the chosen node sending its pre-commit", async () => network!.nodes.get(chosen)?.store.sent(`${swap.idX}:precommit`) !== undefined);
    await network.stopNode(chosen);
    // Its chain's endpoint goes down for a while too: the other nodes retry and resume.
    const rpc = network.rpc.get(a.chainId)!;
    await rpc.down();
    await new Promise((r) => setTimeout(r, 2_000));
    await rpc.up();
    const restarted = await network.startNode(config);

    await network!.until("the swap released on both sides", () => released([swap]));
    assert.deepEqual(await gatewayCalls(a, swap.idX), { precommit: 1, terminate: 1 });
    assert.deepEqual(await gatewayCalls(b, swap.idY), { precommit: 1, terminate: 1 });
    const rpcErrors = [...network.nodes.values()].filter((n) => n.config.chainId === a.chainId).reduce((sum, n) => sum + Object.values(n.metrics.snapshot().rpcErrors).reduce((x, y) => x + y, 0), 0);
    assert.ok(rpcErrors > 0, "A's nodes saw their endpoint fail");
    assert.equal(restarted.store.task(swap.idX)?.state, "released");
  });

  it("ignores a node that forges its check() answers, and settles through the honest ones", async () => {
    const [a, b] = chains as [Chain, Chain];
    // Every node of B but one forges: wrong value, wrong header, or another chain's proof.
    const forgers = new Map(b.committee.slice(0, 3).map((m, i) => [m.address.toLowerCase(), i]));
    // kind 0: wrong value (tampered leaf); 1: wrong header; 2: another chain's proof (A's Gateway storage, same slot and height).
    const forge = (inner: Transport, kind: number): Transport => {
      const asked = new Map<string, Hex>(); // requestId → contractId
      return {
      self: inner.self,
      start: () => inner.start(),
      stop: () => inner.stop(),
      connected: () => inner.connected(),
      onMessage: (handler) =>
        inner.onMessage((delivery) => {
          if (delivery.message.kind === "request") asked.set(delivery.message.requestId, delivery.message.contractId);
          handler(delivery);
        }),
      send: (to, message: Message) => {
        if (message.kind !== "answer") return inner.send(to, message);
        if (kind === 2) {
          const slot = recordSlot(asked.get(message.requestId) ?? `0x${"00".repeat(32)}`);
          void getStorageProof({ client: a.publicClient, address: a.gateway.address, slot, blockNumber: BigInt(message.height) })
            .then((proof) => inner.send(to, { ...message, proof }))
            .catch(() => inner.send(to, { ...message, proof: { ...message.proof, header: "0x" } }));
          return 1;
        }
        const proof = { ...message.proof };
        if (kind === 0) proof.storageProof = proof.storageProof.map((n, i, all) => (i === all.length - 1 ? flipByte(n, -1) : n));
        if (kind === 1) proof.header = flipByte(proof.header, 100);
        return inner.send(to, { ...message, proof });
      },
      };
    };
    network = new RelayerNetwork(chains.slice(0, 2), {
      wrapTransport: (transport, config) => {
        const kind = forgers.get(config.address.toLowerCase());
        return kind === undefined ? transport : forge(transport, kind);
      },
    });
    await network.start();
    const swap = await tokenForCoin(a, b, "forged");
    await registerBoth([swap]);
    await network!.until("the swap released on both sides", () => released([swap]));
    const refusedOnA = [...network.nodes.values()]
      .filter((n) => n.config.chainId === a.chainId)
      .reduce((sum, n) => sum + (n.metrics.snapshot().rejected["answer failed verification"] ?? 0), 0);
    assert.ok(refusedOnA > 0, "A's nodes refused the forged answers");
  });
});
