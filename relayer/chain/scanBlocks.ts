import type { Store } from "../store/store.js";

const CHUNK = 2_000n;

/**
 * Visits the block range from the stored cursor `name` up to `head`, in chunks, moving the cursor past
 * each chunk once it was handled: a restarted node goes on where it stopped and sees no block twice.
 */
export async function scanBlocks({ store, name, head, visit }: {
  store: Store;
  name: string;
  head: bigint;
  visit: (fromBlock: bigint, toBlock: bigint) => Promise<void>;
}): Promise<void> {
  let from = (store.getCursor(name) ?? -1n) + 1n;
  while (from <= head) {
    const to = from + CHUNK - 1n < head ? from + CHUNK - 1n : head;
    await visit(from, to);
    store.setCursor(name, to);
    from = to + 1n;
  }
}
