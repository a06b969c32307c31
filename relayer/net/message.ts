import type { z } from "zod/v4";
import type { messageSchema, recordProofsSchema, signedViewSchema, viewHeadSchema, viewSchema } from "./messageSchema.js";

/**
 * Messages between relayer nodes, and the bounds every field of them is held to. The types are the schema's
 * (`messageSchema.ts`), so that what the compiler believes about a message is what `decodeMessage` checked of it.
 * Every field is JSON: numbers that may exceed 2^53 travel as decimal strings (below 2^64, without leading zeros),
 * byte strings as lower-case 0x-hex, so that one value has one encoding.
 */

/** A request id is this many random bytes, 32 lower-case hex characters on the wire. */
export const REQUEST_ID_BYTES = 16;
/** Most contracts one check() request may ask about (none: a registry refresh, see the request message). */
export const MAX_CONTRACTS_PER_REQUEST = 32;
/** Most block hashes an answer bridges: a requester further behind gets an answer-error. */
export const MAX_BRIDGE = 8192;
/** Largest window of a view: the ViewRegistry's MAX_K. */
export const MAX_K = 256;
/** Largest committee, so most signatures on a view: the ViewRegistry's MAX_COMMITTEE. */
export const MAX_COMMITTEE = 256;
/** Most signed views in one view-update (and most view heads): a push carries one per chain, a pull's answer at most this many. */
export const MAX_VIEWS_PER_UPDATE = 64;
/**
 * Most nodes in one Merkle-Patricia proof: the tries are keyed by 32-byte hashes, 64 nibbles, and each branch node on
 * the path takes at least one of them, so a path holds at most 64 branches (or extensions) and the leaf.
 */
export const MAX_PROOF_NODES = 65;
/** Largest trie node: a full branch node is 532 bytes (16 child hashes of 33, an empty value, a 3-byte list header). */
export const MAX_TRIE_NODE_BYTES = 1024;
/** Largest RLP block header: some 600 bytes today, more on chains with long extra data or future header fields. */
export const MAX_HEADER_BYTES = 4096;
/** Longest reason of an answer-error, in characters. */
export const MAX_REASON_LENGTH = 200;

/** A view of a chain on the wire: `View` with its numbers as decimal strings. */
export type WireView = z.infer<typeof viewSchema>;
/** A view and the signatures of its committee, in ascending signer order. */
export type WireSignedView = z.infer<typeof signedViewSchema>;
/** A signed view without the part of its window the receiver holds (SignedViewHead, viewHead.ts). */
export type WireViewHead = z.infer<typeof viewHeadSchema>;
/**
 * The records of a check() answer, from one `eth_getProof` of the answering chain's Gateway: the block's RLP header,
 * the Gateway's account proof, and one storage proof per contract asked about, in the order of the request.
 */
export type WireRecordProofs = z.infer<typeof recordProofsSchema>;

/**
 * One message, by `kind` (which names it for the counters):
 *
 * - `cosign`: a committee member's signature of its own chain's view at `height`, sent to the rest of its committee.
 *   The view itself does not travel: every member computes it from the chain and checks the signature against its own.
 * - `request` (request channel): asks a node of `chainId` for check() of 1..32 of its contracts at once, the paper's
 *   check(Hash(tx)). `knownHeight` is the newest height of `chainId` the requester's registry accepted (the answer
 *   bridges from there); the proof must be at `minHeight` or later. With `atHeight` (a height the requester's registry
 *   accepted, used once `chainId` is frozen there and no newer view can be added) the proof is taken at exactly that
 *   block, with no view. With no contract ids it is a registry refresh: only the newest view and its bridge (and the
 *   header of the view's block, with no storage proof), for a view above `knownHeight` (minHeight > knownHeight) and
 *   never with `atHeight`.
 * - `answer` (request channel): `height` is the block the records are proven at. Without `atHeight` in the request,
 *   `view` is the server's newest certified view (its newest block is `height`) and `bridge` the block hashes of
 *   heights knownHeight + 1 .. start of the view's window − 1 (empty when they meet); with `atHeight` both are absent.
 * - `answer-error` (request channel): the node cannot answer (yet): the view it has does not reach `minHeight`, or it
 *   failed; `reason` is one line for the requester's log.
 * - `view-update` (gossip, push): the sender's view list entries that changed, each with its committee's signatures:
 *   in `heads` those whose window reaches a view of their chain the receiver is known to hold, without the hashes up to
 *   that view's height (SignedViewHead, viewHead.ts); in `views` the others whole. A pull's answer and the pacemaker's
 *   list carry whole views only.
 * - `view-pull` (gossip, pull): asks for certified views of `chainId` from `fromHeight` on, at most k apart.
 * - `evidence` (gossip): two conflicting signed views of one chain, fork evidence.
 */
export type Message = z.infer<typeof messageSchema>;

export type MessageKind = Message["kind"];
/** Every kind once: the compiler refuses this object when a kind is missing or unknown. */
const KINDS: Record<MessageKind, true> = { cosign: true, request: true, answer: true, "answer-error": true, "view-update": true, "view-pull": true, evidence: true };
export const MESSAGE_KINDS = Object.keys(KINDS) as readonly MessageKind[];

export type Request = Extract<Message, { kind: "request" }>;
export type Answer = Extract<Message, { kind: "answer" }>;
export type Reply = Answer | Extract<Message, { kind: "answer-error" }>;
