import { foldAcc, viewStart, type View } from "../view/view.js";

/** Where two conflicting views of a chain part: the first height whose blocks differ lies in `from`..`to`. */
export type Parting = { from: bigint; to: bigint };

/**
 * Where the histories of two views part, from what they carry: a height both windows hold with the same hash shows that
 * everything up to it is common (a block hash commits to its parent), one with different hashes that they differ there
 * at the latest, and the lower view's acc folded up to the newer window's start, against the newer acc, tells the same of
 * the height below that start. This locates the fork for a reader; whether the views conflict is relate's to say.
 */
export function parting(x: View, y: View): Parting {
  const [a, b] = x.height <= y.height ? [x, y] : [y, x];
  const aStart = viewStart(a);
  const bStart = viewStart(b);
  let common = -1n;
  let differs = b.height;
  if (bStart >= aStart && bStart <= a.height + 1n) {
    const same = foldAcc(a.acc, a.hashes.slice(0, Number(bStart - aStart))) === b.acc;
    if (same) common = bStart - 1n;
    else differs = bStart - 1n;
  }
  const lo = aStart > bStart ? aStart : bStart;
  for (let h = lo; h <= a.height && h <= differs; h++) {
    if (a.hashes[Number(h - aStart)] !== b.hashes[Number(h - bStart)]) {
      differs = h;
      break;
    }
    if (h > common) common = h;
  }
  // Views signed by a forking committee need not be hash chains: a common height at or above a differing one says nothing.
  return { from: common < differs ? common + 1n : 0n, to: differs };
}
