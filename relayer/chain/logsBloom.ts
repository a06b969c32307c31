import { hexToBytes, keccak256, type Address, type Hex } from "viem";

const BLOOM_BYTES = 256;

/** The three bloom bits a log of `address` sets: the low 11 bits of the first three byte pairs of keccak256(address). */
export function bloomBits(address: Address): readonly number[] {
  const hash = hexToBytes(keccak256(address));
  return [0, 2, 4].map((i) => ((hash[i]! << 8) | hash[i + 1]!) & 2047);
}

/**
 * Whether a block's 2048-bit logs bloom (its header's logsBloom) may hold a log emitted by the address whose `bits` these
 * are (`bloomBits`): false means that no log of the block came from it, so a node that watches only that address need
 * not ask for the block's logs. Each log sets three bits of the bloom from the keccak of its address (and three from
 * each topic), counted from the bloom's last byte (the Yellow Paper's M3:2048).
 */
export function bloomMayHold(bloom: Hex, bits: readonly number[]): boolean {
  if (bloom.length !== 2 + 2 * BLOOM_BYTES) throw new RangeError(`a logs bloom is ${BLOOM_BYTES} bytes, not ${(bloom.length - 2) / 2}`);
  // Byte j of the bloom is the hex pair at 2 + 2j; only the three bytes that hold the bits are read.
  return bits.every((bit) => {
    const at = 2 + 2 * (BLOOM_BYTES - 1 - (bit >> 3));
    return (Number.parseInt(bloom.slice(at, at + 2), 16) & (1 << (bit & 7))) !== 0;
  });
}
