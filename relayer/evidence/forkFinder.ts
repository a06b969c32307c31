import { relate } from "../view/relate.js";
import type { Evidence, SignedView } from "../view/signedView.js";
import { parting, type Parting } from "./parting.js";

/** A signed view read from a registry, and where: the chain whose registry holds it and the block of its event. */
export type SeenView = SignedView & { on: bigint; blockNumber: bigint };

/** Two signed views of `chainId` that cannot both be its history, where they were seen, and where they part. */
export type Fork = { chainId: bigint; a: SeenView; b: SeenView; parting: Parting };

/** How far apart two views may be and still be compared: relate needs the newer window to reach the older view. */
const MAX_WINDOW = 256n;

/**
 * Collects the signed views that registries accepted (or froze a chain for) and finds any two of one chain that cannot
 * both be its history, by relate, the connect rule every relayer applies. Views are kept by chain and height; a view is
 * compared with the views of its chain within its window's reach (relate calls two views further apart unverifiable), so
 * adding one costs a few hundred lookups at most, whatever the history. The same view met on several registries is kept
 * once.
 */
export class ForkFinder {
  readonly #views = new Map<bigint, Map<bigint, SeenView[]>>();
  #count = 0;

  /** Views kept. */
  get size(): number {
    return this.#count;
  }

  /** Adds `seen` and returns every fork it makes with a view added before (none when it was known). */
  add(seen: SeenView): Fork[] {
    const { chainId, height } = seen.view;
    let byHeight = this.#views.get(chainId);
    if (byHeight === undefined) this.#views.set(chainId, (byHeight = new Map()));
    if ((byHeight.get(height) ?? []).some((known) => sameView(known, seen))) return [];
    const forks: Fork[] = [];
    for (let h = height - MAX_WINDOW; h <= height + MAX_WINDOW; h++) {
      for (const known of byHeight.get(h) ?? []) {
        if (relate(known.view, seen.view) === "conflicting") forks.push({ chainId, a: known, b: seen, parting: parting(known.view, seen.view) });
      }
    }
    const atHeight = byHeight.get(height);
    if (atHeight === undefined) byHeight.set(height, [seen]);
    else atHeight.push(seen);
    this.#count++;
    return forks;
  }
}

/** The two signed views of a fork, as submitForkEvidence takes them. */
export function evidenceOf(fork: Fork): Evidence {
  return { a: { view: fork.a.view, signatures: fork.a.signatures }, b: { view: fork.b.view, signatures: fork.b.signatures } };
}

/** True when `x` locates the fork in a narrower range of heights than `y` does. */
export function narrower(x: Fork, y: Fork): boolean {
  return x.parting.to - x.parting.from < y.parting.to - y.parting.from;
}

/** A fork in words: which views, seen where, and where they part. */
export function describeFork({ chainId, a, b, parting: { from, to } }: Fork): string {
  const where = (s: SeenView) => `its view at height ${s.view.height} on chain ${s.on}'s registry (block ${s.blockNumber})`;
  const part = from === to ? `they part at height ${to}${to > 0n ? ` (both hold the same block at ${to - 1n})` : ""}` : `they part between heights ${from} and ${to}`;
  return `chain ${chainId} signed two histories: ${where(a)} and ${where(b)} cannot both be its history; ${part}`;
}

function sameView(x: SignedView, y: SignedView): boolean {
  return x.view.acc === y.view.acc && x.view.hashes.length === y.view.hashes.length && x.view.hashes.every((hash, i) => hash === y.view.hashes[i]);
}
