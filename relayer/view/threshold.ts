/** ceil(r·q): how many of a committee of q must sign a view, the ViewRegistry's threshold. */
export function thresholdOf(q: number, r: { numerator: number; denominator: number }): number {
  return Math.ceil((q * r.numerator) / r.denominator);
}
