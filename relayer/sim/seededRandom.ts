/**
 * A seeded pseudo-random stream in [0, 1): a Weyl sequence passed through the MurmurHash3 finalizer.
 * Simulations draw every choice from streams like this one, so a run is reproduced exactly from its seed.
 * Fast and well mixed, and not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

/**
 * The seed of one named stream of a run (FNV-1a over the seed and the names), so that streams for
 * different purposes (block hashes, gossip choices, tasks) never replay each other, and a stream does not
 * change when another purpose draws more or fewer numbers.
 */
export function deriveSeed(seed: number, ...names: readonly (string | number)[]): number {
  let hash = 0x811c9dc5;
  for (const char of `${seed}/${names.join("/")}`) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193);
  return hash >>> 0;
}
