import { BaseError, HttpRequestError, TimeoutError } from "viem";
import { decodeRevert, explainRevert, formatRevert } from "./explainRevert.js";
import { toJson } from "./toJson.js";

/** What `fibc` exits with; the README's table of exit codes and `fibc --help` list the same. */
export const EXIT = {
  /** The command did what was asked. */
  done: 0,
  /** It ran and failed, or did not get what was asked (a swap not released on both sides); the message says why. */
  failed: 1,
  /** Bad options or a bad configuration file: nothing was done. */
  usage: 2,
  /** A contract refused a transaction or a call: the message names its error and says what it means. */
  refused: 3,
  /** A chain's JSON-RPC endpoint (or a relayer) did not answer. */
  unreachable: 4,
} as const;

/** The exit-code table of `fibc --help`. */
export const EXIT_CODES_HELP = `exit codes:
  0  done
  1  failed, or not what was asked (a swap not released on both sides); the message says why
  2  usage: bad options or configuration; nothing was done
  3  refused: a contract reverted; the message names its error and what it means
  4  unreachable: a chain's JSON-RPC endpoint did not answer`;

/**
 * How `fibc` reports an error that ended a command: one message for the user and the exit code. A revert anywhere in the
 * cause chain becomes the contract's error in words (EXIT.refused), an endpoint that did not answer EXIT.unreachable; any
 * other error keeps its own message (EXIT.failed). `known` errors are the project's own (their message is written for the
 * user); an unknown one is a bug, and its stack is kept for the report.
 */
export function cliFailure(error: unknown, known: boolean): { message: string; exitCode: number } {
  const own = error instanceof Error ? error.message : String(error);
  const words = explainRevert(error);
  if (words !== undefined) {
    // The project's own message says which step failed ("registering the contract on chain 31001 failed: …"); it already
    // carries the words when connect.transact made it.
    const revert = decodeRevert(error);
    const said = own.includes(revert === undefined ? words : formatRevert(revert));
    const message = known && said ? own : known ? `${own}\n  ${words}` : words;
    return { message, exitCode: revert === undefined ? EXIT.failed : EXIT.refused };
  }
  if (unreachable(error)) return { message: known ? own : `no answer: ${shortMessage(error)}`, exitCode: EXIT.unreachable };
  if (known) return { message: own, exitCode: EXIT.failed };
  return { message: error instanceof BaseError ? error.shortMessage : error instanceof Error ? (error.stack ?? own) : own, exitCode: EXIT.failed };
}

/**
 * The result of a failed command under --json, printed alone on stdout (the message also goes to stderr): the message, the exit
 * code and the contract's decoded error when a revert caused it (null otherwise). Every `fibc` command and script says a failure so.
 */
export function failureJson({ message, exitCode }: { message: string; exitCode: number }, error: unknown): string {
  return toJson({ error: message, exitCode, revert: decodeRevert(error) ?? null });
}

/** A failure said on stderr (then `usage`, if given) and, under --json, as {error, exitCode, revert} on stdout; returns its exit code. */
export function sayFailure(failure: { message: string; exitCode: number }, error: unknown, json: boolean, usage?: string): number {
  console.error(usage === undefined ? failure.message : `${failure.message}\n${usage}`);
  if (json) console.log(failureJson(failure, error));
  return failure.exitCode;
}

function unreachable(error: unknown): boolean {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 16; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof HttpRequestError || e instanceof TimeoutError) return true;
    const code = (e as { code?: unknown }).code;
    if (code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EHOSTUNREACH" || code === "ENOTFOUND") return true;
  }
  return false;
}

function shortMessage(error: unknown): string {
  return error instanceof BaseError ? error.shortMessage : error instanceof Error ? error.message : String(error);
}
