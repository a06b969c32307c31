import { signRecoverable } from "tiny-secp256k1";
import { bytesToHex, type Hex } from "viem";
import { RelayerError } from "./relayerError.js";

/** A hash or a private key that cannot be signed with: the wrong length, or a key outside the secp256k1 order. */
export class UnsignableError extends RelayerError {}

/**
 * The 65-byte signature r ‖ s ‖ v (v 27 or 28, low s) of `privateKey` over the 32-byte `hash`: viem's `sign` (noble's
 * RFC 6979 ECDSA), made by libsecp256k1 compiled to WebAssembly (tiny-secp256k1), as recoverSigner recovers. Signing its
 * chain's views was a tenth of what an idle committee member computed; this takes 0.17–0.19 ms here against 0.71–0.96 ms
 * for noble's JavaScript.
 * test/relayer/signHash.test.ts checks that both give the same bytes.
 */
export function signHash(hash: Uint8Array, privateKey: Uint8Array): Hex {
  if (hash.length !== 32) throw new UnsignableError(`a ${hash.length}-byte hash; a signature is over 32 bytes`);
  if (privateKey.length !== 32) throw new UnsignableError(`a ${privateKey.length}-byte private key; a secp256k1 key is 32 bytes`);
  let signed: { signature: Uint8Array; recoveryId: number };
  try {
    signed = signRecoverable(hash, privateKey);
  } catch (cause) {
    throw new UnsignableError("the private key is not a secp256k1 key (zero, or not below the group order)", { cause });
  }
  return `${bytesToHex(signed.signature)}${signed.recoveryId === 0 ? "1b" : "1c"}`;
}
