import { verifyMerkleProof } from "@ethereumjs/mpt";
import { bytesToHex, fromRlp, hexToBigInt, hexToBytes, size, type Address, type Hex } from "viem";
import { RelayerError } from "../util/relayerError.js";

type Node = Hex | readonly Node[];

/** A Merkle-Patricia proof that does not lead from its root to its key: a forged or truncated `eth_getProof`. */
export class TrieProofError extends RelayerError {
  constructor(readonly what: string, reason: string) {
    super(`${what} proof refused: ${reason}`);
  }
}

/**
 * The value under `key` (hashed, as in Ethereum's secure tries) in the trie of root `root`, by `proof` (`eth_getProof`'s
 * nodes, root first): the RLP value of the leaf, or undefined when the proof shows that no leaf has that key. The walk is
 * @ethereumjs/mpt's; throws TrieProofError on any proof it refuses.
 */
async function readTrie({ root, key, proof, what }: { root: Hex; key: Hex; proof: readonly Hex[]; what: string }): Promise<Hex | undefined> {
  let value: Uint8Array | null;
  try {
    value = await verifyMerkleProof(hexToBytes(key), proof.map((node) => hexToBytes(node)), { root: hexToBytes(root), useKeyHashing: true });
  } catch {
    throw new TrieProofError(what, "it does not lead from the root to the key");
  }
  return value === null ? undefined : bytesToHex(value);
}

/** The storage root of `account` in the state of root `stateRoot`, by `eth_getProof`'s account proof. */
export async function readStorageRoot({ stateRoot, account, accountProof }: { stateRoot: Hex; account: Address; accountProof: readonly Hex[] }): Promise<Hex> {
  const value = await readTrie({ root: stateRoot, key: account, proof: accountProof, what: "account" });
  if (value === undefined) throw new TrieProofError("account", `no account ${account} in that state`);
  const fields = fromRlp(value, "hex") as Node;
  if (typeof fields === "string" || fields.length !== 4 || typeof fields[2] !== "string" || size(fields[2]) !== 32) {
    throw new TrieProofError("account", "the account is not [nonce, balance, storageRoot, codeHash]");
  }
  return fields[2];
}

/** The word in `slot` of the storage of root `storageRoot`, by one of `eth_getProof`'s storage proofs (0 when absent). */
export async function readSlot({ storageRoot, slot, storageProof }: { storageRoot: Hex; slot: Hex; storageProof: readonly Hex[] }): Promise<bigint> {
  const value = await readTrie({ root: storageRoot, key: slot, proof: storageProof, what: "storage" });
  if (value === undefined) return 0n;
  const word = fromRlp(value, "hex") as Node;
  if (typeof word !== "string" || size(word) > 32) throw new TrieProofError("storage", "a slot value that is not a word");
  return word === "0x" ? 0n : hexToBigInt(word);
}

/** Block number (field 8) and state root (field 3) of an RLP block header. */
export function headerFields(header: Hex): { number: bigint; stateRoot: Hex } {
  let fields: Node;
  try {
    fields = fromRlp(header, "hex") as Node;
  } catch {
    throw new TrieProofError("header", "not RLP");
  }
  if (typeof fields === "string" || fields.length < 9) throw new TrieProofError("header", "not a header");
  const [stateRoot, number] = [fields[3], fields[8]];
  if (typeof stateRoot !== "string" || size(stateRoot) !== 32 || typeof number !== "string" || size(number) > 8) {
    throw new TrieProofError("header", "a malformed state root or number");
  }
  return { number: number === "0x" ? 0n : hexToBigInt(number), stateRoot };
}
