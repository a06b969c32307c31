import type { Address, Hex } from "viem";
import { refuseViewAggregate } from "./blsScheme.js";
import { recoverViewSigner } from "./recoverViewSigner.js";
import type { View } from "./view.js";
import { viewDigest } from "./viewDigest.js";
import { RelayerError } from "../util/relayerError.js";

export class SignedViewError extends RelayerError {
  constructor(reason: string) {
    super(`signed view refused: ${reason}`);
  }
}

/** Half the secp256k1 order: the ViewRegistry (OpenZeppelin ECDSA) refuses signatures with a larger s. */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** A chain's committee as its ViewRegistry holds it; `blsKeys` (G2 keys of the members, in order) when it signs with BLS. */
export type Committee = { gateway: Address; members: readonly Address[]; threshold: number; k: number; blsKeys?: readonly Hex[] | undefined };

/** The address that made `signature` over the view digest `digest`, throwing when it names none (recoverViewSigner). */
export type SignerRecovery = (digest: Hex, signature: Hex) => Address;

/**
 * Checks a view and its signatures the way the ViewRegistry will: a window of the right shape, at least
 * `threshold` distinct committee members in ascending order, or for a BLS committee one aggregate of at least
 * `threshold` signers (refuseViewAggregate). Throws SignedViewError otherwise. A node recovers each ECDSA signer
 * (`recover`, recoverViewSigner); the simulator, which made the signatures it checks, knows who made them.
 */
export async function verifySignedView(view: View, signatures: readonly Hex[], committee: Committee, recover: SignerRecovery = recoverViewSigner): Promise<void> {
  const expected = Math.min(committee.k, Number(view.height) + 1);
  if (view.hashes.length !== expected) throw new SignedViewError(`window of ${view.hashes.length} hashes, expected ${expected}`);
  if (Number(view.height) + 1 <= committee.k && BigInt(view.acc) !== 0n) throw new SignedViewError("a window that reaches height 0 has acc 0");
  if (committee.blsKeys !== undefined) {
    const refused = signatures.length === 1 ? refuseViewAggregate(view, signatures[0]!, committee.blsKeys, committee.threshold, committee.gateway) : `${signatures.length} entries, a BLS committee signs with one aggregate`;
    if (refused !== undefined) throw new SignedViewError(refused);
    return;
  }
  if (signatures.length < committee.threshold) {
    throw new SignedViewError(`${signatures.length} signatures, threshold ${committee.threshold}`);
  }
  const members = new Set(committee.members.map((m) => m.toLowerCase()));
  const digest = viewDigest(view, committee.gateway);
  let previous = 0n;
  for (const signature of signatures) {
    // The registry's OpenZeppelin ECDSA takes only 65-byte signatures with low s and v of 27 or 28.
    const v = signature.slice(130).toLowerCase();
    if (signature.length !== 132 || BigInt(`0x${signature.slice(66, 130)}`) > HALF_N || (v !== "1b" && v !== "1c")) {
      throw new SignedViewError("not a 65-byte low-s signature with v 27 or 28");
    }
    let signer: Address;
    try {
      signer = recover(digest, signature);
    } catch (cause) {
      throw new SignedViewError(`unreadable signature (${(cause as Error).message})`);
    }
    if (!members.has(signer.toLowerCase())) throw new SignedViewError(`${signer} is not in the committee`);
    if (BigInt(signer) <= previous) throw new SignedViewError(`signers not distinct and ascending at ${signer}`);
    previous = BigInt(signer);
  }
}

/**
 * Checks a view's committee signatures, throwing when they do not hold: `verifySignedView` in a node.
 * The simulator passes a memoized one, so that the nodes it runs in one process check each signed view once.
 */
export type ViewVerifier = (view: View, signatures: readonly Hex[], committee: Committee) => Promise<void>;
