import { fromRlp, hexToBigInt, keccak256, size, type Address, type Hex } from "viem";

type Node = Hex | readonly Node[];

/** A Merkle-Patricia proof that does not lead from its root to its key: a forged or truncated `eth_getProof`. */
export class TrieProofError extends Error {
  constructor(readonly what: string, reason: string) {
    super(`${what} proof refused: ${reason}`);
    this.name = "TrieProofError";
  }
}

const nibblesOf = (hex: Hex): number[] => [...hex.slice(2)].map((c) => parseInt(c, 16));

/**
 * The value under `key` in the trie of root `root`, by `proof` (`eth_getProof`'s nodes, root first): the RLP value of
 * the leaf, or undefined when the proof shows that no leaf has that key. Every node must hash to the reference its
 * parent holds (a node under 32 bytes sits inline in its parent). Throws TrieProofError on any other proof.
 */
export function readTrie({ root, key, proof, what }: { root: Hex; key: Hex; proof: readonly Hex[]; what: string }): Hex | undefined {
  const path = nibblesOf(keccak256(key));
  let reference: Node = root;
  let next = 0;
  let at = 0;
  for (;;) {
    let node: Node;
    if (typeof reference === "string") {
      // A 32-byte reference names the next proof node by its hash.
      const encoded = proof[next++];
      if (encoded === undefined) throw new TrieProofError(what, "the proof ends before the key's leaf");
      if (keccak256(encoded).toLowerCase() !== reference.toLowerCase()) throw new TrieProofError(what, `node ${next - 1} does not hash to its parent's reference`);
      try {
        node = fromRlp(encoded, "hex") as Node;
      } catch {
        throw new TrieProofError(what, `node ${next - 1} is not RLP`);
      }
    } else {
      node = reference; // inline node
    }
    if (typeof node === "string") throw new TrieProofError(what, "a node is not a list");
    if (node.length === 17) {
      if (at === path.length) throw new TrieProofError(what, "a branch at the end of a 32-byte key");
      const child: Node = node[path[at++]!]!;
      if (child === "0x") return undefined; // no branch that way: the key is absent
      reference = checkedReference(child, what);
      continue;
    }
    if (node.length !== 2) throw new TrieProofError(what, `a node of ${node.length} items`);
    const [encodedPath, value] = node as readonly [Node, Node];
    if (typeof encodedPath !== "string" || encodedPath === "0x") throw new TrieProofError(what, "a node without a path");
    const flags = parseInt(encodedPath.slice(2, 3), 16);
    if (flags > 3) throw new TrieProofError(what, "a path with unknown flags");
    const segment = nibblesOf(encodedPath).slice(flags & 1 ? 1 : 2);
    const matches = segment.every((n, i) => path[at + i] === n);
    if (flags & 2) {
      // A leaf: the key's leaf when the rest of the key is its path, proof of absence otherwise.
      if (!matches || at + segment.length !== path.length) return undefined;
      if (typeof value !== "string") throw new TrieProofError(what, "a leaf whose value is a list");
      return value;
    }
    if (!matches) return undefined; // an extension that leads elsewhere: the key is absent
    at += segment.length;
    reference = checkedReference(value, what);
  }
}

function checkedReference(child: Node, what: string): Node {
  if (typeof child === "string" && size(child) !== 32) throw new TrieProofError(what, "a reference that is neither a hash nor an inline node");
  return child;
}

/** The storage root of `account` in the state of root `stateRoot`, by `eth_getProof`'s account proof. */
export function readStorageRoot({ stateRoot, account, accountProof }: { stateRoot: Hex; account: Address; accountProof: readonly Hex[] }): Hex {
  const value = readTrie({ root: stateRoot, key: account, proof: accountProof, what: "account" });
  if (value === undefined) throw new TrieProofError("account", `no account ${account} in that state`);
  const fields = fromRlp(value, "hex") as Node;
  if (typeof fields === "string" || fields.length !== 4 || typeof fields[2] !== "string" || size(fields[2]) !== 32) {
    throw new TrieProofError("account", "the account is not [nonce, balance, storageRoot, codeHash]");
  }
  return fields[2];
}

/** The word in `slot` of the storage of root `storageRoot`, by one of `eth_getProof`'s storage proofs (0 when absent). */
export function readSlot({ storageRoot, slot, storageProof }: { storageRoot: Hex; slot: Hex; storageProof: readonly Hex[] }): bigint {
  const value = readTrie({ root: storageRoot, key: slot, proof: storageProof, what: "storage" });
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
