import type { Hex } from "viem";
import { foldAcc, ZERO_HASH, type View } from "./view.js";
import { RelayerError } from "../util/relayerError.js";

export class ViewGapError extends RelayerError {
  constructor(readonly expected: bigint, readonly got: bigint) {
    super(`view tracker expected block ${expected}, got ${got}: blocks must arrive in order`);
  }
}

/**
 * Algorithm 1, incrementally: the view of one chain kept up to date block by block. The window holds
 * the newest k hashes; a hash that leaves the window is folded into acc. O(k) memory, O(1) per block.
 */
export class ViewTracker {
  readonly chainId: bigint;
  readonly k: number;
  #acc: Hex = ZERO_HASH;
  #window: Hex[] = [];
  #next = 0n;

  constructor({ chainId, k, from }: { chainId: bigint; k: number; from?: View }) {
    this.chainId = chainId;
    this.k = k;
    if (from !== undefined) {
      if (from.chainId !== chainId || from.hashes.length !== Math.min(k, Number(from.height) + 1)) {
        throw new Error(`view tracker: cannot resume chain ${chainId} (k = ${k}) from that view`);
      }
      this.#acc = from.acc;
      this.#window = [...from.hashes];
      this.#next = from.height + 1n;
    }
  }

  /** Height of the next block expected. */
  get next(): bigint {
    return this.#next;
  }

  /** Adds the hash of block `height`, which must be the next one. */
  push(height: bigint, hash: Hex): void {
    if (height !== this.#next) throw new ViewGapError(this.#next, height);
    this.#window.push(hash);
    if (this.#window.length > this.k) this.#acc = foldAcc(this.#acc, this.#window.splice(0, 1));
    this.#next = height + 1n;
  }

  /** The view at the newest block pushed. */
  view(): View {
    if (this.#next === 0n) throw new Error("view tracker: no block yet");
    return { chainId: this.chainId, height: this.#next - 1n, acc: this.#acc, hashes: [...this.#window] };
  }
}
