import { concat, keccak256, type Hex } from "viem";

/**
 * A view of a chain (the paper's Algorithm 1), as the ViewRegistry takes it.
 * `hashes[i]` is the block hash of height `start + i` with `start = height + 1 - hashes.length`; the window
 * holds min(k, height + 1) hashes and `acc` folds keccak256(acc ‖ hash) over every height below `start`.
 */
export type View = {
  chainId: bigint;
  height: bigint;
  acc: Hex;
  hashes: Hex[];
};

export const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;

/**
 * Fold steps remembered per process, by acc: some hundreds of blocks of every chain of a large network. An acc of one
 * chain has one next hash (two or so at a fork); an unsigned bridge of a check() answer may give it any, so each acc keeps
 * a few, and what the memo holds stays bounded whatever answers come.
 */
const STEPS_KEPT = { accs: 16_384, hashesPerAcc: 4 } as const;
const steps = new Map<Hex, Map<Hex, Hex>>();

/**
 * Folds `acc` over `hashes` in order: keccak256(acc ‖ hash). Every acc a node meets is a step of one chain's fold, so it
 * computes the same few steps again and again (relating each gossiped view to its newest, connecting each check() answer
 * to the registry's word, the registry's word itself), and the simulator computes them once per simulated node: each
 * step is remembered, keyed by its exact inputs, since a keccak256 in JavaScript costs some 20 µs and a lookup well
 * under 1 (two lookups of strings whose hashes V8 keeps, where one of their concatenation would hash a new string).
 */
export function foldAcc(acc: Hex, hashes: readonly Hex[]): Hex {
  return hashes.reduce<Hex>(foldStep, acc);
}

function foldStep(acc: Hex, hash: Hex): Hex {
  let after = steps.get(acc);
  if (after === undefined) {
    if (steps.size >= STEPS_KEPT.accs) steps.delete(steps.keys().next().value!);
    steps.set(acc, (after = new Map()));
  }
  let next = after.get(hash);
  if (next === undefined) {
    if (after.size >= STEPS_KEPT.hashesPerAcc) after.delete(after.keys().next().value!);
    after.set(hash, (next = keccak256(concat([acc, hash]))));
  }
  return next;
}

/** The accumulator through the view's newest block: what the ViewRegistry stores for an accepted view. */
export function accThrough(view: View): Hex {
  return foldAcc(view.acc, view.hashes);
}

/** The accumulator through the block before the view's newest: with that block's header, it proves the header accepted. */
export function accBeforeHead(view: View): Hex {
  return foldAcc(view.acc, view.hashes.slice(0, -1));
}

/** First height covered by the view's window. */
export function viewStart(view: View): bigint {
  return view.height + 1n - BigInt(view.hashes.length);
}

export type BuildViewParameters = {
  chainId: bigint;
  k: number;
  /** Block hashes of heights 0..m, in order. */
  blockHashes: readonly Hex[];
};

/** Algorithm 1 on a whole chain: the last k hashes in the window, every older one folded into acc. */
export function buildView({ chainId, k, blockHashes }: BuildViewParameters): View {
  if (blockHashes.length === 0) throw new Error("buildView: a chain has at least its genesis block");
  const cut = Math.max(0, blockHashes.length - k);
  return {
    chainId,
    height: BigInt(blockHashes.length - 1),
    acc: foldAcc(ZERO_HASH, blockHashes.slice(0, cut)),
    hashes: blockHashes.slice(cut),
  };
}
