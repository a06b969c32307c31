/** Exponential backoff delays: initialMs, doubling, capped at maxMs; reset() after a success. */
export function backoff({ initialMs, maxMs }: { initialMs: number; maxMs: number }) {
  let delay = initialMs;
  return {
    next(): number {
      const current = delay;
      delay = Math.min(maxMs, delay * 2);
      return current;
    },
    reset(): void {
      delay = initialMs;
    },
  };
}
