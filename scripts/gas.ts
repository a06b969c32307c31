/**
 * Gas of the protocol's on-chain steps, from transaction receipts (`gasUsed`, so the 21,000 base cost
 * and calldata are included). Run with `npm run gas`; prints a Markdown table and writes gas-report.json.
 *
 * - ViewRegistry.submitView for committee sizes q = 4, 7, 10, 16, each with its own pair of in-process
 *   chains, signed by exactly threshold = ceil(2q/3) members, in the steady state: the stored view
 *   already has a full window of k hashes and the new view is NEW_BLOCKS_PER_VIEW blocks newer.
 * - ViewRegistry.submitForkEvidence for the same committees: the real view of chain B and the same view
 *   with its newest hash changed, both signed by threshold members of B's committee.
 * - Gateway.register, precommit, terminate (release) and cancel on a q = 4 system: a swap of 100 tokens
 *   on chain A for 1 coin on chain B that both sides release, and a second swap that nobody pre-commits
 *   and both sides cancel.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseEther, zeroAddress, type Hex, type TransactionReceipt } from "viem";
import {
  BOND,
  K,
  R_DENOMINATOR,
  R_NUMERATOR,
  deploySystem,
  mine,
  mineTo,
  recordProof,
  relayView,
  sign,
  viewOf,
  type Chain,
} from "../test/fixtures/system.js";
import { NATIVE, prepareSwap, type Leg, type Registration } from "../test/fixtures/swap.js";
import type { View } from "../relayer/view/view.js";

const COMMITTEE_SIZES = [4, 7, 10, 16] as const;
const NEW_BLOCKS_PER_VIEW = 8;
/** Height the viewed chain reaches before the measured views, so the stored view's window is full. */
const WARM_UP_HEIGHT = 40n;
/** Views submitted per committee size; their gas differs only by a few dozen (calldata bytes), the median is reported. */
const VIEW_SAMPLES = 3;
const SWAP_TTL = 40n;

const REPORT_PATH = fileURLToPath(new URL("../gas-report.json", import.meta.url));

function say(line: string): void {
  console.log(line);
}

/** ceil(q * R_NUMERATOR / R_DENOMINATOR), the registry's threshold. */
function thresholdOf(q: number): number {
  return Math.ceil((q * R_NUMERATOR) / R_DENOMINATOR);
}

/** Waits for the transaction and returns its gas, failing loudly if it reverted. */
async function gasOf(chain: Chain, what: string, hash: Hex | Promise<Hex>): Promise<bigint> {
  const receipt: TransactionReceipt = await chain.publicClient.waitForTransactionReceipt({ hash: await hash });
  if (receipt.status !== "success") throw new Error(`${what} reverted (transaction ${receipt.transactionHash})`);
  return receipt.gasUsed;
}

/** The first `threshold` members of the chain's committee: the fewest signatures the registry accepts. */
async function quorumOf(viewed: Chain, verifier: Chain) {
  const [, threshold] = await verifier.registry.read.committeeOf([viewed.chainId]);
  const expected = thresholdOf(viewed.committee.length);
  if (Number(threshold) !== expected) {
    throw new Error(`threshold of a committee of ${viewed.committee.length} is ${threshold} on chain, expected ${expected}`);
  }
  return viewed.committee.slice(0, expected);
}

/** Gas of submitView in the steady state, and of submitForkEvidence, for a committee of q. */
async function measureViews(q: number): Promise<{ submitView: bigint; samples: bigint[]; forkEvidence: bigint }> {
  const [a, b] = (await deploySystem({ q, k: K })) as [Chain, Chain];
  const quorum = await quorumOf(b, a);
  say(`  committee of ${q}, threshold ${quorum.length}: bringing A's view of B to a full window (height ${WARM_UP_HEIGHT}) …`);
  await mineTo(b, WARM_UP_HEIGHT);
  await relayView(b, a, K);

  const samples: bigint[] = [];
  for (let i = 0; i < VIEW_SAMPLES; i++) {
    await mine(b, NEW_BLOCKS_PER_VIEW);
    const latest = await a.registry.read.latestHeight([b.chainId]);
    const view = await viewOf(b, K, latest + BigInt(NEW_BLOCKS_PER_VIEW));
    if (view.hashes.length !== K) throw new Error(`expected a full window of ${K} hashes, got ${view.hashes.length}`);
    const signatures = await sign(b, view, quorum);
    if (signatures.length !== quorum.length) throw new Error("wrong number of signatures");
    samples.push(await gasOf(a, "submitView", a.registry.write.submitView([view, signatures])));
    const reached = await a.registry.read.latestHeight([b.chainId]);
    if (reached !== view.height) throw new Error(`submitView was not accepted: A's view of B is at ${reached}, not ${view.height}`);
  }
  say(`  submitView samples: ${samples.join(", ")}`);

  say(`  signing two conflicting views of B with ${quorum.length} of its ${q} validators and submitting them as fork evidence …`);
  const real = await a.registry.read.latestView([b.chainId]);
  const genuine: View = { chainId: real.chainId, height: real.height, acc: real.acc, hashes: [...real.hashes] };
  const forged: View = { ...genuine, hashes: [...genuine.hashes] };
  const newest = forged.hashes.length - 1;
  forged.hashes[newest] = `0x${(BigInt(forged.hashes[newest]!) ^ 1n).toString(16).padStart(64, "0")}` as Hex;
  const forkEvidence = await gasOf(
    a,
    "submitForkEvidence",
    a.registry.write.submitForkEvidence([genuine, await sign(b, genuine, quorum), forged, await sign(b, forged, quorum)]),
  );
  if (!(await a.registry.read.isFrozen([b.chainId]))) throw new Error("fork evidence did not freeze chain B");

  samples.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return { submitView: samples[Math.floor(samples.length / 2)]!, samples, forkEvidence };
}

/** Approves the Gateway for an ERC-20 (not measured) and registers; returns the gas of register alone. */
async function registerMeasured(leg: Leg, reg: Registration): Promise<bigint> {
  const { gateway, token } = leg.chain;
  const account = leg.payer.account;
  if (reg.asset !== zeroAddress) {
    await gasOf(leg.chain, "approve", token.write.approve([gateway.address, reg.amount], { account }));
  }
  return gasOf(
    leg.chain,
    `register (${reg.asset === zeroAddress ? "native coin" : "ERC-20"})`,
    gateway.write.register([reg], { account, value: reg.asset === zeroAddress ? reg.amount : 0n }),
  );
}

async function statusOf(chain: Chain, id: Hex): Promise<number> {
  const [status] = await chain.gateway.read.recordOf([id]);
  return status;
}

const Status = { Committed: 2, Released: 3, Cancelled: 5 } as const;

async function measureGateway() {
  const [a, b] = (await deploySystem()) as [Chain, Chain];
  const { alice } = a.users;
  const bob = b.users.bob;
  await a.token.write.mint([alice.account.address, 1000n]);

  /** Alice pays 100 tokens on A to Bob; Bob pays 1 coin on B to Alice. */
  const tokenForCoin = async (salt: Hex) => {
    const headA = await a.publicClient.getBlockNumber();
    const headB = await b.publicClient.getBlockNumber();
    return prepareSwap(
      { chain: a, payer: alice, beneficiary: bob.account.address, asset: a.token.address, amount: 100n, expiry: headA + SWAP_TTL },
      { chain: b, payer: bob, beneficiary: alice.account.address, asset: NATIVE, amount: parseEther("1"), expiry: headB + SWAP_TTL },
      salt,
    );
  };

  say("  registering a swap of 100 tokens on A for 1 coin on B (the first contract between A and B) …");
  const kept = await tokenForCoin(`0x${"01".padStart(64, "0")}`);
  const registerErc20 = await registerMeasured(kept.x, kept.regX);
  const registerNative = await registerMeasured(kept.y, kept.regY);

  say("  registering a second swap while the first is open (it will be cancelled) …");
  const dropped = await tokenForCoin(`0x${"02".padStart(64, "0")}`);
  const registerErc20Again = await registerMeasured(dropped.x, dropped.regX);
  const registerNativeAgain = await registerMeasured(dropped.y, dropped.regY);

  say("  relaying views both ways and pre-committing the first swap on both chains …");
  await relayView(b, a);
  await relayView(a, b);
  const precommitErc20 = await gasOf(a, "precommit on A", a.gateway.write.precommit([kept.idX, await recordProof(b, a, kept.idY)]));
  const precommitNative = await gasOf(b, "precommit on B", b.gateway.write.precommit([kept.idY, await recordProof(a, b, kept.idX)]));
  if ((await statusOf(a, kept.idX)) !== Status.Committed || (await statusOf(b, kept.idY)) !== Status.Committed) {
    throw new Error("the first swap did not pre-commit");
  }

  say("  mining past both expiries, relaying views and terminating the first swap (release) …");
  await mineTo(a, kept.regX.h1 + 1n);
  await mineTo(b, kept.regY.h1 + 1n);
  await relayView(b, a);
  await relayView(a, b);
  const terminateErc20 = await gasOf(a, "terminate on A", a.gateway.write.terminate([kept.idX, await recordProof(b, a, kept.idY)]));
  const terminateNative = await gasOf(b, "terminate on B", b.gateway.write.terminate([kept.idY, await recordProof(a, b, kept.idX)]));
  if ((await statusOf(a, kept.idX)) !== Status.Released || (await statusOf(b, kept.idY)) !== Status.Released) {
    throw new Error("the first swap was not released");
  }

  say("  cancelling the second swap, which nobody pre-committed, on both chains …");
  await mineTo(a, dropped.regX.h1 + 1n);
  await mineTo(b, dropped.regY.h1 + 1n);
  const cancelErc20 = await gasOf(a, "cancel on A", a.gateway.write.cancel([dropped.idX]));
  const cancelNative = await gasOf(b, "cancel on B", b.gateway.write.cancel([dropped.idY]));
  if ((await statusOf(a, dropped.idX)) !== Status.Cancelled || (await statusOf(b, dropped.idY)) !== Status.Cancelled) {
    throw new Error("the second swap was not cancelled");
  }

  const proof = await recordProof(b, a, kept.idY);
  return {
    registerErc20,
    registerNative,
    registerErc20Again,
    registerNativeAgain,
    precommitErc20,
    precommitNative,
    terminateErc20,
    terminateNative,
    cancelErc20,
    cancelNative,
    proofShape: { accountProofNodes: proof.accountProof.length, storageProofNodes: proof.storageProof.length },
  };
}

const fmt = (n: bigint) => n.toLocaleString("en-US");

async function main(): Promise<void> {
  const started = performance.now();
  say(
    `Gas of the finality-based IBC contracts (window k = ${K}, threshold ceil(${R_NUMERATOR}q/${R_DENOMINATOR}), ` +
      `${NEW_BLOCKS_PER_VIEW} new blocks per view).`,
  );

  const views: Record<number, Awaited<ReturnType<typeof measureViews>>> = {};
  for (const q of COMMITTEE_SIZES) {
    say(`measuring submitView and submitForkEvidence with q = ${q} …`);
    views[q] = await measureViews(q);
  }
  say("measuring the Gateway steps with q = 4 …");
  const g = await measureGateway();
  const seconds = (performance.now() - started) / 1000;

  const notes = {
    registerErc20:
      `first contract with the counterparty (exposure goes up from 0); ${fmt(g.registerErc20Again)} while another is open; approve not counted`,
    registerNative: `first contract with the counterparty; ${fmt(g.registerNativeAgain)} while another is open`,
    submitView:
      `threshold signatures, full window of k = ${K} hashes, ${NEW_BLOCKS_PER_VIEW} new heights stored; median of ${VIEW_SAMPLES}`,
    precommit:
      `ERC-20 leg on A, first contract in the waiting list; native leg on B: ${fmt(g.precommitNative)}; ` +
      `proof with ${g.proofShape.accountProofNodes} account + ${g.proofShape.storageProofNodes} storage trie nodes (small in-process state)`,
    terminate: `release, ERC-20 leg on A (empties the waiting list); native leg on B: ${fmt(g.terminateNative)}`,
    cancel: `ERC-20 leg on A; native leg on B: ${fmt(g.cancelNative)}`,
    submitForkEvidence: `q = 4: two signed views of B differing in the newest hash; freezes B and slashes its bond (reward paid)`,
  };

  const rows: [string, bigint, string][] = [
    ["Gateway.register (ERC-20)", g.registerErc20, notes.registerErc20],
    ["Gateway.register (native coin)", g.registerNative, notes.registerNative],
    ...COMMITTEE_SIZES.map((q): [string, bigint, string] => [
      `ViewRegistry.submitView (q = ${q}, ${thresholdOf(q)} signatures)`,
      views[q]!.submitView,
      notes.submitView,
    ]),
    ["Gateway.precommit", g.precommitErc20, notes.precommit],
    ["Gateway.terminate (release)", g.terminateErc20, notes.terminate],
    ["Gateway.cancel", g.cancelErc20, notes.cancel],
    ...COMMITTEE_SIZES.map((q): [string, bigint, string] => [
      `ViewRegistry.submitForkEvidence (q = ${q}, 2 × ${thresholdOf(q)} signatures)`,
      views[q]!.forkEvidence,
      q === 4 ? notes.submitForkEvidence : "same evidence, larger committee",
    ]),
  ];

  say("");
  say("| step | gas | notes |");
  say("| --- | ---: | --- |");
  for (const [step, gas, note] of rows) say(`| ${step} | ${fmt(gas)} | ${note} |`);
  say("");

  const n = (x: bigint) => Number(x);
  const report = {
    register: { erc20: n(g.registerErc20), native: n(g.registerNative) },
    submitView: Object.fromEntries(COMMITTEE_SIZES.map((q) => [String(q), n(views[q]!.submitView)])),
    precommit: n(g.precommitErc20),
    terminate: n(g.terminateErc20),
    cancel: n(g.cancelErc20),
    submitForkEvidence: n(views[4]!.forkEvidence),
    submitForkEvidenceByQ: Object.fromEntries(COMMITTEE_SIZES.map((q) => [String(q), n(views[q]!.forkEvidence)])),
    nativeLeg: { precommit: n(g.precommitNative), terminate: n(g.terminateNative), cancel: n(g.cancelNative) },
    registerWhileAnotherOpen: { erc20: n(g.registerErc20Again), native: n(g.registerNativeAgain) },
    parameters: {
      k: K,
      newBlocksPerView: NEW_BLOCKS_PER_VIEW,
      committeeSizes: [...COMMITTEE_SIZES],
      thresholds: Object.fromEntries(COMMITTEE_SIZES.map((q) => [String(q), thresholdOf(q)])),
      thresholdRule: `ceil(${R_NUMERATOR}q/${R_DENOMINATOR})`,
      viewSamples: VIEW_SAMPLES,
      submitViewSamples: Object.fromEntries(COMMITTEE_SIZES.map((q) => [String(q), views[q]!.samples.map(n)])),
      gatewayCommitteeSize: 4,
      bondWei: BOND.toString(),
      swapTtlBlocks: Number(SWAP_TTL),
      proof: g.proofShape,
      hardfork: "prague",
      gasSource: "transaction receipt gasUsed (includes the 21,000 base cost and calldata)",
    },
    notes,
    seconds: Math.round(seconds * 10) / 10,
  };
  await writeFile(REPORT_PATH, `${JSON.stringify(report, null, 2)}\n`);
  say(`Wrote ${REPORT_PATH}. Took ${seconds.toFixed(1)} s.`);
}

await main();
