import { bls12_381 } from "@noble/curves/bls12-381.js";
import { concatHex, hexToBytes, keccak256, numberToHex, toHex, type Address, type Hex } from "viem";
import type { View } from "./view.js";
import { viewDigest } from "./viewDigest.js";
import { RelayerError } from "../util/relayerError.js";

/**
 * BLS12-381 with short signatures (noble's `shortSignatures`: signatures in G1, public keys in G2), as the ViewRegistry
 * checks them through EIP-2537 (contracts/libraries/BlsLib.sol): hashing onto G1 costs the contract some 37,000 gas less
 * per view than hashing onto G2. Points travel and go on chain in the EIP-2537 encoding: a G1 point x ‖ y (128 bytes), a
 * G2 point x.c0 ‖ x.c1 ‖ y.c0 ‖ y.c1 (256 bytes), each coordinate 64 bytes with 16 leading zeros, infinity all zeros.
 */
const { shortSignatures: scheme, G1, G2 } = bls12_381;

/** The RFC 9380 domain tags of view signatures and of proofs of possession (BlsLib.VIEW_DST, BlsLib.POP_DST). */
export const BLS_VIEW_DST = "FinalityIBC-V1-VIEW_BLS12381G1_XMD:SHA-256_SSWU_RO_";
export const BLS_POP_DST = "FinalityIBC-V1-POP_BLS12381G1_XMD:SHA-256_SSWU_RO_";

export const G1_BYTES = 128;
export const G2_BYTES = 256;
/** Bytes of a BLS view's one proof entry: the signer bitmap (32 bytes, bit i for member i) ‖ the aggregate signature. */
export const AGGREGATE_BYTES = 32 + G1_BYTES;

type G1Point = ReturnType<typeof scheme.hash>;
type G2Point = ReturnType<typeof scheme.getPublicKey>;

export class BlsPointError extends RelayerError {
  constructor(what: string, options?: { cause?: unknown }) {
    super(`not a BLS12-381 point: ${what}`, options);
  }
}

const fp = (value: bigint): string => value.toString(16).padStart(128, "0");

export function encodeG1(point: G1Point): Hex {
  if (point.is0()) return `0x${"00".repeat(G1_BYTES)}`;
  const { x, y } = point.toAffine();
  return `0x${fp(x)}${fp(y)}`;
}

export function encodeG2(point: G2Point): Hex {
  if (point.is0()) return `0x${"00".repeat(G2_BYTES)}`;
  const { x, y } = point.toAffine();
  return `0x${fp(x.c0)}${fp(x.c1)}${fp(y.c0)}${fp(y.c1)}`;
}

/** The field elements of an EIP-2537 encoding, each checked to have its 16 leading zero bytes. */
function coordinates(encoded: Hex, bytes: number): bigint[] {
  if (encoded.length !== 2 + 2 * bytes) throw new BlsPointError(`${(encoded.length - 2) / 2} bytes, expected ${bytes}`);
  const out: bigint[] = [];
  for (let at = 2; at < encoded.length; at += 128) {
    if (!/^0{32}$/.test(encoded.slice(at, at + 32))) throw new BlsPointError("a coordinate without its 16 zero bytes");
    out.push(BigInt(`0x${encoded.slice(at + 32, at + 128)}`));
  }
  return out;
}

/** A G1 point from its encoding, refused (BlsPointError) off the curve, outside the subgroup or at infinity. */
export function decodeG1(encoded: Hex): G1Point {
  const [x, y] = coordinates(encoded, G1_BYTES) as [bigint, bigint];
  return valid(() => G1.Point.fromAffine({ x, y }));
}

/** A G2 point from its encoding, refused (BlsPointError) off the curve, outside the subgroup or at infinity. */
export function decodeG2(encoded: Hex): G2Point {
  const [x0, x1, y0, y1] = coordinates(encoded, G2_BYTES) as [bigint, bigint, bigint, bigint];
  const { Fp2 } = bls12_381.fields;
  return valid(() => G2.Point.fromAffine({ x: Fp2.create({ c0: x0, c1: x1 }), y: Fp2.create({ c0: y0, c1: y1 }) }));
}

function valid<P extends { is0(): boolean; assertValidity(): void }>(make: () => P): P {
  let point: P;
  try {
    point = make();
    point.assertValidity();
  } catch (cause) {
    throw new BlsPointError((cause as Error).message, { cause });
  }
  if (point.is0()) throw new BlsPointError("the point at infinity");
  return point;
}

/** A BLS secret key derived from `seed` (a node derives it from its account key, a test from a label). */
export function blsSecretKey(seed: Hex): Uint8Array {
  // noble reduces a 48-byte seed modulo the group order (FIPS 186-5 A.2.1-style, bias below 2^-128).
  const wide = concatHex([keccak256(concatHex([seed, "0x01"])), keccak256(concatHex([seed, "0x02"]))]);
  return bls12_381.utils.randomSecretKey(hexToBytes(wide).subarray(0, 48));
}

/** The G2 public key of `secretKey`, encoded. */
export function blsPublicKey(secretKey: Uint8Array): Hex {
  return encodeG2(scheme.getPublicKey(secretKey));
}

/** The proof of possession of `secretKey`'s public key: its signature of the key's own encoding under BLS_POP_DST. */
export function blsProofOfPossession(secretKey: Uint8Array): Hex {
  return encodeG1(scheme.sign(scheme.hash(hexToBytes(blsPublicKey(secretKey)), BLS_POP_DST), secretKey));
}

/** True when `proof` proves possession of `key` (both encoded); false for any malformed point. */
export function verifyProofOfPossession(key: Hex, proof: Hex): boolean {
  try {
    return scheme.verify(decodeG1(proof), scheme.hash(hexToBytes(key), BLS_POP_DST), decodeG2(key));
  } catch {
    return false;
  }
}

/** What a BLS committee member signs for a view: the view's EIP-712 digest (the same as with ECDSA) hashed onto G1. */
export function hashViewToG1(view: View, gateway: Address): G1Point {
  return scheme.hash(hexToBytes(viewDigest(view, gateway)), BLS_VIEW_DST);
}

/** One member's signature of `view` (G1, encoded). */
export function signViewBls(secretKey: Uint8Array, view: View, gateway: Address): Hex {
  return encodeG1(scheme.sign(hashViewToG1(view, gateway), secretKey));
}

/** One view's proof entry from its signers' signatures, by committee index: the bitmap ‖ their aggregate. */
export function aggregateViewSignatures(signatures: ReadonlyMap<number, Hex>): Hex {
  let bitmap = 0n;
  for (const index of signatures.keys()) {
    if (!Number.isInteger(index) || index < 0 || index > 255) throw new RangeError(`committee index ${index} outside 0..255`);
    bitmap |= 1n << BigInt(index);
  }
  const aggregate = scheme.aggregateSignatures([...signatures.values()].map(decodeG1));
  return concatHex([numberToHex(bitmap, { size: 32 }), encodeG1(aggregate)]);
}

/** The signer indices of a proof entry's bitmap, ascending. */
export function signersOf(aggregate: Hex): number[] {
  const bitmap = BigInt(aggregate.slice(0, 66));
  const indices: number[] = [];
  for (let i = 0; i < 256; i++) if ((bitmap >> BigInt(i)) & 1n) indices.push(i);
  return indices;
}

/** Aggregates of committees' keys already computed, by the committee's keys and the signers' bitmap. */
const aggregateKeys = new Map<string, G2Point>();
const AGGREGATE_KEYS_KEPT = 1_024;

/** The sum of the keys of `signers` (indices into `keys`), remembered: a committee's signer sets repeat. */
function aggregateKeyOf(keys: readonly Hex[], signers: readonly number[]): G2Point {
  const id = keccak256(concatHex([...keys, toHex(signers.join(","))]));
  let sum = aggregateKeys.get(id);
  if (sum === undefined) {
    sum = scheme.aggregatePublicKeys(signers.map((i) => decodeG2(keys[i]!)));
    if (aggregateKeys.size >= AGGREGATE_KEYS_KEPT) aggregateKeys.delete(aggregateKeys.keys().next().value!);
    aggregateKeys.set(id, sum);
  }
  return sum;
}

/**
 * Checks a view's proof entry as the ViewRegistry does: 160 bytes, no bit beyond the committee, at least `threshold`
 * signers, and the aggregate signature of the view's digest under the signers' aggregate key. Returns a reason for a
 * refusal, or undefined when it holds.
 */
export function refuseViewAggregate(view: View, aggregate: Hex, keys: readonly Hex[], threshold: number, gateway: Address): string | undefined {
  if (aggregate.length !== 2 + 2 * AGGREGATE_BYTES) return `an aggregate of ${(aggregate.length - 2) / 2} bytes, expected ${AGGREGATE_BYTES}`;
  const signers = signersOf(aggregate);
  if (signers.some((i) => i >= keys.length)) return "a signer bit beyond the committee";
  if (signers.length < threshold) return `${signers.length} signers, threshold ${threshold}`;
  let signature: G1Point;
  try {
    signature = decodeG1(`0x${aggregate.slice(66)}`);
  } catch (cause) {
    return (cause as Error).message;
  }
  const key = aggregateKeyOf(keys, signers);
  if (key.is0()) return "the signers' keys sum to the point at infinity";
  return scheme.verify(signature, hashViewToG1(view, gateway), key) ? undefined : "the aggregate signature does not verify";
}
