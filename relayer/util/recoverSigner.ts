import { recover } from "tiny-secp256k1";
import { checksumAddress, keccak256, type Address } from "viem";
import { RelayerError } from "./relayerError.js";

/** A signature that names no key: the wrong length, a recovery byte other than 0, 1, 27 or 28, or r and s that are no signature. */
export class UnreadableSignatureError extends RelayerError {}

/**
 * The address whose secp256k1 key made the 65-byte signature r ‖ s ‖ v (v 27 or 28, or the y parity 0 or 1) over the
 * 32-byte `hash`: Ethereum's ecrecover, with viem's recoverAddress's inputs and results. Recovery is the costliest thing
 * an idle relayer does (co-signatures, gossiped views, check() answers, handshakes), so it runs in libsecp256k1, compiled
 * to WebAssembly by tiny-secp256k1: 0.56 ms here against 4.8 ms for viem's (noble's) JavaScript, and no native addon to
 * build. test/relayer/recoverSigner.test.ts checks it against viem's recoverAddress on valid and malformed signatures.
 */
export function recoverSigner(hash: Uint8Array, signature: Uint8Array): Address {
  if (hash.length !== 32) throw new UnreadableSignatureError(`a ${hash.length}-byte hash; a signature is over 32 bytes`);
  if (signature.length !== 65) throw new UnreadableSignatureError(`a ${signature.length}-byte signature; r ‖ s ‖ v is 65 bytes`);
  const v = signature[64]!;
  const parity = v === 27 || v === 28 ? v - 27 : v;
  if (parity !== 0 && parity !== 1) throw new UnreadableSignatureError(`recovery byte ${v}; it is 27 or 28 (or 0 or 1)`);
  let publicKey: Uint8Array | null;
  try {
    publicKey = recover(hash, signature.subarray(0, 64), parity, false);
  } catch (cause) {
    throw new UnreadableSignatureError("r and s are not a secp256k1 signature", { cause });
  }
  if (publicKey === null) throw new UnreadableSignatureError("the signature recovers to no key");
  return checksumAddress(`0x${keccak256(publicKey.subarray(1)).slice(-40)}`);
}
