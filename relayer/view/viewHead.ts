import type { Hex } from "viem";
import type { WireViewHead } from "../net/message.js";
import { foldAcc, viewStart, type View } from "./view.js";
import type { SignedView } from "./signedView.js";

/**
 * A signed view as a receiver that holds an older view of its chain needs it (section IV.C: the window only when the
 * receiver cannot connect without it): the head of the view and its signatures, and of the window only the hashes above
 * `base`, a height the sender knows the receiving node holds a view of. `baseAcc` is the accumulator through `base`
 * on the sender's history, so that a receiver whose history differs there tells it from a forgery.
 */
export type SignedViewHead = { chainId: bigint; height: bigint; base: bigint; baseAcc: Hex; hashes: Hex[]; signatures: Hex[] };

/**
 * The head of `signed` above `base`, or undefined when it would carry the whole window: `base` must be inside the view's
 * window and below its height, so that the head holds fewer hashes than the view.
 */
export function headOf(signed: SignedView, base: bigint): SignedViewHead | undefined {
  const { view } = signed;
  const start = viewStart(view);
  if (base < start || base >= view.height) return undefined;
  const kept = Number(base + 1n - start);
  return { chainId: view.chainId, height: view.height, base, baseAcc: foldAcc(view.acc, view.hashes.slice(0, kept)), hashes: view.hashes.slice(kept), signatures: [...signed.signatures] };
}

/**
 * Why a head cannot be made whole from the views a receiver holds: it holds none whose window reaches from the head's
 * window start to its base (`no base`), or its views disagree with the head where they overlap: another hash at a height,
 * or another accumulator through the base (`other history`: the sender or the receiver is on a fork, or the sender
 * lies). Either way only the whole view can tell whether it is new, or evidence.
 */
export type Baseless = "no base" | "other history";

/**
 * The whole view `head` stands for, rebuilt from `stored` (views of its chain the receiver verified, consistent with one
 * another) with window size `k`: the window's hashes up to the base come from a stored view, those above from the head,
 * and the accumulator is the stored one folded up to the window's start. Every stored view is first compared with the
 * head where they overlap (hashes of the same height, the accumulator through the base), so that a stored view newer
 * than the head still tells a head of another history. When they agree, the rebuilt view is the one the sender holds,
 * and signatures that fail on it were never the committee's. The caller checks first that the head is well formed
 * (`malformedHead`).
 */
export function viewFromHead(head: SignedViewHead, stored: readonly View[], k: number): View | Baseless {
  if (!stored.every((s) => agrees(head, s))) return "other history";
  const windowStart = head.height + 1n - BigInt(Math.min(k, Number(head.height) + 1));
  const source = stored.find((s) => viewStart(s) <= windowStart && s.height >= head.base);
  if (source === undefined) return "no base";
  const start = viewStart(source);
  const cut = Number(windowStart - start);
  const upToBase = source.hashes.slice(0, Number(head.base + 1n - start));
  return { chainId: head.chainId, height: head.height, acc: foldAcc(source.acc, upToBase.slice(0, cut)), hashes: [...upToBase.slice(cut), ...head.hashes] };
}

/**
 * Whether `view` and `head` tell the same history where they overlap: the accumulator through the base (when the view's
 * window reaches it), the accumulator below the view's window (when the head's hashes reach it), and the hashes of the
 * heights both hold.
 */
function agrees(head: SignedViewHead, view: View): boolean {
  const start = viewStart(view);
  if (head.base >= start - 1n && head.base <= view.height && foldAcc(view.acc, view.hashes.slice(0, Number(head.base + 1n - start))) !== head.baseAcc) return false;
  if (start - 1n > head.base && start - 1n <= head.height && foldAcc(head.baseAcc, head.hashes.slice(0, Number(start - 1n - head.base))) !== view.acc) return false;
  for (let height = head.base + 1n > start ? head.base + 1n : start; height <= head.height && height <= view.height; height++) {
    if (view.hashes[Number(height - start)] !== head.hashes[Number(height - head.base - 1n)]) return false;
  }
  return true;
}

/**
 * Why `head` is no head a sender makes (`headOf`) for a chain of window size `k`, or undefined when it is one: the hashes
 * are exactly those of the heights above the base, and fewer than the window holds.
 */
export function malformedHead(head: SignedViewHead, k: number): string | undefined {
  if (head.base >= head.height || BigInt(head.hashes.length) !== head.height - head.base) return `a view head at ${head.height} with base ${head.base} carries ${head.hashes.length} hashes`;
  if (head.hashes.length >= Math.min(k, Number(head.height) + 1)) return "a view head carries fewer hashes than the window";
  return undefined;
}

/** A view head as it travels between nodes. */
export function toWireViewHead(head: SignedViewHead): WireViewHead {
  return { chainId: head.chainId.toString(), height: head.height.toString(), base: head.base.toString(), baseAcc: head.baseAcc, hashes: [...head.hashes], signatures: [...head.signatures] };
}

export function fromWireViewHead(wire: WireViewHead): SignedViewHead {
  return { chainId: BigInt(wire.chainId), height: BigInt(wire.height), base: BigInt(wire.base), baseAcc: wire.baseAcc, hashes: [...wire.hashes], signatures: [...wire.signatures] };
}
