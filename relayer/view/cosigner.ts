import type { Address, Hex, LocalAccount } from "viem";
import type { Message } from "../net/message.js";
import type { Store } from "../store/store.js";
import { orderSignatures, signView } from "./signView.js";
import type { View } from "./view.js";
import { recoverViewSigner } from "./recoverViewSigner.js";
import { viewDigest } from "./viewDigest.js";
import { toWireView } from "./wireView.js";

type Cosign = Extract<Message, { kind: "cosign" }>;

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
 * Gathers the committee's signatures of its own chain's views. Each node signs its view and sends only
 * the signature to the rest of its committee: every member computes the same view from the chain, so a
 * signature counts when it recovers to its sender over this node's own view of that height. A view
 * signed by at least the threshold is certified and stored, ready for check() answers.
 */
export class Cosigner {
  readonly #o: CosignerOptions;
  readonly #members: Set<string>;
  /** height → this node's own view */
  readonly #own = new Map<bigint, View>();
  /** height → signer → signature, verified against the own view */
  readonly #agreeing = new Map<bigint, Map<string, { signer: Address; signature: Hex }>>();
  /** height → signer → the signature that arrived before this node reached the height (one per signer) */
  readonly #early = new Map<bigint, Map<string, Cosign>>();
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
    if (view.height > this.#newest) this.#newest = view.height;
    this.#own.set(view.height, view);
    const mine = await signView(this.#o.account, view, this.#o.gateway);
    this.#agree(view.height, mine.signer, mine.signature);
    const message: Cosign = { kind: "cosign", chainId: view.chainId.toString(), height: view.height.toString(), signer: mine.signer, signature: mine.signature };
    for (const member of this.#o.members) {
      if (member.toLowerCase() !== this.#o.account.address.toLowerCase()) this.#o.send(member, message);
    }
    for (const early of this.#early.get(view.height)?.values() ?? []) await this.#check(early);
    this.#early.delete(view.height);
    this.#prune();
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
    return this.#check(message);
  }

  async #check(message: Cosign): Promise<boolean> {
    const height = BigInt(message.height);
    const view = this.#own.get(height)!;
    try {
      const signer = await recoverViewSigner(viewDigest(view, this.#o.gateway), message.signature);
      // A signature over any other view recovers to some other address: not counted.
      if (signer.toLowerCase() !== message.signer.toLowerCase()) return false;
    } catch {
      return false;
    }
    this.#agree(height, message.signer, message.signature);
    return true;
  }

  #agree(height: bigint, signer: Address, signature: Hex): void {
    let bySigner = this.#agreeing.get(height);
    if (bySigner === undefined) this.#agreeing.set(height, (bySigner = new Map()));
    bySigner.set(signer.toLowerCase(), { signer, signature });
    const view = this.#own.get(height);
    if (view === undefined || bySigner.size < this.#o.threshold) return;
    if (this.#o.store.signedView(this.#o.chainId, height) !== undefined) return;
    this.#o.store.putSignedView({ chainId: this.#o.chainId, height, view: toWireView(view), signatures: orderSignatures([...bySigner.values()]) });
  }

  #prune(): void {
    for (const map of [this.#own, this.#agreeing, this.#early] as Map<bigint, unknown>[]) {
      for (const height of map.keys()) if (height + this.#horizon < this.#newest) map.delete(height);
    }
  }
}
