import type { Address, Hex, LocalAccount } from "viem";
import type { Clock } from "../clock.js";
import type { Message } from "../net/message.js";
import type { Store } from "../store/store.js";
import type { View } from "../view/view.js";
import { shareSignerOf, viewSchemeOf, type ShareSigner, type ViewScheme } from "../view/viewScheme.js";
import { toWireView } from "../view/wireView.js";

type Cosign = Extract<Message, { kind: "cosign" }>;

export type CosignerOptions = {
  account: LocalAccount;
  chainId: bigint;
  gateway: Address;
  members: readonly Address[];
  /** When the committee signs with BLS12-381: the members' G2 keys (in `members` order) and this node's secret key. */
  bls?: { keys: readonly Hex[]; secretKey: Uint8Array };
  threshold: number;
  /**
   * Certify the view of every `signEvery`-th height unasked: the fresh view the gossip pacemaker carries to the other
   * systems. Between those heights a view is certified only on demand (`certify`), or when another member asks for one
   * by co-signing it.
   */
  signEvery: number;
  store: Store;
  clock: Clock;
  /** Sends a message to one committee member. */
  send: (to: Address, message: Message) => void;
  /** Heights kept waiting for co-signatures, behind and ahead of the newest own view. */
  horizon?: number;
};

type Waiter = { minHeight: bigint; done: (certified: boolean) => void };

/**
 * Gathers the committee's signatures of its own chain's views, once per certified height and only for the heights
 * that are needed. Each node signs its view and sends only the signature to the rest of its committee: every member
 * computes the same view from the chain, so a signature counts when it is its sender's over this node's own view
 * of that height (the committee's scheme checks it: an ECDSA recovery or a BLS verification, relayer/view/viewScheme.ts). A member's co-signature of a height is a request to certify it: the others sign that height too
 * (once), so one node that needs a view (a check() it serves, a view to gossip) gets the committee's signatures in one
 * round. A view signed by at least the threshold is certified and stored, ready for check() answers: with its ECDSA
 * signatures in the registry's order, or with the aggregate of its BLS shares and their bitmap.
 */
export class Cosigner {
  readonly #o: CosignerOptions;
  readonly #members: Set<string>;
  readonly #scheme: ViewScheme;
  readonly #signShare: ShareSigner;
  /** height → this node's own view */
  readonly #own = new Map<bigint, View>();
  /** Heights this node signed (within the horizon). */
  readonly #signed = new Set<bigint>();
  /** height → signer → signature, verified against the own view */
  readonly #agreeing = new Map<bigint, Map<string, { signer: Address; signature: Hex }>>();
  /** height → signer → the signature that arrived before this node reached the height (one per signer) */
  readonly #early = new Map<bigint, Map<string, Cosign>>();
  /** Callers of `certify` waiting for a certified view. */
  #waiters: Waiter[] = [];
  /** The lowest height demanded that this node has not reached yet, if any. */
  #wanted: bigint | undefined;
  #newest = -1n;
  /** Views this node signed: what certification costs it. */
  signatures = 0;

  constructor(options: CosignerOptions) {
    this.#o = options;
    this.#members = new Set(options.members.map((m) => m.toLowerCase()));
    this.#scheme = viewSchemeOf({ gateway: options.gateway, members: options.members, blsKeys: options.bls?.keys });
    this.#signShare = shareSignerOf(options.account, options.gateway, options.bls?.secretKey);
  }

  /** The newest height of this node's own chain it has a view of (−1 before the first). */
  get newest(): bigint {
    return this.#newest;
  }

  get #horizon(): bigint {
    return BigInt(this.#o.horizon ?? 64);
  }

  /** This node's view of its own chain at a new height: signed when it is a pacemaker height, demanded, or asked for by a member. */
  async onOwnView(view: View): Promise<void> {
    const { height } = view;
    if (height > this.#newest) this.#newest = height;
    this.#own.set(height, view);
    const early = this.#early.get(height);
    this.#early.delete(height);
    const pacemaker = this.#o.signEvery > 0 && height % BigInt(this.#o.signEvery) === 0n;
    const demanded = this.#wanted !== undefined && height >= this.#wanted;
    if (demanded) this.#wanted = undefined;
    if (pacemaker || demanded || early !== undefined) await this.#sign(height);
    for (const message of early?.values() ?? []) await this.#check(message);
    this.#prune();
  }

  /**
   * Resolves true once this node stores a certified view at `minHeight` or later (at once if it has one), false after
   * `timeoutMs`. If this node's chain is already there, it signs its newest view now and its co-signature asks the rest
   * of the committee to sign the same height; otherwise it signs the first view that reaches `minHeight`.
   */
  async certify(minHeight: bigint, timeoutMs: number): Promise<boolean> {
    if (this.#certifiedAtLeast(minHeight)) return true;
    if (this.#newest >= minHeight) await this.#sign(this.#newest);
    else if (this.#wanted === undefined || minHeight < this.#wanted) this.#wanted = minHeight;
    if (this.#certifiedAtLeast(minHeight)) return true;
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        minHeight,
        done: (certified) => {
          cancel();
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          resolve(certified);
        },
      };
      const cancel = this.#o.clock.setTimeout(() => waiter.done(false), timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** A co-signature from a committee member; returns false when it is refused. */
  async onCosign(from: Address, message: Cosign): Promise<boolean> {
    const height = BigInt(message.height);
    if (BigInt(message.chainId) !== this.#o.chainId || from.toLowerCase() !== message.signer.toLowerCase()) return false;
    if (!this.#members.has(from.toLowerCase())) return false;
    if (height + this.#horizon < this.#newest || height > this.#newest + this.#horizon) return false;
    if (!this.#own.has(height)) {
      let waiting = this.#early.get(height);
      if (waiting === undefined) this.#early.set(height, (waiting = new Map()));
      waiting.set(from.toLowerCase(), message);
      return true;
    }
    if (!(await this.#check(message))) return false;
    // A member asked for this height: sign it too, once, so that the committee certifies it in one round.
    await this.#sign(height);
    return true;
  }

  async #sign(height: bigint): Promise<void> {
    const view = this.#own.get(height);
    if (view === undefined || this.#signed.has(height)) return;
    this.#signed.add(height);
    this.signatures += 1;
    const mine = { signer: this.#o.account.address, signature: await this.#signShare(view) };
    const message: Cosign = { kind: "cosign", chainId: view.chainId.toString(), height: height.toString(), signer: mine.signer, signature: mine.signature };
    for (const member of this.#o.members) {
      if (member.toLowerCase() !== this.#o.account.address.toLowerCase()) this.#o.send(member, message);
    }
    this.#agree(height, mine.signer, mine.signature);
  }

  async #check(message: Cosign): Promise<boolean> {
    const height = BigInt(message.height);
    const view = this.#own.get(height)!;
    if (!this.#scheme.checkShare(view, message.signer, message.signature)) return false;
    this.#agree(height, message.signer, message.signature);
    return true;
  }

  #agree(height: bigint, signer: Address, signature: Hex): void {
    let bySigner = this.#agreeing.get(height);
    if (bySigner === undefined) this.#agreeing.set(height, (bySigner = new Map()));
    bySigner.set(signer.toLowerCase(), { signer, signature });
    const view = this.#own.get(height);
    if (view === undefined || bySigner.size < this.#o.threshold) return;
    if (this.#o.store.signedView(this.#o.chainId, height) === undefined) {
      this.#o.store.putSignedView({ chainId: this.#o.chainId, height, view: toWireView(view), signatures: this.#scheme.combine(bySigner) });
    }
    for (const waiter of this.#waiters) if (waiter.minHeight <= height) waiter.done(true);
  }

  #certifiedAtLeast(minHeight: bigint): boolean {
    const latest = this.#o.store.latestSignedView(this.#o.chainId);
    return latest !== undefined && latest.height >= minHeight;
  }

  #prune(): void {
    for (const map of [this.#own, this.#agreeing, this.#early] as Map<bigint, unknown>[]) {
      for (const height of map.keys()) if (height + this.#horizon < this.#newest) map.delete(height);
    }
    for (const height of this.#signed) if (height + this.#horizon < this.#newest) this.#signed.delete(height);
  }
}
