/**
 * The value JSON.parse(JSON.stringify(value)) gives, for the values a message holds (strings, numbers, booleans, null,
 * arrays and plain objects), made without the text: what a peer decodes from the frame, some five times faster than
 * parsing it, and sharing the strings, which cannot change. Like JSON, it leaves out an object's undefined fields and
 * turns an array's undefined items and numbers that are not finite into null, and −0 into 0. Its arrays and objects are
 * frozen, so that the receivers of one message can share one copy without changing it for each other.
 */
export function jsonCopy(value: unknown): unknown {
  if (Array.isArray(value)) return Object.freeze(value.map((item) => (item === undefined ? null : jsonCopy(item))));
  if (typeof value === "object" && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      // A "__proto__" field is data in JSON; assigned, it would set the copy's prototype instead.
      if (key === "__proto__") Object.defineProperty(copy, key, { value: jsonCopy(item), enumerable: true, writable: true, configurable: true });
      else copy[key] = jsonCopy(item);
    }
    return Object.freeze(copy);
  }
  if (typeof value === "number") return Number.isFinite(value) ? value + 0 : null; // −0 is written as 0
  return value;
}
