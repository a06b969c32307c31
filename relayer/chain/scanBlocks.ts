import type { Store } from "../store/store.js";
import type { QuietBlocks } from "./quietBlocks.js";

const CHUNK = 2_000n;

/**
 * Visits the block range from the stored cursor `name` up to `head`, in chunks, moving the cursor past
 * each chunk once it was handled: a restarted node goes on where it stopped and sees no block twice. A chunk of blocks
 * that `quiet` knows hold no log of the scanned contracts is passed over without a visit.
 */
export async function scanBlocks({ store, name, head, quiet, visit }: {
  store: Store;
  name: string;
  head: bigint;
  quiet?: QuietBlocks | undefined;
  visit: (fromBlock: bigint, toBlock: bigint) => Promise<void>;
}): Promise<void> {
  let from = (store.getCursor(name) ?? -1n) + 1n;
  while (from <= head) {
    const to = from + CHUNK - 1n < head ? from + CHUNK - 1n : head;
    if (quiet?.quiet(from, to) !== true) await visit(from, to);
    store.setCursor(name, to);
    from = to + 1n;
  }
}
