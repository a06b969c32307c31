import type { WireSignedView, WireViewHead } from "../net/message.js";
import { relate } from "../view/relate.js";
import { fromWireSignedView, type Evidence, type SignedView } from "../view/signedView.js";
import { verifySignedView, type Committee, type ViewVerifier } from "../view/verifySignedView.js";
import type { View } from "../view/view.js";
import { fromWireViewHead, malformedHead, viewFromHead, type Baseless, type SignedViewHead } from "../view/viewHead.js";

/** What offering a signed view to the list did. */
export type Offer =
  | { result: "new" } // verified and newer: the list changed
  | { result: "known" } // not newer, and consistent with the list or too old to relate: nothing new (signatures unchecked)
  | { result: "unverifiable"; from: bigint } // more than k ahead: pull from `from`
  | { result: "conflict"; evidence: Evidence } // fork evidence
  | { result: "invalid"; reason: string } // bad signatures, unknown chain, malformed
  | { result: "baseless"; why: Baseless } // a view head the list cannot make whole: ask its sender for the view
  | { result: "frozen" }; // the chain was frozen: its views are no longer taken

/**
 * The paper's view list: for every chain, the newest verified view (and a few before it, so that a
 * conflicting older view is caught too). O(n·(k+1)) hashes. A view enters only with its committee's
 * threshold signatures and only when it connects to what is there; a conflicting one is evidence.
 */
export class ViewList {
  readonly #committees: ReadonlyMap<bigint, Committee>;
  readonly #history: number;
  readonly #views = new Map<bigint, SignedView[]>(); // oldest first, newest last
  readonly #verify: ViewVerifier;
  readonly #frozen = new Set<bigint>();
  #version = 0;

  constructor({ committees, history = 8, verify = verifySignedView }: { committees: ReadonlyMap<bigint, Committee>; history?: number; verify?: ViewVerifier }) {
    this.#committees = committees;
    this.#history = history;
    this.#verify = verify;
  }

  /** Increases whenever a newer view entered. */
  get version(): number {
    return this.#version;
  }

  newest(chainId: bigint): SignedView | undefined {
    return this.#views.get(chainId)?.at(-1);
  }

  /** The views of `chainId` the list keeps, newer than `height`, oldest first. */
  after(chainId: bigint, height: bigint): SignedView[] {
    return (this.#views.get(chainId) ?? []).filter((s) => s.view.height > height);
  }

  /** The newest view of every chain. */
  entries(): SignedView[] {
    return [...this.#views.values()].map((views) => views.at(-1)!);
  }

  freeze(chainId: bigint): void {
    this.#frozen.add(chainId);
  }

  isFrozen(chainId: bigint): boolean {
    return this.#frozen.has(chainId);
  }

  /**
   * Offers a signed view. With `connects`, a view more than k ahead of the newest enters too instead of being
   * unverifiable: the caller knows by other means that it connects to the list's history. Two callers do: a view this
   * node's own chain's ViewRegistry accepted (the registry checked that it connects, bridging any gap, and the overlay
   * must carry what it took), and a view of this node's own chain that its committee certified (the node built it from
   * the blocks it follows). Without it, a node whose own chain's certified views jumped more than k (a restart, a
   * committee slow to co-sign) would hold a stale view of its own chain for good, and verify and drop every view of
   * its chain gossiped back to it.
   *
   * The view's height and its relation to the stored views are looked at before its signatures, which cost a
   * recovery each: a view that tells the list nothing new (at or below the newest height, and identical to a stored
   * view, consistent with them or too old to relate) is answered `known` unverified. Only a view that would enter
   * (newer) or that conflicts (evidence, or a forgery to strike) is verified.
   */
  async offer(wire: WireSignedView, { connects = false }: { connects?: boolean } = {}): Promise<Offer> {
    let signed: SignedView;
    let committee: Committee | undefined;
    try {
      signed = fromWireSignedView(wire);
      committee = this.#committees.get(signed.view.chainId);
      if (committee === undefined) return { result: "invalid", reason: `unknown chain ${signed.view.chainId}` };
    } catch {
      return { result: "invalid", reason: "malformed view" };
    }
    return this.#offer(signed, committee, connects);
  }

  /**
   * Offers a view head (SignedViewHead): made whole from a stored view whose window reaches its base, then offered as a
   * view. `known` when no stored view reaches its base but it is no newer than the newest and agrees with what the list
   * holds; `baseless` when it is newer and none reaches its base, or when the list's history differs from the head's;
   * `invalid` when it is no head a sender makes, or when its whole view fails its signatures.
   */
  async offerHead(wire: WireViewHead): Promise<Offer> {
    let head: SignedViewHead;
    try {
      head = fromWireViewHead(wire);
    } catch {
      return { result: "invalid", reason: "malformed view head" };
    }
    const committee = this.#committees.get(head.chainId);
    if (committee === undefined) return { result: "invalid", reason: `unknown chain ${head.chainId}` };
    if (this.#frozen.has(head.chainId)) return { result: "frozen" };
    const malformed = malformedHead(head, committee.k);
    if (malformed !== undefined) return { result: "invalid", reason: malformed };
    const known = this.#views.get(head.chainId) ?? [];
    const view = viewFromHead(head, known.map((s) => s.view), committee.k);
    // A head no newer than the newest view, and consistent with every stored one, tells the list nothing new: as a whole
    // view too old to relate would be, it is known.
    if (view === "no base" && known.length > 0 && head.height <= known.at(-1)!.view.height) return { result: "known" };
    if (typeof view === "string") return { result: "baseless", why: view };
    return this.#offer({ view, signatures: head.signatures }, committee, false);
  }

  async #offer(signed: SignedView, committee: Committee, connects: boolean): Promise<Offer> {
    const chainId = signed.view.chainId;
    if (this.#frozen.has(chainId)) return { result: "frozen" };
    const known = this.#views.get(chainId) ?? [];
    // Most gossip repeats what is known: a string comparison finds it before any fold. The stored views ascend in
    // height, so only those from the newest down to the view's height can be it (most often the newest, or none).
    for (let i = known.length - 1; i >= 0 && known[i]!.view.height >= signed.view.height; i--) {
      if (sameView(known[i]!.view, signed.view)) return { result: "known" };
    }
    const newest = known.at(-1);
    const withNewest = newest === undefined ? undefined : relate(newest.view, signed.view);
    // Every stored view is a prefix of the newest one's history, so a view consistent with the newest conflicts
    // with none of them: the older ones (and their acc folds) need a look only when the newest cannot vouch.
    const conflicting = withNewest === "consistent" ? undefined : known.find((stored) => relate(stored.view, signed.view) === "conflicting");
    if (conflicting === undefined && newest !== undefined && signed.view.height <= newest.view.height) return { result: "known" };
    try {
      await this.#verify(signed.view, signed.signatures, committee);
    } catch (error) {
      return { result: "invalid", reason: (error as Error).message };
    }
    if (conflicting !== undefined) return { result: "conflict", evidence: { a: conflicting, b: signed } };
    if (withNewest === "unverifiable" && !connects) return { result: "unverifiable", from: newest!.view.height };
    this.#views.set(chainId, [...known, signed].slice(-this.#history));
    this.#version += 1;
    return { result: "new" };
  }

  /** Whether `signed` carries its chain's committee's threshold signatures (an unknown chain's view does not). */
  async signaturesHold(signed: SignedView): Promise<boolean> {
    const committee = this.#committees.get(signed.view.chainId);
    if (committee === undefined) return false;
    return this.#verify(signed.view, signed.signatures, committee).then(
      () => true,
      () => false,
    );
  }
}

/**
 * Two views of one chain with the same height, acc and window: the same EIP-712 digest (a chain's domain
 * is fixed), found by comparing strings instead of hashing, which a node would do for every view it is offered.
 * A malformed view never equals a stored one, so it goes on to verification and is refused there.
 */
function sameView(a: View, b: View): boolean {
  return a.height === b.height && a.acc === b.acc && a.hashes.length === b.hashes.length && a.hashes.every((hash, i) => hash === b.hashes[i]);
}
