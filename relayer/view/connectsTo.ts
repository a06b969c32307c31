import type { Hex } from "viem";
import { accThrough, foldAcc, viewStart, type View } from "./view.js";

/**
 * How a signed view relates to the one word a ViewRegistry stores for its newest accepted view:
 * - `consistent`: the registry would accept it (or it is the accepted view at that height again);
 * - `conflicting`: it cannot be the same chain's history: the registry would freeze the chain (fork evidence);
 * - `bridge-mismatch`: it is too far ahead to meet the stored view and `bridge` does not connect them: the
 *   registry refuses it (the bridge is unsigned, so this is never evidence, only a wrong answer);
 * - `older`: it is below the stored height: the registry ignores it (NoOp), unless it accepted a view at that very
 *   height, whose word it must then equal (a caller that needs this compares accThrough(view) with
 *   ViewRegistry.accThrough(chainId, view.height) itself).
 */
export type Connection = "consistent" | "conflicting" | "bridge-mismatch" | "older";

export type ConnectsToParameters = {
  /** accThrough of the registry's newest accepted view: ViewRegistry.accThrough(chainId, knownHeight). */
  stored: Hex;
  /** Height of that view: ViewRegistry.latestHeight(chainId). */
  knownHeight: bigint;
  view: View;
  /** Block hashes of heights knownHeight + 1 .. viewStart(view) − 1; empty when the view's window meets the stored height. */
  bridge: readonly Hex[];
};

/**
 * The connect rule of ViewRegistry.submitView against the stored word, written once for every relayer that has to
 * predict it (a node believing a check() answer, the simulator):
 * - a view at the stored height must carry the same accumulator through it;
 * - a newer view whose window starts at most one past the stored height must fold, over its window up to that
 *   height, to the stored word;
 * - a newer view further ahead needs `bridge`, exactly the hashes of the heights in between, which folded onto the
 *   stored word give the view's acc.
 */
export function connectsTo({ stored, knownHeight, view, bridge }: ConnectsToParameters): Connection {
  if (view.height === knownHeight) return sameWord(accThrough(view), stored) ? "consistent" : "conflicting";
  if (view.height < knownHeight) return "older";
  const start = viewStart(view);
  if (start <= knownHeight + 1n) {
    const through = foldAcc(view.acc, view.hashes.slice(0, Number(knownHeight + 1n - start)));
    return sameWord(through, stored) ? "consistent" : "conflicting";
  }
  const gap = start - 1n - knownHeight;
  if (BigInt(bridge.length) !== gap) return "bridge-mismatch";
  return sameWord(foldAcc(stored, bridge), view.acc) ? "consistent" : "bridge-mismatch";
}

function sameWord(a: Hex, b: Hex): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
