/**
 * ViewRegistry.submitView with an ECDSA committee against a BLS12-381 committee of the same size, in one run on one
 * verifier chain (EDR, Prague, EIP-2537): q = 4, 16, 64, 100, 256, threshold ceil(2q/3), views of k = 16 hashes each
 * NEW_BLOCKS_PER_VIEW heights past the accepted one, signed by exactly the threshold (the BLS bitmap names the first
 * threshold members, so the contract subtracts the last q − threshold keys from the stored aggregate). The viewed chains
 * exist only as data (test/fixtures/blsCommittee.ts): a registry checks views and signatures, never the chain. Also the
 * bytes of one gossip update (a view-update with one signed view) at q = 64 for each scheme. A library for scripts/gas.ts.
 */
import { keccak256, stringToHex, type Address, type Hex, type TransactionReceipt } from "viem";
import { toWireSignedView } from "../../relayer/view/signedView.js";
import { orderSignatures, signView } from "../../relayer/view/signView.js";
import type { View } from "../../relayer/view/view.js";
import { thresholdOf } from "../../relayer/view/threshold.js";
import { registrationOfBls, signBls, syntheticChain, syntheticView, type SyntheticChain } from "../../test/fixtures/blsCommittee.js";
import { committeeOf, deploySystem, K, R_DENOMINATOR, R_NUMERATOR, type Chain } from "../../test/fixtures/system.js";

export type Log = (line: string) => void;

export const SCHEME_COMMITTEE_SIZES = [4, 16, 64, 100, 256] as const;
/** Heights between two measured views; the first measured view is preceded by warm-up views of the same shape. */
const STEP = 8n;
const WARM_UP_VIEWS = 3;
const SAMPLES = 3;
/** What the BLS scheme aims at (reported, never asserted). */
export const SCHEME_GOALS = { blsOverEcdsaAtQ100: 0.6, blsFlatFrom16To256: 1.5 } as const;

export type SchemeGas = {
  /** submitView gas (receipt gasUsed, median of SAMPLES) by q. */
  ecdsa: Record<number, number>;
  bls: Record<number, number>;
  /** Committee size above which BLS is cheaper, linearly interpolated between the measured sizes. */
  crossoverQ: number | null;
  blsOverEcdsaAtQ100: { value: number; goal: number; met: boolean };
  /** max / min of BLS over q = 16 … 256. */
  blsFlatFrom16To256: { value: number; goal: number; met: boolean };
  /** Bytes (UTF-8 JSON, as a peer link sends it) of a view-update carrying one signed view, at q = 64. */
  gossipUpdateBytesAtQ64: { ecdsa: number; bls: number };
  /**
   * One-off costs by q: registerChain (ECDSA) and registerBlsChain (BLS: it deploys the key tables, 256 bytes of code per
   * key), each with its genesis view signed by the threshold; and one proveBlsKey (the same for every key).
   */
  registration: { ecdsa: Record<number, number>; bls: Record<number, number>; proveBlsKey: number };
};

async function gasOf(chain: Chain, hash: Promise<Hex>): Promise<number> {
  const receipt: TransactionReceipt = await chain.publicClient.waitForTransactionReceipt({ hash: await hash });
  if (receipt.status !== "success") throw new Error(`submitView reverted (transaction ${receipt.transactionHash})`);
  return Number(receipt.gasUsed);
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;

/** How one scheme's chain is registered (and the gas it took) and its views signed by exactly the threshold. */
type Subject = { chainId: bigint; sign: (view: View) => Promise<Hex[]>; registrationGas: number };

async function ecdsaSubject(verifier: Chain, chainId: bigint, q: number): Promise<Subject> {
  const members = committeeOf(chainId, q);
  const gateway = `0x${keccak256(stringToHex(`gateway/${chainId}`)).slice(26)}` as Address;
  const quorum = members.slice(0, thresholdOf(q, { numerator: R_NUMERATOR, denominator: R_DENOMINATOR }));
  const sign = async (view: View) => orderSignatures(await Promise.all(quorum.map((m) => signView(m, view, gateway))));
  const genesis = syntheticView({ chainId, gateway, members: [], k: K }, 0n);
  const registration = { chainId, gateway, committee: members.map((m) => m.address), rNumerator: R_NUMERATOR, rDenominator: R_DENOMINATOR, k: BigInt(K) };
  const registrationGas = await gasOf(verifier, verifier.registry.write.registerChain([registration, genesis, await sign(genesis)]));
  return { chainId, sign, registrationGas };
}

async function blsSubject(verifier: Chain, chain: SyntheticChain): Promise<Subject & { proveGas: number }> {
  const quorum = chain.members.slice(0, thresholdOf(chain.members.length, { numerator: R_NUMERATOR, denominator: R_DENOMINATOR })).map((_, i) => i);
  const sign = async (view: View) => signBls(chain, view, quorum);
  let proveGas = 0;
  for (const m of chain.members) proveGas = await gasOf(verifier, verifier.registry.write.proveBlsKey([m.key, m.proof]));
  const genesis = syntheticView(chain, 0n);
  const registrationGas = await gasOf(verifier, verifier.registry.write.registerBlsChain([registrationOfBls(chain), chain.members.map((m) => m.key), genesis, await sign(genesis)]));
  return { chainId: chain.chainId, sign, registrationGas, proveGas };
}

/** submitView of views STEP heights apart, after WARM_UP_VIEWS unmeasured ones: the median of SAMPLES receipts. */
async function measureSubmitView(verifier: Chain, subject: Subject): Promise<number> {
  const samples: number[] = [];
  for (let i = 1; i <= WARM_UP_VIEWS + SAMPLES; i++) {
    const view = syntheticView({ chainId: subject.chainId, gateway: "0x", members: [], k: K }, BigInt(i) * STEP);
    const gas = await gasOf(verifier, verifier.registry.write.submitView([view, await subject.sign(view), []]));
    if (i > WARM_UP_VIEWS) samples.push(gas);
  }
  const reached = await verifier.registry.read.latestHeight([subject.chainId]);
  if (reached !== BigInt(WARM_UP_VIEWS + SAMPLES) * STEP) throw new Error(`chain ${subject.chainId}: the views were not all accepted (at ${reached})`);
  return median(samples);
}

/** The committee size where the two series cross, interpolated between measured sizes; null if they never do. */
function crossover(ecdsa: Record<number, number>, bls: Record<number, number>): number | null {
  const qs = [...SCHEME_COMMITTEE_SIZES];
  for (let i = 1; i < qs.length; i++) {
    const [q0, q1] = [qs[i - 1]!, qs[i]!];
    const d0 = ecdsa[q0]! - bls[q0]!;
    const d1 = ecdsa[q1]! - bls[q1]!;
    if (d0 < 0 && d1 >= 0) return Math.round(q0 + ((q1 - q0) * -d0) / (d1 - d0));
  }
  return null;
}

const updateBytes = (view: View, signatures: Hex[]) =>
  Buffer.byteLength(JSON.stringify({ kind: "view-update", views: [toWireSignedView({ view, signatures })] }));

export async function measureSchemeGas(log: Log): Promise<SchemeGas> {
  const [verifier] = (await deploySystem({ networks: ["chainA"] })) as [Chain];
  const ecdsa: Record<number, number> = {};
  const bls: Record<number, number> = {};
  let gossip = { ecdsa: 0, bls: 0 };
  const registration = { ecdsa: {} as Record<number, number>, bls: {} as Record<number, number>, proveBlsKey: 0 };
  for (const q of SCHEME_COMMITTEE_SIZES) {
    log(`  q = ${q}: registering an ECDSA and a BLS committee (proving ${q} keys) …`);
    const ecdsaChain = await ecdsaSubject(verifier, 8000n + BigInt(q), q);
    const blsChain = await blsSubject(verifier, syntheticChain(9000n + BigInt(q), q));
    registration.ecdsa[q] = ecdsaChain.registrationGas;
    registration.bls[q] = blsChain.registrationGas;
    registration.proveBlsKey = blsChain.proveGas;
    ecdsa[q] = await measureSubmitView(verifier, ecdsaChain);
    bls[q] = await measureSubmitView(verifier, blsChain);
    log(`  q = ${q}: submitView ECDSA ${ecdsa[q]}, BLS ${bls[q]}`);
    if (q === 64) {
      const viewOf = (chainId: bigint) => syntheticView({ chainId, gateway: "0x", members: [], k: K }, 100n);
      const [ofEcdsa, ofBls] = [viewOf(ecdsaChain.chainId), viewOf(blsChain.chainId)];
      gossip = { ecdsa: updateBytes(ofEcdsa, await ecdsaChain.sign(ofEcdsa)), bls: updateBytes(ofBls, await blsChain.sign(ofBls)) };
    }
  }
  const atQ100 = bls[100]! / ecdsa[100]!;
  const flat = [16, 64, 100, 256].map((q) => bls[q]!);
  const flatness = Math.max(...flat) / Math.min(...flat);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    ecdsa,
    bls,
    crossoverQ: crossover(ecdsa, bls),
    blsOverEcdsaAtQ100: { value: round(atQ100), goal: SCHEME_GOALS.blsOverEcdsaAtQ100, met: atQ100 <= SCHEME_GOALS.blsOverEcdsaAtQ100 },
    blsFlatFrom16To256: { value: round(flatness), goal: SCHEME_GOALS.blsFlatFrom16To256, met: flatness <= SCHEME_GOALS.blsFlatFrom16To256 },
    gossipUpdateBytesAtQ64: gossip,
    registration,
  };
}
