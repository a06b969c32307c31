import assert from "node:assert/strict";
import { decodeFunctionData, getAddress, keccak256, parseEther, stringToHex, type Address, type Hex, type PublicClient } from "viem";
import { registryAbi } from "../../relayer/chain/abis.js";
import { defaultRefreshBlocks } from "../../relayer/config/nodeConfig.js";
import { MAX_CONTRACTS_PER_REQUEST, REQUEST_ID_BYTES, type Message, type Reply, type Request } from "../../relayer/net/message.js";
import { decodeMessage } from "../../relayer/net/messageSchema.js";
import { RequestChannel } from "../../relayer/net/requestChannel.js";
import { SimulatedClock } from "../../relayer/sim/simulatedClock.js";
import type { Store } from "../../relayer/store/store.js";
import { requestProblem, serveCheck } from "../../relayer/tasks/serveCheck.js";
import { viewStart } from "../../relayer/view/view.js";
import { deploySystem, K, MAX_LIFETIME, mine, type Chain } from "../fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg } from "../fixtures/swap.js";
import { RelayerNetwork } from "../fixtures/relayerNetwork.js";
import { revertsWith } from "../fixtures/tamper.js";

const Status = { Registered: 1 } as const;
const CHAIN_B = 1002n;
const ids = (n: number): Hex[] => Array.from({ length: n }, (_, i) => keccak256(stringToHex(`ctx ${i}`)));
const refresh = (requestId: string, fields: Partial<Request> = {}): Request => ({
  kind: "request",
  requestId,
  chainId: CHAIN_B.toString(),
  contractIds: [],
  knownHeight: "100",
  minHeight: "351",
  ...fields,
});

/** Every submitView transaction sent to `chain`'s registry from block `from` on: who sent it and what it carried. */
async function submitViews(chain: Chain, from: bigint): Promise<{ sender: Address; chainId: bigint; height: bigint; start: bigint; bridge: readonly Hex[] }[]> {
  const found = [];
  const head = await chain.publicClient.getBlockNumber();
  for (let n = from; n <= head; n++) {
    const block = await chain.publicClient.getBlock({ blockNumber: n, includeTransactions: true });
    for (const tx of block.transactions) {
      if (tx.to?.toLowerCase() !== chain.registry.address.toLowerCase()) continue;
      const call = decodeFunctionData({ abi: chain.registry.abi, data: tx.input });
      if (call.functionName !== "submitView") continue;
      const [view, , bridge] = call.args;
      found.push({ sender: getAddress(tx.from), chainId: view.chainId, height: view.height, start: viewStart({ ...view, hashes: [...view.hashes] }), bridge });
    }
  }
  return found;
}

describe("RegistryRefresher", function () {
  this.timeout(300_000);

  describe("on a network of nodes with no swap", () => {
    let network: RelayerNetwork | undefined;
    afterEach(async () => {
      await network?.stop();
      network = undefined;
    });

    it("brings a registry idle for more than refreshBlocks up to date in one bridged submitView, so a far expiry registers again (stale-registry denial of swaps)", async () => {
      const [a, b] = (await deploySystem({ networks: ["chainA", "chainB"], q: 4 })) as [Chain, Chain];
      const refreshBlocks = BigInt(defaultRefreshBlocks(MAX_LIFETIME));
      assert.equal(refreshBlocks, MAX_LIFETIME / 4n, "no refreshBlocks configured: a quarter of the Gateway's maxLifetime");
      const idleFrom = await a.publicClient.getBlockNumber();
      const known = await a.registry.read.latestHeight([b.chainId]);
      // No swap between A and B while B runs well past refreshBlocks: A's registry still holds B's genesis view.
      await mine(b, Number(refreshBlocks) + 150);
      const [aHead, bHead] = [await a.publicClient.getBlockNumber(), await b.publicClient.getBlockNumber()];
      // An expiry on B further than maxLifetime past the view of B that A's registry holds, well within it past B's head.
      const far = bHead + MAX_LIFETIME - refreshBlocks;
      assert.ok(far > known + MAX_LIFETIME);
      const { alice } = a.users;
      const { bob } = b.users;
      const swap = await prepareSwap(
        { chain: a, payer: alice, beneficiary: bob.account.address, asset: NATIVE, amount: parseEther("1"), expiry: aHead + 600n },
        { chain: b, payer: bob, beneficiary: alice.account.address, asset: NATIVE, amount: parseEther("1"), expiry: far },
        keccak256(stringToHex("far")),
      );
      await assert.rejects(registerLeg(swap.x, swap.regX), revertsWith("GatewayLifetimeTooLong"));

      network = new RelayerNetwork([a, b]);
      await network.start();
      await network.until("A's registry catching up with B", async () => (await a.registry.read.latestHeight([b.chainId])) > known + refreshBlocks);

      const posts = (await submitViews(a, idleFrom)).filter((p) => p.chainId === b.chainId);
      assert.equal(posts.length, 1, `one submitView of B's view on A, got ${posts.length}`);
      const [post] = posts as [(typeof posts)[number]];
      const latest = await a.registry.read.latestHeight([b.chainId]);
      assert.equal(post.height, latest, "the one view posted is the registry's newest");
      assert.ok(post.height >= known + refreshBlocks + 1n, "it moved the registry by more than refreshBlocks");
      assert.equal(BigInt(post.bridge.length), post.start - known - 1n, "bridged from B's genesis view to the new view's window");
      assert.ok(post.bridge.length > K, "a gap far wider than a window, crossed in the same transaction");
      const nodesOfA = network.configs.filter((c) => c.chainId === a.chainId).map((c) => c.address);
      assert.ok(nodesOfA.includes(post.sender), "sent by one of A's nodes");
      const events = await a.publicClient.getContractEvents({ address: a.registry.address, abi: registryAbi, eventName: "ViewAccepted", args: { chainId: b.chainId }, fromBlock: idleFrom + 1n });
      assert.deepEqual(events.map((e) => e.args.height), [latest], "one view of B accepted on A, and no swap posted any");
      assert.ok(network.logs.some((line) => line.includes(`posted chain ${b.chainId}'s view at height ${latest}`)));

      await registerLeg(swap.x, swap.regX);
      const [status] = await a.gateway.read.recordOf([swap.idX]);
      assert.equal(status, Status.Registered, "the registration with the far expiry on B went through");
    });
  });

  describe("refresh requests (no contract ids)", () => {
    it("takes a refresh that asks for a view above its known height, and refuses one that asks for nothing, one at an accepted height or one for another chain, naming why", () => {
      assert.equal(requestProblem(refresh("ok"), CHAIN_B), undefined);
      assert.match(requestProblem(refresh("same", { minHeight: "100" }), CHAIN_B)!, /no contract ids asks for a view above its known height/);
      assert.match(requestProblem(refresh("below", { minHeight: "7" }), CHAIN_B)!, /no contract ids asks for a view above its known height/);
      assert.match(requestProblem(refresh("at", { atHeight: "100", minHeight: "100" }), CHAIN_B)!, /at an accepted height names 1 to 32 contract ids/);
      assert.match(requestProblem(refresh("chain", { chainId: "1001" }), CHAIN_B)!, /this node serves chain 1002/);
    });

    it("leaves an oversized or malformed request to the decoder, which refuses it before serveCheck sees it", () => {
      const id = "ab".repeat(REQUEST_ID_BYTES);
      assert.equal(decodeMessage(refresh(id)).ok, true);
      const refused = (fields: Partial<Request>) => {
        const decoded = decodeMessage(refresh(id, fields));
        assert.equal(decoded.ok, false, JSON.stringify(fields));
        return decoded.ok ? "" : decoded.reason;
      };
      assert.match(refused({ contractIds: ids(MAX_CONTRACTS_PER_REQUEST + 1) }), /contractIds: expected at most 32 contract ids/);
      assert.match(refused({ contractIds: undefined as never }), /contractIds/);
      assert.match(refused({ contractIds: ["0x12"] }), /contractIds: expected at most 32 contract ids/);
      assert.match(refused({ knownHeight: 5 as never }), /knownHeight: expected a decimal below 2\^64/);
    });

    it("answers a flood of refresh requests past maxRequestsPerSecond with rate limited, and one that asks for nothing or at an accepted height with its reason (request flooding)", async () => {
      const clock = new SimulatedClock();
      const sent: Message[] = [];
      const refused: string[] = [];
      // A store with no certified view yet: a valid refresh gets that far, and no further. It notes which requests reached it.
      let serving = "";
      const reached = new Set<string>();
      const store = { latestSignedView: () => (reached.add(serving), undefined) } as unknown as Store;
      const channel = new RequestChannel({
        clock,
        timeoutMs: 5_000,
        systems: new Map(),
        send: (_to, message) => (sent.push(message), 1),
        serve: (request) => ((serving = request.requestId), serveCheck({ request, chainId: CHAIN_B, client: {} as PublicClient, gateway: getAddress(`0x${"0b".repeat(20)}`), store })),
        maxRequestsPerSecond: 3,
        onRefused: (_from, reason) => refused.push(reason),
      });
      const peer = getAddress(`0x${"a1".repeat(20)}`);
      await channel.handle(peer, refresh("empty", { minHeight: "100" }));
      await channel.handle(peer, refresh("at", { atHeight: "100", minHeight: "100" }));
      for (let i = 0; i < 3; i++) await channel.handle(peer, refresh(`flood-${i}`));
      assert.deepEqual(sent.map((m) => (m as Reply).kind === "answer-error" && (m as Extract<Reply, { kind: "answer-error" }>).reason), [
        "a request with no contract ids asks for a view above its known height, and this one asks for nothing",
        `a request at an accepted height names 1 to ${MAX_CONTRACTS_PER_REQUEST} contract ids`,
        "no certified view reaches the requested height yet",
        "rate limited",
        "rate limited",
      ]);
      assert.deepEqual([...reached], ["flood-0"], "only the one valid refresh within the rate reached the store");
      assert.deepEqual(refused, ["rate limited", "rate limited"]);
    });

    it("is asked only for a view above the known height, never at an accepted height", async () => {
      const channel = new RequestChannel({
        clock: new SimulatedClock(),
        timeoutMs: 5_000,
        systems: new Map([[CHAIN_B, { members: [getAddress(`0x${"b0".repeat(20)}`)], rNumerator: 2, rDenominator: 3 }]]),
        send: () => 1,
        serve: async () => {
          throw new Error("not serving");
        },
        maxRequestsPerSecond: 3,
        onRefused: () => {},
      });
      const verify = async () => true;
      await assert.rejects(channel.ask({ chainId: CHAIN_B, contractIds: [], knownHeight: 10n, minHeight: 10n, verify }), RangeError);
      await assert.rejects(channel.ask({ chainId: CHAIN_B, contractIds: [], knownHeight: 10n, minHeight: 11n, atHeight: 10n, verify }), RangeError);
    });
  });
});
