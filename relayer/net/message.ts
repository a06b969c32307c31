import type { Address, Hex } from "viem";

/**
 * Messages between relayer nodes. Every field is JSON: numbers that may exceed 2^53 travel as decimal
 * strings, byte strings as 0x-hex. `kind` names the message for the counters.
 */
export type WireView = { chainId: string; height: string; acc: Hex; hashes: Hex[] };
export type WireSignedView = { view: WireView; signatures: Hex[] };
/**
 * The records of a check() answer, from one `eth_getProof` of the answering chain's Gateway: the block's RLP header,
 * the Gateway's account proof, and one storage proof per contract asked about, in the order of the request.
 */
export type WireRecordProofs = { header: Hex; accountProof: Hex[]; storageProofs: Hex[][] };

/** Most contracts one check() request may ask about (none: a registry refresh, see the request message). */
export const MAX_CONTRACTS_PER_REQUEST = 32;
/** Most block hashes an answer bridges: a requester further behind gets an answer-error. */
export const MAX_BRIDGE = 8192;

export type Message =
  /**
   * A committee member's signature of its own chain's view at `height`, sent to the rest of its committee.
   * The view itself does not travel: every member computes it from the chain and checks the signature against its own.
   */
  | { kind: "cosign"; chainId: string; height: string; signer: Address; signature: Hex }
  /**
   * Request channel: ask a node of `chainId` for check() of 1..32 of its contracts at once, the paper's check(Hash(tx)).
   * `knownHeight` is the newest height of `chainId` the requester's registry accepted (the answer bridges from there);
   * the proof must be at `minHeight` or later. With `atHeight` (a height the requester's registry accepted, used once
   * `chainId` is frozen there and no newer view can be added) the proof is taken at exactly that block, with no view.
   * With no contract ids it is a registry refresh: only the newest view and its bridge (and the header of the view's
   * block, with no storage proof), for a view above `knownHeight` (minHeight > knownHeight) and never with `atHeight`.
   */
  | { kind: "request"; requestId: string; chainId: string; contractIds: Hex[]; knownHeight: string; minHeight: string; atHeight?: string }
  /**
   * Request channel: the answer. `height` is the block the records are proven at. Without `atHeight` in the request,
   * `view` is the server's newest certified view (its newest block is `height`) and `bridge` the block hashes of
   * heights knownHeight + 1 .. start of the view's window − 1 (empty when they meet); with `atHeight` both are absent.
   */
  | { kind: "answer"; requestId: string; height: string; proof: WireRecordProofs; view?: WireSignedView; bridge?: Hex[] }
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

export type Request = Extract<Message, { kind: "request" }>;
export type Answer = Extract<Message, { kind: "answer" }>;
export type Reply = Answer | Extract<Message, { kind: "answer-error" }>;
