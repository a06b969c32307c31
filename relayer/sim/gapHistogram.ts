/** What a distribution of gaps (in blocks) looks like: enough for a box plot and for choosing k. */
export type GapSummary = {
  samples: number;
  mean: number;
  min: number;
  p25: number;
  median: number;
  p75: number;
  p95: number;
  max: number;
  /** Share of the samples larger than k: a view that far behind cannot connect to a newer one without a pull. */
  aboveK: number;
};

/**
 * Counts of whole-block gaps. A cell samples millions of (node, system) pairs, so it keeps a count per
 * gap instead of the samples; means and quantiles come out of the counts exactly.
 */
export class GapHistogram {
  readonly #counts: number[] = [];
  #samples = 0;
  #sum = 0;

  add(gap: number, times = 1): void {
    if (!Number.isInteger(gap) || gap < 0) throw new RangeError(`a gap is a whole number of blocks, not ${gap}`);
    if (!Number.isInteger(times) || times < 1) throw new RangeError(`a gap is counted a whole number of times, not ${times}`);
    while (this.#counts.length <= gap) this.#counts.push(0);
    this.#counts[gap]! += times;
    this.#samples += times;
    this.#sum += gap * times;
  }

  merge(other: GapHistogram): void {
    other.counts.forEach((count, gap) => count > 0 && this.add(gap, count));
  }

  /** `counts[g]`: how many samples had gap g. */
  get counts(): readonly number[] {
    return this.#counts;
  }

  /** The smallest gap with at least a share `p` of the samples at or below it. */
  quantile(p: number): number {
    const rank = Math.max(1, Math.ceil(p * this.#samples));
    let seen = 0;
    for (let gap = 0; gap < this.#counts.length; gap++) {
      seen += this.#counts[gap]!;
      if (seen >= rank) return gap;
    }
    return 0;
  }

  summary(k: number): GapSummary {
    const above = this.#counts.slice(k + 1).reduce((sum, count) => sum + count, 0);
    return {
      samples: this.#samples,
      mean: this.#samples === 0 ? 0 : this.#sum / this.#samples,
      min: Math.max(0, this.#counts.findIndex((count) => count > 0)),
      p25: this.quantile(0.25),
      median: this.quantile(0.5),
      p75: this.quantile(0.75),
      p95: this.quantile(0.95),
      max: Math.max(0, this.#counts.length - 1),
      aboveK: this.#samples === 0 ? 0 : above / this.#samples,
    };
  }
}
