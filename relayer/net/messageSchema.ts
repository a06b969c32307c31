import type { Address, Hex } from "viem";
import { z } from "zod/v4";
import {
  MAX_BRIDGE,
  MAX_COMMITTEE,
  MAX_CONTRACTS_PER_REQUEST,
  MAX_HEADER_BYTES,
  MAX_K,
  MAX_PROOF_NODES,
  MAX_REASON_LENGTH,
  MAX_TRIE_NODE_BYTES,
  MAX_VIEWS_PER_UPDATE,
  REQUEST_ID_BYTES,
  type Message,
} from "./message.js";

// Written with zod's v4 API: a `custom` check there costs a function call, where v3 wraps each in an effect some ten
// times slower, and every frame a peer sends is decoded.

/** A string that `regex` matches whole. The regexes are anchored and bounded, so a megabyte string fails fast. */
const matches = (regex: RegExp) => (v: unknown) => typeof v === "string" && regex.test(v);
const UINT64_MAX = (2n ** 64n - 1n).toString();
/** A decimal below 2^64 without leading zeros: one spelling per number, so that content ids and comparisons hold. */
const isUint64 = (v: unknown) => typeof v === "string" && /^(0|[1-9][0-9]{0,19})$/.test(v) && (v.length < UINT64_MAX.length || v <= UINT64_MAX);
// Hex is lower-case only. A signature covers the bytes, not their spelling: an upper-case copy of a signed view would
// verify, yet compare unequal to the original hash by hash, and the view list would take the two for a fork.
const isHash = matches(/^0x[0-9a-f]{64}$/);
/** A member's signature of a view: ECDSA (65 bytes) or a BLS12-381 G1 point (128 bytes, EIP-2537 encoding). */
const isSignature = matches(/^0x(?:[0-9a-f]{130}|[0-9a-f]{256})$/);
/** What a signed view carries: ECDSA signatures, or a BLS committee's one entry, bitmap ‖ aggregate (160 bytes). */
const isViewSignature = matches(/^0x(?:[0-9a-f]{130}|[0-9a-f]{320})$/);
const isBytes = (max: number) => (v: unknown) => typeof v === "string" && v.length <= 2 + 2 * max && /^0x(?:[0-9a-f]{2})*$/.test(v);
/** Characters that could forge another line in a log, or move its cursor. */
const CONTROL = /[\u0000-\u001f\u007f]/;
const CONTROLS = new RegExp(CONTROL, "g");
/** One line for a log: bounded, with no control character. */
const isReason = (v: unknown) => typeof v === "string" && v.length <= MAX_REASON_LENGTH && !CONTROL.test(v);

const uint64 = z.custom<string>(isUint64, "expected a decimal below 2^64");
const hash = z.custom<Hex>(isHash, "expected a 32-byte hash in lower-case hex");
const requestId = z.custom<string>(matches(new RegExp(`^[0-9a-f]{${2 * REQUEST_ID_BYTES}}$`)), `expected ${REQUEST_ID_BYTES} bytes in lower-case hex`);

// An array is checked in one piece, its length first. zod parses every item of an array before its length check and
// keeps an issue per bad item: a 1 MiB frame of 500,000 junk items would cost seconds and hundreds of MB.
/** `min` to `max` strings that `is` takes, checked up to the first that does not. */
const listOf = <T extends string>(is: (v: unknown) => boolean, max: number, what: string, min = 0) =>
  z.custom<T[]>((v) => Array.isArray(v) && v.length >= min && v.length <= max && v.every(is), `expected ${min > 0 ? `${min} to ` : "at most "}${max} ${what}`);
/** At most `max` items of an object schema, counted before any item is parsed. */
const upTo = <T extends z.ZodType>(item: T, max: number, what: string) =>
  z.custom<unknown[]>((v) => Array.isArray(v) && v.length <= max, `expected at most ${max} ${what}`).pipe(z.array(item));

export const viewSchema = z.strictObject({ chainId: uint64, height: uint64, acc: hash, hashes: listOf<Hex>(isHash, MAX_K, "window hashes in lower-case hex", 1) });
const viewSignatures = listOf<Hex>(isViewSignature, MAX_COMMITTEE, "65-byte signatures or a 160-byte BLS aggregate in lower-case hex", 1);
export const signedViewSchema = z.strictObject({ view: viewSchema, signatures: viewSignatures });
export const viewHeadSchema = z.strictObject({ chainId: uint64, height: uint64, base: uint64, baseAcc: hash, hashes: listOf<Hex>(isHash, MAX_K, "hashes above the base in lower-case hex", 1), signatures: viewSignatures });
const trieProof = listOf<Hex>(isBytes(MAX_TRIE_NODE_BYTES), MAX_PROOF_NODES, `trie nodes of at most ${MAX_TRIE_NODE_BYTES} bytes in lower-case hex`);
export const recordProofsSchema = z.strictObject({
  header: z.custom<Hex>(isBytes(MAX_HEADER_BYTES), `expected a block header of at most ${MAX_HEADER_BYTES} bytes in lower-case hex`),
  accountProof: trieProof,
  storageProofs: upTo(trieProof, MAX_CONTRACTS_PER_REQUEST, "storage proofs"),
});

/** Every message a peer may send, each field bounded, no field unknown. Message (message.ts) is its type. */
export const messageSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("cosign"),
    chainId: uint64,
    height: uint64,
    signer: z.custom<Address>(matches(/^0x[0-9a-fA-F]{40}$/), "expected an address"),
    signature: z.custom<Hex>(isSignature, "expected a 65-byte ECDSA or 128-byte BLS signature in lower-case hex"),
  }),
  z.strictObject({
    kind: z.literal("request"),
    requestId,
    chainId: uint64,
    contractIds: listOf<Hex>(isHash, MAX_CONTRACTS_PER_REQUEST, "contract ids in lower-case hex"),
    knownHeight: uint64,
    minHeight: uint64,
    atHeight: uint64.optional(),
  }),
  z.strictObject({
    kind: z.literal("answer"),
    requestId,
    height: uint64,
    proof: recordProofsSchema,
    view: signedViewSchema.optional(),
    bridge: listOf<Hex>(isHash, MAX_BRIDGE, "bridge hashes in lower-case hex").optional(),
  }),
  z.strictObject({ kind: z.literal("answer-error"), requestId, reason: z.custom<string>(isReason, `expected one line of at most ${MAX_REASON_LENGTH} characters`) }),
  z.strictObject({
    kind: z.literal("view-update"),
    views: upTo(signedViewSchema, MAX_VIEWS_PER_UPDATE, "signed views"),
    heads: upTo(viewHeadSchema, MAX_VIEWS_PER_UPDATE, "view heads").optional(),
  }),
  z.strictObject({ kind: z.literal("view-pull"), chainId: uint64, fromHeight: uint64 }),
  z.strictObject({ kind: z.literal("evidence"), a: signedViewSchema, b: signedViewSchema }),
]);

/** `text` as the reason of an answer-error: its first line, control characters masked, cut to MAX_REASON_LENGTH. */
export function asReason(text: string): string {
  return text.split("\n", 1)[0]!.slice(0, MAX_REASON_LENGTH).replace(CONTROLS, "?");
}

/** What `decodeMessage` made of a frame: the message, or which field failed and why, in a line for a log. */
export type DecodeResult = { ok: true; message: Message } | { ok: false; reason: string };

/** Longest refusal reason: a field path and the rule, and perhaps keys the sender chose (control characters masked). */
const MAX_DECODE_REASON = 120;

/**
 * Validates a parsed frame at the boundary, before anything about it is recorded: a message of a known kind whose
 * every field is within its bounds, with no unknown field. Never throws.
 */
export function decodeMessage(value: unknown): DecodeResult {
  const result = messageSchema.safeParse(value);
  if (result.success) return { ok: true, message: result.data };
  const issue = result.error.issues[0]!;
  const path = issue.path.join(".");
  const why = issue.code === "invalid_union" && path === "kind" ? "not a message kind" : issue.message;
  return { ok: false, reason: `${path === "" ? "message" : path}: ${why}`.slice(0, MAX_DECODE_REASON).replace(CONTROLS, "?") };
}
