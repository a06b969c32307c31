/** `value` as indented JSON for `--json` output; bigints (wei, heights, chain ids) travel as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}
