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

/** Folds `acc` over `hashes` in order: keccak256(acc ‖ hash). */
export function foldAcc(acc: Hex, hashes: readonly Hex[]): Hex {
  return hashes.reduce<Hex>((a, h) => keccak256(concat([a, h])), acc);
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
