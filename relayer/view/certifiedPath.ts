/**
 * Reads the newest certified view of one chain with fromExclusive < height ≤ toInclusive, or undefined when there is
 * none: one bounded lookup (one indexed query in the store), whatever the chain's history holds.
 */
export type NewestWithin<T> = (fromExclusive: bigint, toInclusive: bigint) => T | undefined;

export type CertifiedPathParameters<T extends { height: bigint }> = {
  /** The height the asker already holds a view of (a view-pull's fromHeight). */
  fromHeight: bigint;
  /** The chain's window size: a view connects to one at most k below it. */
  k: number;
  /** Most views in the path, and so most lookups the walk makes: MAX_VIEWS_PER_UPDATE for a view-pull's answer. */
  limit: number;
  /** The lowest height the reader still keeps (the retention window); a path from below it is empty. */
  keptFrom: bigint;
  newestWithin: NewestWithin<T>;
};

/**
 * The certified path from `fromHeight`: each view the newest certified one at most k above the one before (the first at
 * most k above fromHeight), so that each connects to the one before by its window and the asker can check them in order.
 * The walk stops at `limit` views, at the newest view, or at a hole of more than k heights, so it makes at most `limit`
 * lookups however long the history is: a small message costs a bounded amount of work. A path from below `keptFrom` is
 * empty: the views that would connect to the asker's were pruned, and a reader with holes there must not be walked.
 */
export function certifiedPath<T extends { height: bigint }>({ fromHeight, k, limit, keptFrom, newestWithin }: CertifiedPathParameters<T>): T[] {
  if (fromHeight < keptFrom) return [];
  const path: T[] = [];
  let known = fromHeight;
  while (path.length < limit) {
    const step = newestWithin(known, known + BigInt(k));
    if (step === undefined || step.height <= known) break;
    path.push(step);
    known = step.height;
  }
  return path;
}
