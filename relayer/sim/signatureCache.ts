import { hexToBytes, type Address, type Hex } from "viem";
import { orderSignatures } from "../view/signView.js";
import { recoverViewSigner } from "../view/recoverViewSigner.js";
import { verifySignedView, type Committee, type SignerRecovery, type ViewVerifier } from "../view/verifySignedView.js";
import type { View } from "../view/view.js";
import { viewDigest } from "../view/viewDigest.js";
import { signHash } from "../util/signHash.js";
import { threadCpuMs } from "./cpuTime.js";

/** The secp256k1 work a simulation did (times are its thread's CPU time), and the checks its cache answered without redoing them. */
export type SignatureWork = {
  /** Signatures made (one secp256k1 signing each). */
  signatures: number;
  signingMs: number;
  /** Signed views checked (`verifySignedView`: one recovery per signature this cache did not make). */
  verifications: number;
  verifyingMs: number;
  /** Checks of a signed view already checked: work each node of a real network does, that the simulation shares. */
  verificationsShared: number;
};

/** Signatures whose signers the cache remembers: those of the views signed last (a view is checked soon after it is signed). */
const MADE_KEPT = 60_000;

/** A committee member's key, which the simulation holds for each of its synthetic systems. */
export type SimSigner = { address: Address; privateKey: Hex };

/** A signed view that held its committee's signatures, with the committee's key (`SignatureCache.verify`). */
type CheckedView = { committee: string; view: View; signatures: readonly Hex[] };

/** A SignatureCache's contents (see `share`): signatures by committee and view, and the signed views that were checked. */
export type SharedSignatures = { signatures: [string, Hex[]][]; verified: CheckedView[] };

/**
 * Memoizes the two secp256k1 costs of a simulation: a committee's signatures of a view, and the check
 * of a signed view. Both are pure functions of their inputs (signatures are deterministic, RFC 6979),
 * so the simulated nodes, and the cells of a grid whose chains and keys come from one seed, can share
 * one result: the run pays once for what a real network pays once per node. The signatures are made by
 * signHash, as a relayer signs, over the view's digest computed once for the committee. A check of a view it
 * signed runs verifySignedView with the signers it knows instead of recovering them, as a node that made a
 * signature knows its signer: the shape, the committee and the order of the signers are checked all the same.
 */
export class SignatureCache {
  readonly work: SignatureWork = { signatures: 0, signingMs: 0, verifications: 0, verifyingMs: 0, verificationsShared: 0 };
  readonly #signatures = new Map<string, Hex[]>();
  /** Checked signed views by their first signature: found by comparing a few strings, which a gossiped view shares. */
  readonly #verified = new Map<Hex, CheckedView[]>();
  readonly #committeeKeys = new WeakMap<Committee, string>();
  readonly #keys = new Map<Hex, Uint8Array>();
  /** The signatures this cache made lately, with the digest each signs and its signer. */
  readonly #made = new Map<Hex, { digest: Hex; signer: Address }>();

  /**
   * recoverViewSigner, but for a signature this cache made over that digest, whose signer it knows: recovering it would
   * give that signer's address (the test that the cache signs as signView does checks it), at the cost of a recovery.
   */
  readonly #recover: SignerRecovery = (digest, signature) => {
    const made = this.#made.get(signature);
    return made !== undefined && made.digest === digest ? made.signer : recoverViewSigner(digest, signature);
  };

  /** The signatures of `signers` over `view`, in the order the ViewRegistry takes them. */
  async sign(view: View, signers: readonly SimSigner[], gateway: Address): Promise<Hex[]> {
    const key = `${gateway}:${signers.map((s) => s.address).join(",")}|${contentOf(view)}`;
    const known = this.#signatures.get(key);
    if (known !== undefined) return known;
    const started = threadCpuMs();
    const digest = viewDigest(view, gateway);
    const bytes = hexToBytes(digest);
    const made = signers.map((signer) => ({ signer: signer.address, signature: this.#signDigest(bytes, signer.privateKey) }));
    for (const { signer, signature } of made) {
      if (this.#made.size >= MADE_KEPT) this.#made.delete(this.#made.keys().next().value!);
      this.#made.set(signature, { digest, signer });
    }
    const signatures = orderSignatures(made);
    this.work.signatures += signers.length;
    this.work.signingMs += threadCpuMs() - started;
    this.#signatures.set(key, signatures);
    return signatures;
  }

  /** `verifySignedView`, run once per signed view and committee; a refusal is not remembered, so it is refused every time. */
  readonly verify: ViewVerifier = async (view, signatures, committee) => {
    const checked = { committee: this.#committeeKey(committee), view, signatures };
    if (this.#verified.get(signatures[0] ?? "0x")?.some((known) => sameCheck(known, checked))) {
      this.work.verificationsShared += 1;
      return;
    }
    const started = threadCpuMs();
    try {
      await verifySignedView(view, signatures, committee, this.#recover);
    } finally {
      this.work.verifications += 1;
      this.work.verifyingMs += threadCpuMs() - started;
    }
    this.#remember({ committee: checked.committee, view: { ...view, hashes: [...view.hashes] }, signatures: [...signatures] });
  };

  /** What this cache holds, as plain data that a cache in another thread can adopt. */
  share(): SharedSignatures {
    return { signatures: [...this.#signatures], verified: [...this.#verified.values()].flat() };
  }

  /** Takes in what another cache made and checked (`share`): the results of the same pure functions, not redone here. */
  adopt(shared: SharedSignatures): void {
    for (const [key, signatures] of shared.signatures) this.#signatures.set(key, signatures);
    for (const checked of shared.verified) this.#remember(checked);
  }

  #remember(checked: CheckedView): void {
    const first = checked.signatures[0] ?? "0x";
    const same = this.#verified.get(first);
    if (same === undefined) this.#verified.set(first, [checked]);
    else if (!same.some((known) => sameCheck(known, checked))) same.push(checked);
  }

  /** An RFC 6979 signature r ‖ s ‖ v (v 27 or 28) of the 32-byte digest, as viem's account.sign makes it. */
  #signDigest(digest: Uint8Array, privateKey: Hex): Hex {
    let key = this.#keys.get(privateKey);
    if (key === undefined) this.#keys.set(privateKey, (key = hexToBytes(privateKey)));
    return signHash(digest, key);
  }

  #committeeKey(committee: Committee): string {
    let key = this.#committeeKeys.get(committee);
    if (key === undefined) {
      key = `${committee.gateway}:${committee.threshold}:${committee.k}:${committee.members.join(",")}`;
      this.#committeeKeys.set(committee, key);
    }
    return key;
  }
}

function contentOf(view: View): string {
  return `${view.chainId}:${view.height}:${view.acc}:${view.hashes.join("")}`;
}

/** The same signed view under the same committee: every field equal (a gossiped copy shares the strings, so most compare at once). */
function sameCheck(a: CheckedView, b: CheckedView): boolean {
  return (
    a.committee === b.committee &&
    a.view.height === b.view.height &&
    a.view.chainId === b.view.chainId &&
    a.view.acc === b.view.acc &&
    sameList(a.view.hashes, b.view.hashes) &&
    sameList(a.signatures, b.signatures)
  );
}

function sameList(a: readonly Hex[], b: readonly Hex[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}
