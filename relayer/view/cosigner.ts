import { recoverTypedDataAddress, type Address, type Hex, type LocalAccount } from "viem";
import type { Message } from "../net/message.js";
import type { Store } from "../store/store.js";
import { orderSignatures, signView, type ViewSignature } from "./signView.js";
import type { View } from "./view.js";
import { viewDigest, VIEW_TYPES, viewDomain } from "./viewDigest.js";
import { fromWireView, toWireView } from "./wireView.js";

export type CosignerOptions = {
  account: LocalAccount;
  chainId: bigint;
  gateway: Address;
  members: readonly Address[];
  threshold: number;
  /** Sign the view of every `signEvery`-th height. */
  signEvery: number;
  store: Store;
  /** Sends a message to one committee member. */
  send: (to: Address, message: Message) => void;
  /** Heights kept waiting for co-signatures, behind and ahead of the newest own view. */
  horizon?: number;
};

/**
 * Gathers the committee's signatures of its own chain's views. Each node signs its view and sends the
 * signature to the rest of its committee; a view signed by at least the threshold is certified and
 * stored, ready for check() answers. Signatures for a view that differs from this node's own view of
 * that height are not counted.
 */
export class Cosigner {
  readonly #o: CosignerOptions;
  readonly #members: Set<string>;
  /** height → digest of this node's own view, and the view */
  readonly #own = new Map<bigint, { digest: Hex; view: View }>();
  /** height → signer → signature over the digest it carried */
  readonly #collected = new Map<bigint, Map<Address, { digest: Hex; signature: Hex }>>();
  #newest = -1n;

  constructor(options: CosignerOptions) {
    this.#o = options;
    this.#members = new Set(options.members.map((m) => m.toLowerCase()));
  }

  get #horizon(): bigint {
    return BigInt(this.#o.horizon ?? 64);
  }

  /** This node's view of its own chain at a new height. */
  async onOwnView(view: View): Promise<void> {
    if (view.height % BigInt(this.#o.signEvery) !== 0n) return;
    this.#newest = view.height > this.#newest ? view.height : this.#newest;
    const digest = viewDigest(view, this.#o.gateway);
    this.#own.set(view.height, { digest, view });
    const mine: ViewSignature = await signView(this.#o.account, view, this.#o.gateway);
    this.#add(view.height, mine.signer, digest, mine.signature);
    const message: Message = { kind: "cosign", view: toWireView(view), signer: mine.signer, signature: mine.signature };
    for (const member of this.#o.members) {
      if (member.toLowerCase() !== this.#o.account.address.toLowerCase()) this.#o.send(member, message);
    }
    this.#prune();
    this.#tryCertify(view.height);
  }

  /** A co-signature from a committee member; returns false when it is refused. */
  async onCosign(from: Address, message: Extract<Message, { kind: "cosign" }>): Promise<boolean> {
    const view = fromWireView(message.view);
    if (view.chainId !== this.#o.chainId || from.toLowerCase() !== message.signer.toLowerCase()) return false;
    if (!this.#members.has(from.toLowerCase())) return false;
    if (view.height + this.#horizon < this.#newest || view.height > this.#newest + this.#horizon) return false;
    let signer: Address;
    try {
      signer = await recoverTypedDataAddress({
        domain: viewDomain(view.chainId, this.#o.gateway),
        types: VIEW_TYPES,
        primaryType: "View",
        message: view,
        signature: message.signature,
      });
    } catch {
      return false;
    }
    if (signer.toLowerCase() !== from.toLowerCase()) return false;
    this.#add(view.height, from, viewDigest(view, this.#o.gateway), message.signature);
    this.#tryCertify(view.height);
    return true;
  }

  #add(height: bigint, signer: Address, digest: Hex, signature: Hex): void {
    let bySigner = this.#collected.get(height);
    if (bySigner === undefined) this.#collected.set(height, (bySigner = new Map()));
    bySigner.set(signer, { digest, signature });
  }

  #tryCertify(height: bigint): void {
    const own = this.#own.get(height);
    const bySigner = this.#collected.get(height);
    if (own === undefined || bySigner === undefined) return;
    if (this.#o.store.signedView(this.#o.chainId, height) !== undefined) return;
    const agreeing = [...bySigner].filter(([, s]) => s.digest === own.digest).map(([signer, s]) => ({ signer, signature: s.signature }));
    if (agreeing.length < this.#o.threshold) return;
    this.#o.store.putSignedView({ chainId: this.#o.chainId, height, view: toWireView(own.view), signatures: orderSignatures(agreeing) });
  }

  #prune(): void {
    for (const map of [this.#own, this.#collected] as Map<bigint, unknown>[]) {
      for (const height of map.keys()) if (height + this.#horizon < this.#newest) map.delete(height);
    }
  }
}
