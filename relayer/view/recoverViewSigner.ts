import { hexToBytes, type Address, type Hex } from "viem";
import { recoverSigner } from "../util/recoverSigner.js";

/** Recoveries remembered per process: a few blocks' worth of every chain's committee signatures, reached through every path. */
const CAPACITY = 20_000;
const recovered = new Map<string, Address>();

/**
 * The address that made `signature` over the view digest `digest`. A node meets the same signature many times (as a co-signature,
 * then in the certified view from several gossip peers, in check() answers and read back from its registry), and a secp256k1
 * recovery is the costliest thing it does, so each result is remembered: recovery is a pure function of its two inputs.
 * Throws on an unreadable signature, which is never remembered.
 */
export function recoverViewSigner(digest: Hex, signature: Hex): Address {
  const key = keyOf(digest, signature);
  const known = recovered.get(key);
  if (known !== undefined) return known;
  const signer = recoverSigner(hexToBytes(digest), hexToBytes(signature));
  remember(key, signer);
  return signer;
}

/**
 * Remembers the signer of a signature this process made over `digest` (signView): its own co-signature then comes back
 * in every certified view of its chain, and would cost a recovery each time to learn what the node knew when signing.
 */
export function rememberViewSigner(digest: Hex, signature: Hex, signer: Address): void {
  remember(keyOf(digest, signature), signer);
}

function keyOf(digest: Hex, signature: Hex): string {
  return `${digest}${signature.slice(2)}`.toLowerCase();
}

function remember(key: string, signer: Address): void {
  if (recovered.size >= CAPACITY) recovered.delete(recovered.keys().next().value!);
  recovered.set(key, signer);
}
