import { BaseError } from "viem";

/** The one-line reason of an error for logs and events: viem's shortMessage, or the message of any other error. */
export function shortMessage(error: unknown): string {
  if (error instanceof BaseError) return error.shortMessage;
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0]!;
}
