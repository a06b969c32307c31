import { keccak256, toRlp, type Hex } from "viem";
import { RelayerError } from "../util/relayerError.js";

/** An `eth_getBlockByNumber` result as the node returns it, before any formatting. */
export type RpcBlock = Record<string, unknown> & { hash: Hex; number: Hex };

/** Header fields in RLP order, each introduced by the fork that added it (London, Shanghai, Cancun, Prague). */
const HEADER_FIELDS = [
  "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom",
  "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce",
  "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot", "requestsHash",
] as const;
const QUANTITIES = new Set(["difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "blobGasUsed", "excessBlobGas"]);

export class BlockHeaderMismatchError extends RelayerError {
  constructor(readonly blockHash: Hex, readonly encodedHash: Hex) {
    super(`block header does not hash to the block's hash: the node reported ${blockHash}, its fields give ${encodedHash}`);
  }
}

/** RLP quantities are minimal big-endian bytes: zero is the empty string. */
function quantity(value: Hex): Hex {
  const n = BigInt(value);
  if (n === 0n) return "0x";
  const hex = n.toString(16);
  return `0x${hex.length % 2 ? "0" : ""}${hex}`;
}

/** The RLP of a block's header, checked to hash to the block hash. */
export function encodeBlockHeader(block: RpcBlock): Hex {
  const fields: Hex[] = [];
  for (const name of HEADER_FIELDS) {
    const value = block[name] as Hex | undefined | null;
    if (value === undefined || value === null) break; // fields of later forks are absent on older chains
    fields.push(QUANTITIES.has(name) ? quantity(value) : value);
  }
  const rlp = toRlp(fields);
  const encodedHash = keccak256(rlp);
  if (encodedHash !== block.hash) throw new BlockHeaderMismatchError(block.hash, encodedHash);
  return rlp;
}
