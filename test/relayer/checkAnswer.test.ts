import assert from "node:assert/strict";
import fc from "fast-check";
import { keccak256, type Hex } from "viem";
import { revertName } from "../../relayer/chain/txSender.js";
import type { SignedView } from "../../relayer/view/signedView.js";
import type { Answer } from "../../relayer/net/message.js";
import { getAcceptedView } from "../../relayer/chain/acceptedView.js";
import { AnswerRefusedError, checkAnswer, ConflictingAnswerError, ForkEvidenceError, type AnswerBasis } from "../../relayer/tasks/checkAnswer.js";
import { bridgeFor } from "../../relayer/tasks/serveCheck.js";
import { connectsTo, type Connection } from "../../relayer/view/connectsTo.js";
import { verifySignedView } from "../../relayer/view/verifySignedView.js";
import { accBeforeHead, accThrough, buildView, viewStart, type View } from "../../relayer/view/view.js";
import { branch, randomHash, signSynthetic, testChain, viewAt, wire, type TestChain } from "../fixtures/syntheticChain.js";
import { deploySystem, mine, relayView, sign, viewOf, type Chain } from "../fixtures/system.js";
import { flipByte } from "../fixtures/tamper.js";

// ---------------------------------------------------------------------------------------------------------------------
// A synthetic chain B (k = 4) whose block hashes are the keccak256 of synthetic headers, and a requester whose registry
// accepted B's view at KNOWN. An answer is built the way serveCheck builds one; each test breaks one thing in it.
// ---------------------------------------------------------------------------------------------------------------------

const K = 4;
const KNOWN = 10;

function chainB(): { chain: TestChain; headers: Hex[] } {
  const chain = testChain(1002n, K, { label: "checkAnswer", seed: 7, length: 60 });
  // Block hashes are the headers' hashes, so that a proof's header can be checked against a view.
  const headers = chain.hashes.map((h, i) => `0x${i.toString(16).padStart(8, "0")}${h.slice(2)}` as Hex);
  chain.hashes = headers.map((h) => keccak256(h));
  return { chain, headers };
}

const newest = (chain: TestChain, minHeight = 0n): Extract<AnswerBasis, { kind: "newest" }> => ({ kind: "newest", knownHeight: BigInt(KNOWN), stored: accThrough(viewAt(chain, KNOWN)), minHeight });

/** serveCheck's answer at `height` for two contracts: the certified view there, the bridge from KNOWN, one storage proof each. */
async function answerAt(chain: TestChain, headers: Hex[], height: number, signed?: SignedView): Promise<Answer> {
  const s = signed ?? (await signSynthetic(chain, viewAt(chain, height)));
  const bridged = bridgeFor({ chainId: chain.chainId, knownHeight: BigInt(KNOWN), start: viewStart(s.view), maxBridge: 8192, keptFrom: 0n, hashes: (from, to) => chain.hashes.slice(Number(from), Number(to) + 1) });
  assert.ok("bridge" in bridged);
  return {
    kind: "answer",
    requestId: "r",
    height: height.toString(),
    proof: { header: headers[height]!, accountProof: ["0xf8"], storageProofs: [["0x01"], ["0x02"]] },
    view: wire(s),
    bridge: bridged.bridge,
  };
}

async function check(chain: TestChain, answer: Answer, basis: AnswerBasis = newest(chain), onVerified?: (view: SignedView) => void) {
  return checkAnswer({ answer, chainId: chain.chainId, committee: chain.committee, basis, contracts: 2, verify: verifySignedView, ...(onVerified ? { onVerified } : {}) });
}

async function refused(promise: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof AnswerRefusedError && reason.test(error.message));
}

describe("checkAnswer", () => {
  it("believes an honest answer bridged from the registry's view, and returns what the Gateway step takes", async () => {
    const { chain, headers } = chainB();
    const verified: SignedView[] = [];
    const answer = await answerAt(chain, headers, 40);
    assert.equal(answer.bridge!.length, 40 - K + 1 - KNOWN - 1, "heights KNOWN + 1 .. start − 1");
    const checked = await check(chain, answer, newest(chain, 30n), (v) => void verified.push(v));
    const view = viewAt(chain, 40);
    assert.equal(checked.height, 40n);
    assert.equal(checked.header, headers[40]);
    assert.equal(checked.accBefore, accBeforeHead(view));
    assert.deepEqual(checked.storageProofs, [["0x01"], ["0x02"]]);
    assert.deepEqual(checked.post?.view, view);
    assert.deepEqual(checked.post?.bridge, chain.hashes.slice(KNOWN + 1, 40 - K + 1));
    assert.equal(verified.length, 1, "the signed view is handed over for the view list");
  });

  it("believes a view whose window meets the registry's with no bridge, and one at the registry's own height with nothing to post", async () => {
    const { chain, headers } = chainB();
    const near = await answerAt(chain, headers, KNOWN + K);
    assert.deepEqual(near.bridge, []);
    assert.ok((await check(chain, near)).post !== undefined);
    const same = await check(chain, await answerAt(chain, headers, KNOWN));
    assert.equal(same.post, undefined, "the registry has a view at that height: the step posts nothing");
  });

  it("refuses an answer below minHeight (stale-view attack: a proof from before the mirror was pre-committed)", async () => {
    const { chain, headers } = chainB();
    await refused(check(chain, await answerAt(chain, headers, 29), newest(chain, 30n)), /below 30/);
  });

  it("refuses a view signed by fewer than the threshold, or by keys outside the committee (forged-view attack)", async () => {
    const { chain, headers } = chainB();
    const view = viewAt(chain, 40);
    await refused(check(chain, await answerAt(chain, headers, 40, await signSynthetic(chain, view, chain.accounts.slice(0, 2)))), /threshold/);
    const outsiders = testChain(1002n, K, { label: "outsiders", seed: 1 }).accounts.slice(0, 3);
    await refused(check(chain, await answerAt(chain, headers, 40, await signSynthetic(chain, view, outsiders))), /not in the committee/);
  });

  it("refuses a view of another chain signed by its own committee (chain-substitution attack)", async () => {
    const { chain, headers } = chainB();
    const other = { ...testChain(1003n, K, { label: "checkAnswer", seed: 7, length: 60 }), hashes: chain.hashes };
    const answer = await answerAt(other, headers, 40);
    await refused(check(chain, answer), /view of chain 1003, asked about 1002/);
  });

  it("refuses a bridge with a hash left out, changed, or added (bridge-forgery: the registry would refuse the post)", async () => {
    const { chain, headers } = chainB();
    const answer = await answerAt(chain, headers, 40);
    const bridges = [answer.bridge!.slice(1), answer.bridge!.map((h, i) => (i === 5 ? flipByte(h, 0) : h)), [...answer.bridge!, randomHash(chain.random)]];
    for (const bridge of bridges) await refused(check(chain, { ...answer, bridge }), /does not connect .* \(bridge-mismatch\)/);
  });

  it("refuses a signed view of another branch and hands it over as fork evidence (equivocating committee)", async () => {
    const { chain, headers } = chainB();
    const fork = branch(chain, KNOWN - 1); // differs from what the registry accepted, inside its window
    const forked = await signSynthetic(chain, viewAt(chain, KNOWN + 2, fork));
    const answer = { ...(await answerAt(chain, headers, KNOWN + 2)), view: wire(forked) };
    await assert.rejects(check(chain, answer), (error: unknown) => error instanceof ConflictingAnswerError && error.signed.view.height === BigInt(KNOWN + 2));
    const sameHeight = await signSynthetic(chain, viewAt(chain, KNOWN, fork));
    await assert.rejects(check(chain, { ...(await answerAt(chain, headers, KNOWN)), view: wire(sameHeight) }), ConflictingAnswerError);
  });

  it("refuses a view older than the registry's (replayed old answer)", async () => {
    const { chain, headers } = chainB();
    await refused(check(chain, await answerAt(chain, headers, KNOWN - 1)), /\(older\)/);
  });

  it("attack: a forked committee answers below the registry's accepted view; the answer is fork evidence, found before any height check", async () => {
    const { chain, headers } = chainB();
    const accepted = await signSynthetic(chain, viewAt(chain, KNOWN));
    const forked = await signSynthetic(chain, viewAt(chain, KNOWN - 1, branch(chain, KNOWN - 2)));
    const answer = { ...(await answerAt(chain, headers, KNOWN - 1)), view: wire(forked) };
    await assert.rejects(
      check(chain, answer, { ...newest(chain, 30n), accepted }),
      (error: unknown) => error instanceof ForkEvidenceError && error.evidence.a === accepted && error.evidence.b.view.height === forked.view.height && error.evidence.b.signatures.join() === forked.signatures.join(),
    );
    // Without the accepted view the answer is only too low: every answer of the forked branch would fail so, and the fork stay hidden.
    await refused(check(chain, answer, newest(chain, 30n)), /below 30/);
  });

  it("takes no older view as evidence that agrees with the accepted view, or lies too far below its window to compare", async () => {
    const { chain, headers } = chainB();
    const accepted = await signSynthetic(chain, viewAt(chain, KNOWN));
    const basis = { ...newest(chain), accepted };
    await refused(check(chain, await answerAt(chain, headers, KNOWN - 1), basis), /\(older\)/);
    // A view whose window ends before the accepted window starts cannot be compared with it: no evidence, only too old.
    const far = KNOWN - K - 1;
    const forked = await signSynthetic(chain, viewAt(chain, far, branch(chain, far)));
    await refused(check(chain, { ...(await answerAt(chain, headers, far)), view: wire(forked) }, basis), /\(older\)/);
  });

  it("refuses a proof under another header than the view's block (header-substitution attack)", async () => {
    const { chain, headers } = chainB();
    const answer = await answerAt(chain, headers, 40);
    for (const header of [headers[39]!, flipByte(headers[40]!, 3)]) {
      await refused(check(chain, { ...answer, proof: { ...answer.proof, header } }), /header is not the block/);
    }
    await refused(check(chain, { ...answer, height: "39" }), /answer at height 39 with a view at 40/);
  });

  it("refuses an answer that proves another number of records than were asked for", async () => {
    const { chain, headers } = chainB();
    const answer = await answerAt(chain, headers, 40);
    await refused(check(chain, { ...answer, proof: { ...answer.proof, storageProofs: [["0x01"]] } }), /proves 1 records, 2 were asked for/);
  });

  describe("at an accepted height (after a freeze)", () => {
    const acceptedBasis = (chain: TestChain, height: number): AnswerBasis => {
      const view = viewAt(chain, height);
      return { kind: "accepted", height: BigInt(height), accBefore: accBeforeHead(view), accThrough: accThrough(view) };
    };
    const bare = (headers: Hex[], height: number): Answer => ({
      kind: "answer",
      requestId: "r",
      height: height.toString(),
      proof: { header: headers[height]!, accountProof: [], storageProofs: [[], []] },
    });

    it("believes the accepted block's header without any view", async () => {
      const { chain, headers } = chainB();
      const checked = await check(chain, bare(headers, KNOWN), acceptedBasis(chain, KNOWN));
      assert.equal(checked.height, BigInt(KNOWN));
      assert.equal(checked.accBefore, accBeforeHead(viewAt(chain, KNOWN)));
      assert.equal(checked.post, undefined);
    });

    it("refuses another block's header, another height, and an answer that carries a view", async () => {
      const { chain, headers } = chainB();
      await refused(check(chain, { ...bare(headers, KNOWN), proof: { ...bare(headers, KNOWN).proof, header: headers[KNOWN + 1]! } }, acceptedBasis(chain, KNOWN)), /not the accepted block/);
      await refused(check(chain, bare(headers, KNOWN + 1), acceptedBasis(chain, KNOWN)), /asked at/);
      await refused(check(chain, await answerAt(chain, headers, KNOWN), acceptedBasis(chain, KNOWN)), /carries no view/);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// connectsTo against the ViewRegistry itself: for views of B at any height, honest or tampered, with any bridge, the
// relayer predicts exactly what submitView does.
// ---------------------------------------------------------------------------------------------------------------------

describe("connectsTo", function () {
  this.timeout(300_000);
  const KC = 4;
  const LATEST = 12n;
  let a: Chain;
  let b: Chain;
  let hashes: Hex[];

  before(async () => {
    [a, b] = (await deploySystem({ networks: ["chainA", "chainB"], q: 4, k: KC })) as [Chain, Chain];
    await mine(b, 40);
    await relayView(b, a, KC, LATEST);
    hashes = await b.blockHashes();
  });

  /** What the registry does with the view: its UpdateResult, or the custom error it reverts with. */
  async function registryOutcome(view: View, bridge: Hex[]): Promise<string> {
    try {
      const { result } = await a.registry.simulate.submitView([view, await sign(b, view), bridge]);
      return ["Accepted", "NoOp", "Misbehaviour"][result]!;
    } catch (error) {
      return revertName(error) ?? String(error);
    }
  }

  const expected: Record<Connection, (height: bigint) => string> = {
    consistent: (height) => (height === LATEST ? "NoOp" : "Accepted"),
    conflicting: () => "Misbehaviour",
    "bridge-mismatch": () => "ViewRegistryBridgeMismatch",
    older: () => "NoOp",
  };

  it("agrees with ViewRegistry.submitView on views honest or tampered, near or far ahead, with right or wrong bridges", async () => {
    assert.equal(await a.registry.read.latestHeight([b.chainId]), LATEST);
    const stored = await a.registry.read.accThrough([b.chainId, LATEST]);
    // Below the newest, the registry checks a view only against a word it holds at that very height (the genesis view's):
    // what connectsTo, given the newest word alone, leaves to the caller.
    const acceptedBelow = new Set(
      (await a.publicClient.getContractEvents({ address: a.registry.address, abi: a.registry.abi, eventName: "ViewAccepted", fromBlock: 0n }))
        .map((log) => Number((log.args as { height: bigint }).height))
        .filter((h) => h < Number(LATEST)),
    );
    assert.equal(acceptedBelow.size, 1, "the genesis view");
    const seen = new Set<Connection>();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom("none", "acc", "hash"),
        fc.nat(),
        fc.constantFrom("right", "short", "flipped", "long"),
        async (height, tamper, at, bridgeMode) => {
          fc.pre(!acceptedBelow.has(height));
          fc.pre(tamper !== "acc" || height >= KC); // a window that reaches genesis has acc 0: malformed otherwise, for both
          const honest = await viewOf(b, KC, BigInt(height));
          const view: View = { ...honest, hashes: [...honest.hashes] };
          if (tamper === "acc") view.acc = flipByte(view.acc, 31);
          if (tamper === "hash") view.hashes[at % view.hashes.length] = flipByte(view.hashes[at % view.hashes.length]!, 0);
          const start = viewStart(view);
          let bridge = start > LATEST + 1n ? hashes.slice(Number(LATEST) + 1, Number(start)) : [];
          if (bridgeMode === "short") bridge = bridge.slice(1);
          if (bridgeMode === "flipped" && bridge.length > 0) bridge = bridge.map((h, i) => (i === at % bridge.length ? flipByte(h, 5) : h));
          if (bridgeMode === "long") bridge = [...bridge, hashes[0]!];
          const connection = connectsTo({ stored, knownHeight: LATEST, view, bridge });
          seen.add(connection);
          assert.equal(await registryOutcome(view, bridge), expected[connection](BigInt(height)), `${connection} at ${height} (${tamper}, ${bridgeMode} bridge)`);
        },
      ),
      { numRuns: 80, seed: 11 },
    );
    assert.deepEqual([...seen].sort(), ["bridge-mismatch", "conflicting", "consistent", "older"], "every verdict was met");
  });

  it("takes as fork evidence exactly the older signed views ViewRegistry.submitForkEvidence takes next to the accepted view", async () => {
    const stored = await a.registry.read.accThrough([b.chainId, LATEST]);
    const read = await getAcceptedView({ client: a.publicClient, registry: a.registry.address, chainId: b.chainId, height: LATEST });
    const accepted = { view: read.view, signatures: read.signatures };
    const committee = { gateway: b.gateway.address, members: b.committee.map((m) => m.address), threshold: 3, k: KC };
    const verdicts = new Set<boolean>();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: Number(LATEST) - 1 }), fc.option(fc.nat(), { nil: undefined }), async (height, forkAt) => {
        const blockHashes = hashes.slice(0, height + 1);
        if (forkAt !== undefined) blockHashes[forkAt % blockHashes.length] = flipByte(blockHashes[forkAt % blockHashes.length]!, 0);
        const view = buildView({ chainId: b.chainId, k: KC, blockHashes });
        const signatures = await sign(b, view);
        const answer: Answer = {
          kind: "answer",
          requestId: "r",
          height: height.toString(),
          proof: { header: "0x", accountProof: [], storageProofs: [] },
          view: { view: { chainId: view.chainId.toString(), height: view.height.toString(), acc: view.acc, hashes: view.hashes }, signatures },
          bridge: [],
        };
        const basis: AnswerBasis = { kind: "newest", knownHeight: LATEST, stored, minHeight: 0n, accepted };
        const found = await checkAnswer({ answer, chainId: b.chainId, committee, basis, contracts: 0, verify: verifySignedView }).then(
          () => assert.fail("an older view is never believed"),
          (error: unknown) => error instanceof ForkEvidenceError,
        );
        const taken = await a.registry.simulate.submitForkEvidence([accepted.view, accepted.signatures, view, signatures]).then(
          () => true,
          (error: unknown) => (assert.equal(revertName(error), "ViewRegistryNotConflicting"), false),
        );
        assert.equal(found, taken, `view at ${height}, forked at ${forkAt === undefined ? "no height" : forkAt % blockHashes.length}`);
        verdicts.add(found);
      }),
      { numRuns: 30, seed: 5 },
    );
    assert.deepEqual([...verdicts].sort(), [false, true], "evidence and not");
  });
});
