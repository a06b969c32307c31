import { Status } from "./abis.js";

/** A contract's record word, as ContractRecord.unpack reads it. */
export type RecordFields = { status: number; registeredAt: bigint; committedAt: bigint; finishedAt: bigint; valueGwei: bigint };

const U64 = (1n << 64n) - 1n;

/**
 * The fields of a Gateway record word: status (8 bits) | registeredAt (64) | committedAt (64) | finishedAt (64) |
 * valueGwei (56), low bits first. An unknown status reads as None, as on chain.
 */
export function unpackRecord(word: bigint): RecordFields {
  const status = Number(word & 0xffn);
  return {
    status: status <= Status.Cancelled ? status : Status.None,
    registeredAt: (word >> 8n) & U64,
    committedAt: (word >> 72n) & U64,
    finishedAt: (word >> 136n) & U64,
    valueGwei: (word >> 200n) & ((1n << 56n) - 1n),
  };
}
