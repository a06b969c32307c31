/**
 * Gas of the contracts, from transaction receipts (`gasUsed`: the 21,000 base cost and calldata are included), on
 * in-process Hardhat chains (EDR, Prague). Run with `npm run gas`; prints Markdown tables and writes gas-report.json.
 *
 * - htlcSwap: one hashed-timelock swap (contracts/bench/HtlcSwap.sol): lock on both chains, claim on both.
 * - swap.single: one swap of this framework on the same chains, every transaction of both chains: register ×2,
 *   precommit ×2, terminate ×2, each precommit and terminate posting the counterparty's view in the same transaction;
 *   each step also measured as "view alone + step alone" on a snapshot, which splits its gas.
 * - swap.batched: ten swaps of one pair, registered one by one, then one precommit batch and one terminate batch per
 *   chain (one view post, one header and account proof, ten storage proofs each); perSwap = total / 10.
 * - submitView and submitForkEvidence by committee size q (k = 16, 8 new heights per view, ceil(2q/3) signatures).
 * - proofStep: one storage slot proven under a header, on the devnet and at mainnet depth (scripts/bench/proofStepGas.ts).
 * - submitView.ecdsa and submitView.bls: the same views posted for an ECDSA and a BLS12-381 committee of q = 4 … 256,
 *   the crossover q, and the bytes of one gossip update at q = 64 (scripts/bench/schemeGas.ts).
 * The measurements live in scripts/bench/gasCosts.ts, shared with `npm run bench -- --parts gas`.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { K, R_DENOMINATOR, R_NUMERATOR } from "../test/fixtures/system.js";
import { SCHEME_COMMITTEE_SIZES } from "./bench/schemeGas.js";
import {
  BATCH_SIZE,
  GOALS,
  NEW_BLOCKS_PER_VIEW,
  SUBMIT_VIEW_COMMITTEE_SIZES,
  measureGasCosts,
  thresholdAt,
  type StepGas,
} from "./bench/gasCosts.js";

const REPORT_PATH = fileURLToPath(new URL("../gas-report.json", import.meta.url));

const say = (line: string) => console.log(line);
const fmt = (n: number | bigint) => n.toLocaleString("en-US");
const x = (r: number) => `${r.toFixed(2)}×`;

function table(head: string[], rows: (string | number)[][]): void {
  say(`| ${head.join(" | ")} |`);
  say(`| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`);
  for (const row of rows) say(`| ${row.map((c) => (typeof c === "number" ? fmt(c) : c)).join(" | ")} |`);
  say("");
}

/** A precommit or terminate row: the transaction, and how it splits into its view post and the step. */
const stepRow = (name: string, s: StepGas): (string | number)[] => [
  name,
  s.gas,
  s.viewPart,
  s.stepAlone,
  s.viewAlone,
  `${s.accountProofNodes} + ${s.storageProofNodes.length === 1 ? s.storageProofNodes[0] : `${s.storageProofNodes.length} × ${Math.max(...s.storageProofNodes)}`}`,
  s.bridge,
  s.calldataBytes,
];
const STEP_HEAD = ["step", "gas (one tx, with view post)", "of which view post", "step alone (no post)", "view alone (submitView)", "proof nodes (account + storage)", "bridge", "calldata bytes"];

async function main(): Promise<void> {
  say(
    `Gas of the finality-based IBC contracts (receipt gasUsed; window k = ${K}, threshold ceil(${R_NUMERATOR}q/${R_DENOMINATOR}), ` +
      `${NEW_BLOCKS_PER_VIEW} new blocks per view, swaps on q = 4).`,
  );
  const g = await measureGasCosts({ log: say });
  const { single, batched } = g.swap;
  const h = g.htlcSwap;

  say("");
  say("## One swap, both chains: this framework against an HTLC swap (same chains, same run)");
  say("");
  const s = single.steps;
  table(["step", "this framework", "HTLC"], [
    ["register / lock, ERC-20 on A", s.registerX, h.lockX],
    ["register / lock, native coin on B", s.registerY, h.lockY],
    ["precommit A (with view post)", s.precommitX.gas, "—"],
    ["precommit B (with view post)", s.precommitY.gas, "—"],
    ["terminate A / claim A (release)", s.terminateX.gas, h.claimX],
    ["terminate B / claim B (release)", s.terminateY.gas, h.claimY],
    ["**one swap, both chains**", `**${fmt(single.total)}**`, `**${fmt(h.total)}**`],
    ["of which the four view posts", single.viewPosts, "—"],
    ["cancel / refund (ERC-20 on A, not in the total)", single.cancel.x, h.refund],
  ]);
  say("How each precommit / terminate splits (view alone and step alone measured on a snapshot):");
  say("");
  table(STEP_HEAD, [
    stepRow("precommit A", s.precommitX),
    stepRow("precommit B", s.precommitY),
    stepRow("terminate A", s.terminateX),
    stepRow("terminate B", s.terminateY),
  ]);
  say(
    `register while another contract is open: ERC-20 ${fmt(single.registerWhileAnotherOpen.x)}, native ${fmt(single.registerWhileAnotherOpen.y)}; ` +
      `cancel native on B ${fmt(single.cancel.y)}.`,
  );
  say("");

  say(`## ${BATCH_SIZE} swaps of one pair, one precommit batch and one terminate batch per chain`);
  say("");
  const b = batched.steps;
  table(STEP_HEAD, [
    [`register ×${BATCH_SIZE}, ERC-20 on A (mean ${fmt(b.registerX.mean)})`, b.registerX.total, "", "", "", "", "", ""],
    [`register ×${BATCH_SIZE}, native on B (mean ${fmt(b.registerY.mean)})`, b.registerY.total, "", "", "", "", "", ""],
    stepRow(`precommit A (batch of ${BATCH_SIZE})`, b.precommitX),
    stepRow(`precommit B (batch of ${BATCH_SIZE})`, b.precommitY),
    stepRow(`terminate A (batch of ${BATCH_SIZE})`, b.terminateX),
    stepRow(`terminate B (batch of ${BATCH_SIZE})`, b.terminateY),
    [`**total, ${BATCH_SIZE} swaps**`, `**${fmt(batched.total)}**`, "", "", "", "", "", ""],
    ["**per swap**", `**${fmt(batched.perSwap)}**`, "", "", "", "", "", ""],
  ]);

  say("## ViewRegistry by committee size (k = 16, 8 new heights, threshold signatures)");
  say("");
  table(["q", "signatures", "submitView", "submitForkEvidence"], SUBMIT_VIEW_COMMITTEE_SIZES.map((q) => [q, thresholdAt(q), g.submitView[q]!, g.submitForkEvidence[q]!]));

  say("## One proof step (header + account proof + storage proof, one transaction)");
  say("");
  const p = g.proofStep;
  table(["proof", "gas"], [
    ["devnet (in-process chain)", p.devnet],
    [`mainnet depth, StateProof (${p.mainnetNodes.account} + ${p.mainnetNodes.storage} nodes, ${fmt(p.calldataBytesMainnet)} calldata bytes)`, p.mainnetDepth],
    ["mainnet depth, OpenZeppelin TrieProof", p.mainnetDepthOpenZeppelin],
    ["mainnet, EIP-7623 calldata floor of that transaction", p.mainnetCalldataFloor],
    ["mainnet, execution only (StateProof / OpenZeppelin)", `${fmt(p.mainnetExecution)} / ${fmt(p.mainnetExecutionOpenZeppelin)}`],
  ]);

  const v = g.submitViewByScheme;
  say("## submitView by signature scheme (k = 16, 8 new heights, signed by exactly ceil(2q/3), same run)");
  say("");
  table(
    ["q", "signers", "submitView.ecdsa", "submitView.bls", "bls / ecdsa"],
    SCHEME_COMMITTEE_SIZES.map((q) => [q, thresholdAt(q), v.ecdsa[q]!, v.bls[q]!, x(v.bls[q]! / v.ecdsa[q]!)]),
  );
  say(
    `BLS is cheaper from q ≈ ${v.crossoverQ ?? "—"} on. One gossip update (a view-update with one signed view) at q = 64: ` +
      `ECDSA ${fmt(v.gossipUpdateBytesAtQ64.ecdsa)} bytes, BLS ${fmt(v.gossipUpdateBytesAtQ64.bls)} bytes.`,
  );
  say("");
  say(`Once per chain and verifier: registration with its genesis view (BLS: the key tables deployed), and ${fmt(v.registration.proveBlsKey)} gas per proveBlsKey.`);
  say("");
  table(["q", "registerChain (ECDSA)", "registerBlsChain"], SCHEME_COMMITTEE_SIZES.map((q) => [q, v.registration.ecdsa[q]!, v.registration.bls[q]!]));

  say("## Ratios and goals (reported, not asserted)");
  say("");
  const r = g.ratios;
  const met = (ok: boolean) => (ok ? "met" : "NOT met");
  table(["measure", "value", "goal", ""], [
    ["swap.single / htlcSwap", x(r.singleOverHtlc.value), `<= ${x(GOALS.singleOverHtlc)}`, met(r.singleOverHtlc.met)],
    ["swap.batched.perSwap / htlcSwap", x(r.batchedPerSwapOverHtlc.value), `<= ${x(GOALS.batchedPerSwapOverHtlc)}`, met(r.batchedPerSwapOverHtlc.met)],
    ["proofStep.mainnetDepth", fmt(r.proofStepMainnetDepth.value), `<= ${fmt(GOALS.proofStepMainnetDepth)}`, met(r.proofStepMainnetDepth.met)],
    ["submitView.bls / submitView.ecdsa at q = 100", x(v.blsOverEcdsaAtQ100.value), `<= ${x(v.blsOverEcdsaAtQ100.goal)}`, met(v.blsOverEcdsaAtQ100.met)],
    ["submitView.bls, max / min over q = 16 … 256", x(v.blsFlatFrom16To256.value), `<= ${x(v.blsFlatFrom16To256.goal)}`, met(v.blsFlatFrom16To256.met)],
    ["swap.single / v1 swap with views (3,509,823)", x(g.v1.singleOverV1), "", ""],
    ["htlcSwap / v1 HTLC (407,392)", x(h.total / g.v1.htlcSwap), "", ""],
  ]);

  await writeFile(REPORT_PATH, `${JSON.stringify(g, null, 2)}\n`);
  say(`Wrote ${REPORT_PATH}. Took ${g.seconds.toFixed(1)} s.`);
}

await main();
