import assert from "node:assert/strict";
import { getAddress, keccak256, numberToHex, stringToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { GapHistogram } from "../../relayer/sim/gapHistogram.js";
import { simulateCell, type CellParameters, type CellResult } from "../../relayer/sim/gridCell.js";
import { SignatureCache } from "../../relayer/sim/signatureCache.js";
import { SyntheticSystem } from "../../relayer/sim/syntheticSystem.js";
import { orderSignatures, signView } from "../../relayer/view/signView.js";
import { SignedViewError, verifySignedView, type Committee } from "../../relayer/view/verifySignedView.js";
import { buildView } from "../../relayer/view/view.js";
import { cellName, FULL_CELLS, QUICK_CELLS, simulateGrid } from "../../scripts/bench/simulateGrid.js";

// ---------------------------------------------------------------------------------------------------------------------
// Small cells of the paper's grid: 3 systems of q = 4 nodes (threshold 3, requests to 2 nodes), k = 5, 200 blocks.
// One signature cache for all of them: the chains are the same in every cell of a seed, so only the first cell signs.
// ---------------------------------------------------------------------------------------------------------------------

const BLOCKS = 200;
const cache = new SignatureCache();
const cell = (parameters: Partial<CellParameters> = {}) => simulateCell({ n: 3, taskRate: 0.2, sendRate: 0.1, blocks: BLOCKS, cache, ...parameters });

/** What a run measured, without how long it took. */
const outcome = ({ wallMs: _wall, cpuMs: _cpu, work: _work, ...measured }: CellResult) => measured;

describe("simulateCell", function () {
  this.timeout(300_000);
  let slow: CellResult; // send rate 10 %
  let fast: CellResult; // send rate 30 %

  before(async () => {
    slow = await cell();
    fast = await cell({ sendRate: 0.3 });
  });

  it("counts every node-to-node message once, as the transports delivered it, and loses none", () => {
    for (const r of [slow, fast]) {
      assert.equal(r.dropped, 0);
      assert.equal(r.messages, r.delivered, "messages counted by the senders = messages the hub delivered");
      for (const s of r.systems) assert.equal(s.messages, s.requests + s.answers + s.gossip, `system ${s.chainId}: requests, answers and gossip are all it sent`);
      assert.equal(r.requestChannelMessages, r.systems.reduce((sum, s) => sum + s.requests + s.answers, 0));
    }
  });

  it("finishes every cross-chain task it starts with both sides released", () => {
    for (const r of [slow, fast]) {
      assert.ok(r.tasks > 20, `${r.tasks} tasks in ${BLOCKS} blocks of 3 systems at 20 %`);
      assert.deepEqual([r.successfulTasks, r.refundedTasks, r.splitTasks, r.unfinishedTasks], [r.tasks, 0, 0, 0]);
      assert.deepEqual(Object.keys(r.incidents).filter((reason) => reason !== "unexpected answer" && reason !== "duplicate gossip"), [], "no refusal but the slower answer of two and repeated gossip");
    }
  });

  it("costs a task the IBCP's four checks, each sent to (1 − r)q + 1 = 2 nodes and answered, fewer when checks share a request", async () => {
    assert.equal(slow.fanout, 2);
    // Every step in a batch of its own: at least four checks per task.
    const unbatched = await cell({ batchSize: 1 });
    assert.equal(unbatched.successfulTasks, unbatched.tasks);
    assert.ok(unbatched.requestsPerTask >= 4 * unbatched.fanout, `${unbatched.requestsPerTask} requests per task`);
    for (const r of [slow, fast, unbatched]) {
      assert.equal(r.requestChannelMessages, 2 * r.requests, "every request answered once by each node asked");
      // Retries happen only while the mirror is not yet in a block: a few per task, not a storm.
      assert.ok(r.requestsPerTask < 6 * r.fanout, `${r.requestsPerTask} requests per task`);
    }
    // The steps of one kind with one counterparty that a node's task pass finds due go in one request.
    assert.ok(slow.requests < unbatched.requests, `${slow.requests} requests batched, ${unbatched.requests} one check each`);
  });

  it("serves check() as a node does when its committee certifies every 10th block: the head certified for the answer, so a task costs the four checks", async () => {
    // A node's serveCheck certifies its head for every answer and waits for its chain to reach the asked height. A server
    // answering from the pacemaker's view (up to 9 blocks old) shows a mirror registered since then missing, and one that
    // refuses a height its chain is about to reach is asked again: 12 to 13 requests per task at these rates.
    const paced = await cell({ q: 3, k: 16, signEvery: 10, expiryBlocks: 60 });
    assert.equal(paced.fanout, 2);
    assert.ok(paced.tasks > 20, `${paced.tasks} tasks in ${BLOCKS} blocks of 3 systems at 20 %`);
    assert.deepEqual([paced.successfulTasks, paced.unfinishedTasks], [paced.tasks, 0]);
    assert.ok(paced.requestsPerTask <= 4 * paced.fanout, `${paced.requestsPerTask} requests per task`);
  });

  it("samples a gap ≥ 0 for every node and every other system once per block interval", () => {
    for (const r of [slow, fast]) {
      assert.equal(r.gap.samples, 3 * 4 * 2 * (BLOCKS - 1));
      assert.equal(r.histogram.reduce((sum, count) => sum + count, 0), r.gap.samples);
      assert.ok(r.gap.min >= 0 && r.gap.min <= r.gap.median && r.gap.median <= r.gap.p95 && r.gap.p95 <= r.gap.max);
      for (const s of r.systems) assert.equal(s.gap.samples, 4 * 2 * (BLOCKS - 1));
    }
  });

  it("keeps 95 % of a system's gaps within k with a send rate of 30 %, and its views more than k behind rare", () => {
    assert.ok(fast.systemGap.p95 <= fast.k, `p95 ${fast.systemGap.p95}`);
    assert.ok(fast.systemGap.aboveK < 0.05, `${fast.systemGap.aboveK * 100} % of the samples more than k behind`);
    assert.equal(fast.systemGap.samples, 3 * 2 * (BLOCKS - 1), "one sample per system, other system and block");
    assert.ok(fast.systemGap.mean <= fast.gap.mean, "a system knows at least what each of its nodes knows");
  });

  it("lets one node per system push in a round: at most (n − 1) · fanout updates per system and block, besides pulls", () => {
    for (const r of [slow, fast]) {
      const perBlock = r.gossip / r.n / BLOCKS;
      assert.ok(perBlock < (r.n - 1) * r.fanout, `${perBlock.toFixed(2)} gossip messages per system and block`);
    }
  });

  it("sends more gossip and lags less with a higher send rate", () => {
    assert.ok(fast.gossip > 1.2 * slow.gossip, `gossip ${fast.gossip} at 30 % vs ${slow.gossip} at 10 %`);
    assert.ok(fast.systemGap.mean < slow.systemGap.mean, `mean gap ${fast.systemGap.mean} at 30 % vs ${slow.systemGap.mean} at 10 %`);
    assert.ok(fast.systemGap.p95 <= slow.systemGap.p95);
  });

  it("signs each certified view once for all the cells of a seed, and checks each signed view once for all nodes", () => {
    assert.equal(slow.work.signatures, 3 * 3 * BLOCKS, "3 systems × threshold 3 × one certified view per block");
    assert.equal(slow.work.verifications, 3 * BLOCKS);
    // Each certified view is learned by the 4 nodes of its own system alone: one check, three shared.
    assert.ok(slow.work.verificationsShared > 3 * slow.work.verifications, `${slow.work.verificationsShared} checks shared`);
    assert.equal(fast.work.signatures, 0, "the second cell runs on the same chains");
    assert.equal(fast.work.verifications, 0);
  });

  it("is reproducible: the same seed gives the same run, another seed another one", async () => {
    assert.deepEqual(outcome(await cell()), outcome(slow));
    const other = await cell({ seed: 2, cache: new SignatureCache(), blocks: 80 });
    const again = await cell({ seed: 1, blocks: 80 });
    assert.notDeepEqual(outcome(other).histogram, outcome(again).histogram);
  });

  it("refuses parameters that make no network", async () => {
    await assert.rejects(cell({ n: 1 }), RangeError);
    await assert.rejects(cell({ taskRate: 1.5 }), RangeError);
    await assert.rejects(cell({ signEvery: 6 }), RangeError, "views further apart than k cannot be connected");
  });
});

describe("SyntheticSystem", () => {
  it("certifies its head on demand between pacemaker heights, as a relayer's committee does for a check() it serves", async () => {
    const system = new SyntheticSystem({ index: 0, seed: 1, q: 4, threshold: 3, k: 16, signEvery: 10, cache: new SignatureCache() });
    for (let i = 0; i < 15; i++) system.produce();
    assert.equal(system.certifiedHeight(14), 10, "the pacemaker certified height 10");
    await assert.rejects(system.certify(14), /height 14 is not certified/);
    assert.equal(system.demand(), 14);
    assert.equal(system.certifiedHeight(14), 14);
    assert.equal(system.certifiedHeight(13), 10, "no height between the two is certified");
    const signed = await system.certify(14);
    assert.equal(signed.view.height, 14n);
    await verifySignedView(signed.view, signed.signatures, system.committee); // threshold signatures of the committee
    system.produce();
    assert.equal(system.certifiedHeight(15), 14, "the newest certified view stays the demanded one until the next");
  });
});

describe("simulateGrid", function () {
  this.timeout(300_000);

  it("reports each cell per system, and the scale ratio of messages per task between the smallest and largest n", async () => {
    const lines: string[] = [];
    const grid = await simulateGrid({ cells: [{ n: 3, taskRate: 0.4, sendRate: 0.2 }, { n: 5, taskRate: 0.4, sendRate: 0.2 }], blocks: 80, workers: 1, log: (line) => lines.push(line) });
    assert.deepEqual(grid.cells.map((c) => c.name), ["3_4_2", "5_4_2"]);
    assert.equal(lines.length, 2, "one line per cell");
    for (const c of grid.cells) {
      assert.equal(c.systems.length, c.n);
      assert.ok(c.successfulTasks > 0 && c.successfulTasks === c.tasks);
      assert.equal(c.gossipPerSystem, c.systems.reduce((sum, s) => sum + s.gossip, 0) / c.n);
      assert.equal(c.requestsPerSystem, c.systems.reduce((sum, s) => sum + s.requests, 0) / c.n);
    }
    const [small, large] = grid.cells as [(typeof grid.cells)[0], (typeof grid.cells)[0]];
    assert.deepEqual(grid.scaleRatio, [{ taskRate: 0.4, sendRate: 0.2, from: 3, to: 5, messagesPerTask: [small.messagesPerTask, large.messagesPerTask], ratio: large.messagesPerTask / small.messagesPerTask }]);
    assert.equal(grid.work.signatures, 3 * 5 * 80, "the n = 3 cell's chains are the first three of the n = 5 cell: signed once");
  });

  it("measures the same in two worker threads as in one thread: every cell's figures, each signature made once", async () => {
    const cells = [{ n: 3, taskRate: 0.2, sendRate: 0.3 }, { n: 5, taskRate: 0.1, sendRate: 0.3 }, { n: 4, taskRate: 0.4, sendRate: 0.1 }];
    const [here, lines] = [await simulateGrid({ cells, blocks: 60, workers: 1 }), [] as string[]];
    const split = await simulateGrid({ cells, blocks: 60, workers: 2, log: (line) => lines.push(line) });
    const figures = (grid: typeof here) => grid.cells.map(({ wallMs: _wall, cpuMs: _cpu, ...measured }) => measured);
    assert.deepEqual(figures(split), figures(here));
    assert.deepEqual(split.cells.map((c) => c.name), ["3_2_3", "5_1_3", "4_4_1"], "the cells in the grid's order");
    assert.deepEqual(lines.map((line) => line.split(":")[0]).sort(), ["[1/3] 3_2_3", "[2/3] 5_1_3", "[3/3] 4_4_1"], "one line per cell, numbered by its place in the grid");
    assert.deepEqual([split.workers, here.workers], [2, 1]);
    assert.equal(split.work.signatures, here.work.signatures, "5 systems × 60 blocks × threshold 3, in both");
    assert.equal(split.work.verifications, here.work.verifications, "each signed view checked once in the grid");
  });

  it("defines Table I as 27 cells, and a quick grid with both ends of the scale and the paper's 5_1_3", () => {
    assert.equal(new Set(FULL_CELLS.map(cellName)).size, 27);
    assert.deepEqual([...new Set(FULL_CELLS.map((c) => c.n))], [3, 5, 10]);
    const quick = QUICK_CELLS.map(cellName);
    assert.ok(quick.includes("5_1_3") && quick.some((c) => c.startsWith("3_")) && quick.some((c) => c.startsWith("10_")));
  });
});

describe("SignatureCache", () => {
  const gateway = getAddress("0x0000000000000000000000000000000000ee03e9");
  const keys = [1, 2, 3].map((i) => keccak256(stringToHex(`signer ${i}`)));
  const signers = keys.map((privateKey) => ({ address: privateKeyToAccount(privateKey).address, privateKey }));
  const committee: Committee = { gateway, members: signers.map((s) => s.address), threshold: 3, k: 5 };
  const viewAt = (height: number) => buildView({ chainId: 1003n, k: 5, blockHashes: Array.from({ length: height + 1 }, (_, h) => keccak256(numberToHex(h))) });

  it("signs as a relayer does: signView's RFC 6979 signatures, in the registry's order, which verifySignedView takes", async () => {
    for (const height of [0, 4, 5, 17]) {
      const view = viewAt(height);
      const signatures = await new SignatureCache().sign(view, signers, gateway);
      assert.deepEqual(signatures, orderSignatures(await Promise.all(keys.map((key) => signView(privateKeyToAccount(key), view, gateway)))));
      await verifySignedView(view, signatures, committee);
    }
  });

  it("checks the views it signed without recovering their signers, and refuses its signatures on any other view or committee (attack: replayed signatures)", async () => {
    const cache = new SignatureCache();
    const view = viewAt(12);
    const signatures = await cache.sign(view, signers, gateway);
    await cache.verify(view, signatures, committee);
    assert.equal(cache.work.verifications, 1);
    // The signatures it made over one view do not vouch for another view of the same height, nor for another committee.
    const forged = { ...view, hashes: [...view.hashes.slice(0, -1), keccak256("0x66")] };
    await assert.rejects(cache.verify(forged, signatures, committee), SignedViewError);
    await assert.rejects(cache.verify(view, signatures, { ...committee, members: committee.members.slice(1) }), SignedViewError);
    await assert.rejects(cache.verify(view, [...signatures].reverse(), committee), SignedViewError, "nor out of the registry's order");
  });

  it("hands what it made and checked to a cache in another thread, which redoes none of it and still refuses a changed view (attack: replayed signatures)", async () => {
    const made = new SignatureCache();
    const view = viewAt(9);
    const signatures = await made.sign(view, signers, gateway);
    await made.verify(view, signatures, committee);
    const adopted = new SignatureCache();
    adopted.adopt(structuredClone(made.share()));
    assert.deepEqual(await adopted.sign(view, signers, gateway), signatures);
    await adopted.verify({ ...view, hashes: [...view.hashes] }, [...signatures], committee);
    assert.deepEqual(adopted.work, { signatures: 0, signingMs: 0, verifications: 0, verifyingMs: 0, verificationsShared: 1 });
    // The committee's signatures over one view do not vouch for another view of the same height.
    const forged = { ...view, hashes: [...view.hashes.slice(0, -1), keccak256("0x66")] };
    await assert.rejects(adopted.verify(forged, signatures, committee), SignedViewError);
    await assert.rejects(adopted.verify(view, signatures, { ...committee, members: committee.members.slice(1) }), SignedViewError, "nor do they hold for another committee");
  });
});

describe("GapHistogram", () => {
  it("summarizes counts exactly: mean, quartiles, p95, max and the share above k", () => {
    const h = new GapHistogram();
    for (const gap of [0, 1, 1, 2, 2, 2, 3, 4, 7, 9]) h.add(gap);
    assert.deepEqual(h.summary(5), { samples: 10, mean: 3.1, min: 0, p25: 1, median: 2, p75: 4, p95: 9, max: 9, aboveK: 0.2 });
    const merged = new GapHistogram();
    merged.merge(h);
    merged.merge(h);
    assert.deepEqual({ ...merged.summary(5), samples: 10 }, h.summary(5));
  });

  it("refuses a gap that is not a whole number of blocks ≥ 0", () => {
    assert.throws(() => new GapHistogram().add(-1), RangeError);
    assert.throws(() => new GapHistogram().add(1.5), RangeError);
  });
});
