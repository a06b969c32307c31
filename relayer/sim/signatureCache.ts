import type { Address, Hex, LocalAccount } from "viem";
import { orderSignatures, signView } from "../view/signView.js";
import { verifySignedView, type Committee, type ViewVerifier } from "../view/verifySignedView.js";
import type { View } from "../view/view.js";
import { cpuMsSince } from "./cpuTime.js";

/** The secp256k1 work a simulation did (times are CPU time), and the checks its cache answered without redoing them. */
export type SignatureWork = {
  /** Signatures made (one secp256k1 signing each). */
  signatures: number;
  signingMs: number;
  /** Signed views checked (`verifySignedView`: one recovery per signature). */
  verifications: number;
  verifyingMs: number;
  /** Checks of a signed view already checked: work each node of a real network does, that the simulation shares. */
  verificationsShared: number;
};

/**
 * Memoizes the two secp256k1 costs of a simulation: a committee's signatures of a view, and the check
 * of a signed view. Both are pure functions of their inputs (signatures are deterministic, RFC 6979),
 * so the simulated nodes, and the cells of a grid whose chains and keys come from one seed, can share
 * one result: the run pays once for what a real network pays once per node. Signing and checking are
 * the whole cost of a simulated block, some 1 ms per signature and 2 ms per recovery on a small machine.
 */
export class SignatureCache {
  readonly work: SignatureWork = { signatures: 0, signingMs: 0, verifications: 0, verifyingMs: 0, verificationsShared: 0 };
  readonly #signatures = new Map<string, Hex[]>();
  readonly #verified = new Set<string>();
  readonly #committeeKeys = new WeakMap<Committee, string>();

  /** The signatures of `signers` over `view`, in the order the ViewRegistry takes them. */
  async sign(view: View, signers: readonly LocalAccount[], gateway: Address): Promise<Hex[]> {
    const key = `${gateway}:${signers.map((s) => s.address).join(",")}|${contentOf(view)}`;
    const known = this.#signatures.get(key);
    if (known !== undefined) return known;
    const started = process.cpuUsage();
    const made = [];
    for (const signer of signers) made.push(await signView(signer, view, gateway));
    const signatures = orderSignatures(made);
    this.work.signatures += signers.length;
    this.work.signingMs += cpuMsSince(started);
    this.#signatures.set(key, signatures);
    return signatures;
  }

  /** `verifySignedView`, run once per signed view and committee; a refusal is not remembered, so it is refused every time. */
  readonly verify: ViewVerifier = async (view, signatures, committee) => {
    const key = `${this.#committeeKey(committee)}|${contentOf(view)}|${signatures.join("")}`;
    if (this.#verified.has(key)) {
      this.work.verificationsShared += 1;
      return;
    }
    const started = process.cpuUsage();
    try {
      await verifySignedView(view, signatures, committee);
    } finally {
      this.work.verifications += 1;
      this.work.verifyingMs += cpuMsSince(started);
    }
    this.#verified.add(key);
  };

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
