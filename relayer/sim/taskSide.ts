import type { Hex } from "viem";
import type { View } from "../view/view.js";
import type { RecordState, SyntheticSystem } from "./syntheticSystem.js";

/** How one side of a task ended: released (the swap happened), refunded at terminate, or cancelled before a pre-commit. */
export type TaskOutcome = "released" | "refunded" | "cancelled";

export type TaskSideParameters = {
  /** The contract on `own`, and its mirror on `other`. */
  contractId: Hex;
  mirrorId: Hex;
  own: SyntheticSystem;
  other: SyntheticSystem;
  /** The height of `own`'s block that holds the contract. */
  registeredAt: number;
  /** Expiry heights on `own` and on `other`. */
  h1: number;
  h2: number;
  onDone: (outcome: TaskOutcome) => void;
};

/**
 * One side of a cross-chain task (section IV.B) as its chain's Gateway records it: registered, pre-committed by h1 or
 * cancelled after it, then released or refunded by a terminate whose proof of the mirror is at h2 or later. The nodes
 * of `own` (SimTaskRunner) read the step it is due for, as TaskRunner reads a record's status, and record the steps
 * they take.
 */
export class TaskSide {
  readonly contractId: Hex;
  readonly mirrorId: Hex;
  /** The chain of the mirror. */
  readonly counterparty: bigint;
  readonly other: SyntheticSystem;
  readonly h2: number;
  readonly #o: TaskSideParameters;
  #phase: "registered" | "committed" | "done" = "registered";

  constructor(parameters: TaskSideParameters) {
    this.#o = parameters;
    this.contractId = parameters.contractId;
    this.mirrorId = parameters.mirrorId;
    this.counterparty = parameters.other.chainId;
    this.other = parameters.other;
    this.h2 = parameters.h2;
  }

  /** The step due at `own`'s head: a pre-commit while registered up to h1, a terminate once pre-committed and past h1. */
  due(): "precommit" | "terminate" | undefined {
    const { own, registeredAt, h1 } = this.#o;
    if (own.height < registeredAt) return undefined;
    if (this.#phase === "registered" && own.height <= h1) return "precommit";
    if (this.#phase === "committed" && own.height > h1) return "terminate";
    return undefined;
  }

  /** `own` reached h1 + 1: a contract never pre-committed is cancelled (a transaction that needs no check()). */
  expired(): void {
    if (this.#phase === "registered") this.#finish("cancelled");
  }

  /** A pre-commit with the answer's view: it lands in `own`'s next block, or is refused there when that is past h1. */
  precommit(post: View | undefined): void {
    if (this.#phase !== "registered") return;
    const { own, h1 } = this.#o;
    const at = own.height + 1;
    if (at > h1) return;
    own.commit(this.contractId, at);
    if (post !== undefined) own.acceptView(post);
    this.#phase = "committed";
  }

  /** A terminate with the mirror's record at h2 or later: released when the mirror was pre-committed by h2. */
  terminate(mirror: RecordState, post: View | undefined): void {
    if (this.#phase !== "committed") return;
    if (post !== undefined) this.#o.own.acceptView(post);
    this.#finish(mirror.status === "committed" && mirror.at <= this.h2 ? "released" : "refunded");
  }

  #finish(outcome: TaskOutcome): void {
    this.#phase = "done";
    this.#o.onDone(outcome);
  }
}
