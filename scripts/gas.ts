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
 *   on chain A for 1 coin on chain B that both sides release, then two swaps that nobody pre-commits and
 *   both sides cancel, the second registered while the first is open.
 * The measurements themselves live in scripts/bench/gasCosts.ts, shared with the benchmarks.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { BOND, K, R_DENOMINATOR, R_NUMERATOR, deploySystem, type Chain } from "../test/fixtures/system.js";
import {
  NEW_BLOCKS_PER_VIEW,
  SWAP_TTL,
  VIEW_SAMPLES,
  measureGateway,
  measureViews,
  thresholdOf,
  type ViewGas,
} from "./bench/gasCosts.js";

const COMMITTEE_SIZES = [4, 7, 10, 16] as const;

const REPORT_PATH = fileURLToPath(new URL("../gas-report.json", import.meta.url));

function say(line: string): void {
  console.log(line);
}

const fmt = (n: number) => n.toLocaleString("en-US");

async function main(): Promise<void> {
  const started = performance.now();
  say(
    `Gas of the finality-based IBC contracts (window k = ${K}, threshold ceil(${R_NUMERATOR}q/${R_DENOMINATOR}), ` +
      `${NEW_BLOCKS_PER_VIEW} new blocks per view).`,
  );

  const views: Record<number, ViewGas> = {};
  for (const q of COMMITTEE_SIZES) {
    say(`measuring submitView and submitForkEvidence with q = ${q} …`);
    views[q] = await measureViews(q, say);
  }
  say("measuring the Gateway steps with q = 4 …");
  const g = await measureGateway((await deploySystem()) as [Chain, Chain], say);
  const { swap } = g;
  const seconds = (performance.now() - started) / 1000;

  const notes = {
    registerErc20:
      `first contract with the counterparty (exposure goes up from 0); ${fmt(g.registerWhileAnotherOpen.x)} while another is open; approve not counted`,
    registerNative: `first contract with the counterparty; ${fmt(g.registerWhileAnotherOpen.y)} while another is open`,
    submitView:
      `threshold signatures, full window of k = ${K} hashes, ${NEW_BLOCKS_PER_VIEW} new heights stored; median of ${VIEW_SAMPLES}`,
    precommit:
      `ERC-20 leg on A, first contract in the waiting list; native leg on B: ${fmt(swap.precommitY)}; ` +
      `proof with ${g.proofs.precommitX.accountProofNodes} account + ${g.proofs.precommitX.storageProofNodes} storage trie nodes (small in-process state)`,
    terminate: `release, ERC-20 leg on A (empties the waiting list); native leg on B: ${fmt(swap.terminateY)}`,
    cancel: `ERC-20 leg on A, the last open contract; native leg on B: ${fmt(g.cancel.y)}`,
    submitForkEvidence: `q = 4: two signed views of B differing in the newest hash; freezes B and slashes its bond (reward paid)`,
  };

  const rows: [string, number, string][] = [
    ["Gateway.register (ERC-20)", swap.registerX, notes.registerErc20],
    ["Gateway.register (native coin)", swap.registerY, notes.registerNative],
    ...COMMITTEE_SIZES.map((q): [string, number, string] => [
      `ViewRegistry.submitView (q = ${q}, ${thresholdOf(q)} signatures)`,
      views[q]!.submitView,
      notes.submitView,
    ]),
    ["Gateway.precommit", swap.precommitX, notes.precommit],
    ["Gateway.terminate (release)", swap.terminateX, notes.terminate],
    ["Gateway.cancel", g.cancel.x, notes.cancel],
    ...COMMITTEE_SIZES.map((q): [string, number, string] => [
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

  const report = {
    register: { erc20: swap.registerX, native: swap.registerY },
    submitView: Object.fromEntries(COMMITTEE_SIZES.map((q) => [String(q), views[q]!.submitView])),
    precommit: swap.precommitX,
    terminate: swap.terminateX,
    cancel: g.cancel.x,
    submitForkEvidence: views[4]!.forkEvidence,
    submitForkEvidenceByQ: Object.fromEntries(COMMITTEE_SIZES.map((q) => [String(q), views[q]!.forkEvidence])),
    nativeLeg: { precommit: swap.precommitY, terminate: swap.terminateY, cancel: g.cancel.y },
    registerWhileAnotherOpen: { erc20: g.registerWhileAnotherOpen.x, native: g.registerWhileAnotherOpen.y },
    parameters: {
      k: K,
      newBlocksPerView: NEW_BLOCKS_PER_VIEW,
      committeeSizes: [...COMMITTEE_SIZES],
      thresholds: Object.fromEntries(COMMITTEE_SIZES.map((q) => [String(q), thresholdOf(q)])),
      thresholdRule: `ceil(${R_NUMERATOR}q/${R_DENOMINATOR})`,
      viewSamples: VIEW_SAMPLES,
      submitViewSamples: Object.fromEntries(COMMITTEE_SIZES.map((q) => [String(q), views[q]!.samples])),
      gatewayCommitteeSize: 4,
      bondWei: BOND.toString(),
      swapTtlBlocks: Number(SWAP_TTL),
      proofs: g.proofs,
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
