import { hexToBytes, keccak256, type Address, type Hex } from "viem";

const BLOOM_BYTES = 256;

/**
 * Whether a block's 2048-bit logs bloom (its header's logsBloom) may hold a log emitted by `address`: false means that
 * no log of the block came from it, so a node that watches only `address` need not ask for the block's logs. Each log
 * sets three bits of the bloom from the keccak of its address (and three from each topic): the low 11 bits of the
 * hash's first three byte pairs, counted from the bloom's last byte (the Yellow Paper's M3:2048).
 */
export function bloomMayHold(bloom: Hex, address: Address): boolean {
  const bits = hexToBytes(bloom);
  if (bits.length !== BLOOM_BYTES) throw new RangeError(`a logs bloom is ${BLOOM_BYTES} bytes, not ${bits.length}`);
  const hash = hexToBytes(keccak256(address));
  for (let i = 0; i < 6; i += 2) {
    const bit = ((hash[i]! << 8) | hash[i + 1]!) & 2047;
    if ((bits[BLOOM_BYTES - 1 - (bit >> 3)]! & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}
