import type { Address, Hex } from "viem";

/**
 * Messages between relayer nodes. Every field is JSON: numbers that may exceed 2^53 travel as decimal
 * strings, byte strings as 0x-hex. `kind` names the message for the counters.
 */
export type WireView = { chainId: string; height: string; acc: Hex; hashes: Hex[] };
export type WireSignedView = { view: WireView; signatures: Hex[] };
export type WireStorageProof = { header: Hex; accountProof: Hex[]; storageProof: Hex[] };

export type Message =
  /**
   * A committee member's signature of its own chain's view at `height`, sent to the rest of its committee.
   * The view itself does not travel: every member computes it from the chain and checks the signature against its own.
   */
  | { kind: "cosign"; chainId: string; height: string; signer: Address; signature: Hex }
  /** Request channel: ask a node of `chainId` for check(contractId), the paper's check(Hash(tx)). */
  | { kind: "request"; requestId: string; chainId: string; contractId: Hex; knownHeight: string; minHeight: string }
  /** Request channel: the answer, with the signed views that connect the requester's view to the proof's height. */
  | { kind: "answer"; requestId: string; views: WireSignedView[]; height: string; proof: WireStorageProof }
  /** Request channel: the node cannot answer (yet): the view it has does not reach `minHeight`, or it failed. */
  | { kind: "answer-error"; requestId: string; reason: string }
  /** Gossip, push: the sender's view list entries that changed (each view carries its committee's signatures). */
  | { kind: "view-update"; views: WireSignedView[] }
  /** Gossip, pull: asks for certified views of `chainId` from `fromHeight` on, at most k apart. */
  | { kind: "view-pull"; chainId: string; fromHeight: string }
  /** Gossip: two conflicting signed views of one chain, fork evidence. */
  | { kind: "evidence"; a: WireSignedView; b: WireSignedView };

export type MessageKind = Message["kind"];
export const MESSAGE_KINDS: readonly MessageKind[] = ["cosign", "request", "answer", "answer-error", "view-update", "view-pull", "evidence"];
