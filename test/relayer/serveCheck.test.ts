import assert from "node:assert/strict";
import { keccak256, stringToHex, type Hex, type PublicClient } from "viem";
import type { Reply, Request } from "../../relayer/net/message.js";
import { Store } from "../../relayer/store/store.js";
import { checkAnswer } from "../../relayer/tasks/checkAnswer.js";
import { serveCheck } from "../../relayer/tasks/serveCheck.js";
import { verifySignedView } from "../../relayer/view/verifySignedView.js";
import { accThrough, viewStart } from "../../relayer/view/view.js";
import { toWireView } from "../../relayer/view/wireView.js";
import { deploySystem, K, mine, R_DENOMINATOR, R_NUMERATOR, sign, viewOf, type Chain } from "../fixtures/system.js";

/**
 * serveCheck over a node's store that prunes: a request for history the node still keeps is answered (and believed),
 * one from before its retention window gets a clear "too old" answer-error before anything is read.
 */
describe("serveCheck", function () {
  this.timeout(120_000);
  const contractId = keccak256(stringToHex("a contract"));
  const KEPT_FROM = 20n;
  let chain: Chain;
  let hashes: Hex[];
  let head: bigint;
  let store: Store;

  before(async () => {
    [chain] = (await deploySystem({ networks: ["chainA"], q: 4 })) as [Chain];
    await mine(chain, 40);
    hashes = await chain.blockHashes();
    head = BigInt(hashes.length - 1);
    // What a node of the chain has stored by now: every block hash, and its committee's view of the head.
    store = new Store({ path: ":memory:" });
    hashes.forEach((hash, height) => store.putBlockHash(BigInt(height), hash));
    const view = await viewOf(chain, K, head);
    store.putSignedView({ chainId: chain.chainId, height: head, view: toWireView(view), signatures: await sign(chain, view) });
    await store.pruneHistory(chain.chainId, KEPT_FROM);
  });
  after(() => store.close());

  const request = (fields: Partial<Request>): Request => ({
    kind: "request",
    requestId: "r1",
    chainId: chain.chainId.toString(),
    contractIds: [contractId],
    knownHeight: "0",
    minHeight: "0",
    ...fields,
  });
  const serve = (fields: Partial<Request>, client: PublicClient = chain.publicClient) =>
    serveCheck({ request: request(fields), chainId: chain.chainId, client, gateway: chain.gateway.address, store });
  const reason = (reply: Reply) => (reply.kind === "answer-error" ? reply.reason : `an answer at ${reply.height}`);
  // A client that cannot be used: a request refused with it was refused before the chain was read.
  const noChain = {} as PublicClient;

  it("attack: a check() from height 0 of a long history gets 'too old' from a pruned node, before any chain read", async () => {
    assert.equal(reason(await serve({ knownHeight: "0" }, noChain)), `too old: this node keeps chain ${chain.chainId} from height ${KEPT_FROM}`);
  });

  it("refuses as too old a known height whose bridge needs one pruned block hash, and answers one just inside the window", async () => {
    assert.equal(reason(await serve({ knownHeight: (KEPT_FROM - 2n).toString() }, noChain)), `too old: this node keeps chain ${chain.chainId} from height ${KEPT_FROM}`);

    const knownHeight = KEPT_FROM - 1n;
    const answer = await serve({ knownHeight: knownHeight.toString() });
    assert.equal(answer.kind, "answer", reason(answer));
    if (answer.kind !== "answer") return;
    // The requester believes it: the view is its committee's, and the bridge from the first kept hash connects it to the
    // view its registry accepted at knownHeight.
    const checked = await checkAnswer({
      answer,
      chainId: chain.chainId,
      committee: { gateway: chain.gateway.address, members: chain.committee.map((a) => a.address), threshold: Math.ceil((4 * R_NUMERATOR) / R_DENOMINATOR), k: K },
      basis: { kind: "newest", knownHeight, stored: accThrough(await viewOf(chain, K, knownHeight)), minHeight: 0n },
      contracts: 1,
      verify: verifySignedView,
    });
    assert.equal(checked.height, head);
    assert.deepEqual(answer.bridge, hashes.slice(Number(KEPT_FROM), Number(head + 1n) - K));
  });

  it("answers a requester whose known view meets the newest view's window, whatever was pruned", async () => {
    const start = viewStart(await viewOf(chain, K, head));
    const answer = await serve({ knownHeight: (start - 1n).toString() });
    assert.equal(answer.kind, "answer", reason(answer));
    assert.deepEqual(answer.kind === "answer" && answer.bridge, []);
  });

  it("answers a request at an accepted height below the window: its proof is read from the chain, not the store", async () => {
    const answer = await serve({ atHeight: "5", knownHeight: "5", minHeight: "5" });
    assert.equal(answer.kind, "answer", reason(answer));
    assert.equal(answer.kind === "answer" && answer.height, "5");
  });
  it("has the committee certify a view when a check() needs one above the newest certified view, and says so when it cannot", async () => {
    await mine(chain, 2);
    const newer = head + 2n;
    const fields = { knownHeight: (head - 1n).toString(), minHeight: newer.toString() };
    const unanswered = await serveCheck({ request: request(fields), chainId: chain.chainId, client: chain.publicClient, gateway: chain.gateway.address, store, certify: async () => false });
    assert.equal(reason(unanswered), "no certified view reaches the requested height yet");

    const asked: bigint[] = [];
    // What the Cosigner does when asked: the committee signs the view at the demanded height and the node stores it.
    const certify = async (minHeight: bigint) => {
      if ((store.latestSignedView(chain.chainId)?.height ?? -1n) >= minHeight) return true;
      asked.push(minHeight);
      const view = await viewOf(chain, K, minHeight);
      store.putSignedView({ chainId: chain.chainId, height: minHeight, view: toWireView(view), signatures: await sign(chain, view) });
      return true;
    };
    const answer = await serveCheck({ request: request(fields), chainId: chain.chainId, client: chain.publicClient, gateway: chain.gateway.address, store, certify });
    assert.equal(reason(answer), `an answer at ${newer}`);
    assert.deepEqual(asked, [newer], "certified once, at the height asked for");
    const again = await serveCheck({ request: request({ ...fields, requestId: "r2" }), chainId: chain.chainId, client: chain.publicClient, gateway: chain.gateway.address, store, certify });
    assert.equal(reason(again), `an answer at ${newer}`);
    assert.deepEqual(asked, [newer], "a view already certified is not asked for again");
  });
});
