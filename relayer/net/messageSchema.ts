import { MESSAGE_KINDS, type Message } from "./message.js";

/** Why a frame that arrived over an authenticated link is not a message this node takes. */
export type DecodeResult = { ok: true; message: Message } | { ok: false; reason: string };

/**
 * Validates a parsed frame at the boundary, before anything about it is recorded.
 * (Interface fixed here; the bounded zod schema replaces this shape check.)
 */
export function decodeMessage(value: unknown): DecodeResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, reason: "malformed" };
  const kind = (value as { kind?: unknown }).kind;
  if (typeof kind !== "string" || !(MESSAGE_KINDS as readonly string[]).includes(kind)) return { ok: false, reason: "malformed" };
  return { ok: true, message: value as Message };
}
