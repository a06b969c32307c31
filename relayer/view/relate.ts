import { foldAcc, viewStart, type View } from "./view.js";

/** How two views of one chain relate: the connect rule of the paper, as ViewLib.relate applies it on chain. */
export type Relation = "consistent" | "conflicting" | "unverifiable";

/**
 * Heights both windows cover must carry the same hash; when the newer window starts at most one past
 * the older one's end (a gap of at most k), folding the older acc over the older window up to the
 * newer start must give the newer acc. A larger gap cannot be checked: pull a longer view.
 */
export function relate(x: View, y: View): Relation {
  const [a, b] = x.height <= y.height ? [x, y] : [y, x];
  const aStart = viewStart(a);
  const bStart = viewStart(b);
  const lo = aStart > bStart ? aStart : bStart;
  for (let h = lo; h <= a.height; h++) {
    if (a.hashes[Number(h - aStart)] !== b.hashes[Number(h - bStart)]) return "conflicting";
  }
  if (bStart > a.height + 1n) return "unverifiable";
  const folded = foldAcc(a.acc, a.hashes.slice(0, Number(bStart - aStart)));
  return folded === b.acc ? "consistent" : "conflicting";
}
