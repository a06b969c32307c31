import { registryAbi, UpdateResult } from "../chain/abis.js";
import type { SendOutcome } from "../chain/txSender.js";
import type { Evidence, SignedView } from "../view/signedView.js";
import { shortMessage } from "../util/shortMessage.js";
import type { CommitteeWork } from "./taskRunner.js";

export type EvidenceSubmitterOptions = Pick<CommitteeWork, "chainId" | "client" | "registry" | "sender" | "onEvent">;

/**
 * Puts fork evidence on this node's chain's ViewRegistry, which freezes the forking chain there and slashes its bond:
 * pairs of conflicting signed views (found by the gossip overlay, or by a check() answer that conflicts with the view the
 * registry accepted) go in with submitForkEvidence; a signed view from a check() answer that conflicts with the
 * registry's stored word goes in with submitView, which freezes the chain for it. Every node of the committee submits:
 * the first transaction freezes the chain, and the others find it frozen (ViewRegistryChainFrozen), which counts as done.
 */
export class EvidenceSubmitter {
  readonly #o: EvidenceSubmitterOptions;
  /** Fork evidence not yet on this chain's registry, by chain. */
  readonly #evidence = new Map<bigint, Evidence>();
  /** Signed views from check() answers that conflict with this chain's registry, by chain: posted, they freeze it. */
  readonly #conflicts = new Map<bigint, SignedView>();

  constructor(options: EvidenceSubmitterOptions) {
    this.#o = options;
  }

  /** Keeps fork evidence for the next `submit`; evidence against this node's own chain has no place on its registry. */
  addEvidence(evidence: Evidence): void {
    const chainId = evidence.a.view.chainId;
    if (chainId !== this.#o.chainId) this.#evidence.set(chainId, evidence);
  }

  /** Keeps a signed view that conflicts with the registry's stored word for the next `submit`; true when its chain had none waiting. */
  addConflict(signed: SignedView): boolean {
    const chainId = signed.view.chainId;
    const first = !this.#conflicts.has(chainId);
    this.#conflicts.set(chainId, signed);
    return first;
  }

  /** Whether anything waits for `submit`. */
  get pending(): boolean {
    return this.#evidence.size + this.#conflicts.size > 0;
  }

  /** Submits what is waiting. Evidence stays until it lands or its chain is found frozen; a conflicting view gets one attempt. */
  async submit(): Promise<void> {
    const { sender, registry } = this.#o;
    for (const [chainId, { a, b }] of this.#evidence) {
      const done = await this.#send(chainId, () =>
        sender.send({
          key: `evidence:${chainId}`,
          address: registry,
          abi: registryAbi,
          functionName: "submitForkEvidence",
          args: [a.view, a.signatures, b.view, b.signatures],
          doneErrors: ["ViewRegistryChainFrozen"],
        }),
      );
      if (done) this.#evidence.delete(chainId);
    }
    // Sent only when the registry would freeze the chain for it: a registry that moved on may no longer take the view as
    // evidence (then the overlay's evidence, or a later answer, remains).
    for (const [chainId, { view, signatures }] of this.#conflicts) {
      this.#conflicts.delete(chainId);
      const verdict = await this.#o.client
        .simulateContract({ address: registry, abi: registryAbi, functionName: "submitView", args: [view, signatures, []] })
        .then(({ result }) => result)
        .catch(() => undefined);
      if (verdict !== UpdateResult.Misbehaviour) continue;
      await this.#send(chainId, () =>
        sender.send({
          key: `conflict:${chainId}:${view.height}`,
          address: registry,
          abi: registryAbi,
          functionName: "submitView",
          args: [view, signatures, []],
          doneErrors: ["ViewRegistryChainFrozen"],
        }),
      );
    }
  }

  async #send(chainId: bigint, send: () => Promise<SendOutcome>): Promise<boolean> {
    try {
      const outcome = await send();
      this.#o.onEvent({ type: "evidence-submitted", chainId, outcome });
      return true;
    } catch (error) {
      this.#o.onEvent({ type: "evidence-failed", chainId, error: shortMessage(error) });
      return false;
    }
  }
}
