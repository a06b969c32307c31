import type { Hex } from "viem";
import type { Clock } from "../clock.js";
import { designatedFor } from "../tasks/taskRunner.js";
import type { Checked, SimNode } from "./simNode.js";
import type { SyntheticSystem } from "./syntheticSystem.js";

/** How one side of a task ended: released (the swap happened), refunded at terminate, or cancelled before a pre-commit. */
export type TaskOutcome = "released" | "refunded" | "cancelled";

export type TaskSideParameters = {
  /** The contract on `own`, and its mirror on `other`. */
  contractId: Hex;
  mirrorId: Hex;
  own: SyntheticSystem;
  other: SyntheticSystem;
  /** The nodes of `own`, in committee order: each step is run by the one `designatedFor` picks. */
  nodes: readonly SimNode[];
  /** Expiry heights on `own` and on `other`. */
  h1: number;
  h2: number;
  clock: Clock;
  /** First pause after a failed check(); it doubles up to 16 times that, as in TaskRunner. */
  retryMs: number;
  onDone: (outcome: TaskOutcome) => void;
};

type Phase = "precommit" | "waiting" | "terminate" | "done";

/**
 * One side of a cross-chain task (section IV.B), driven as the relayer's TaskRunner drives it: check()
 * until the mirror is proven registered, then pre-commit in the next block; once `own` passed h1, check()
 * at h2 or later and release when the mirror was pre-committed by h2, refund otherwise; cancel when h1
 * passes first. A failed check is retried after a doubling pause, cut short when the counterparty asks
 * about this contract (step 2 of the paper: wait for B's check, then resend).
 */
export class TaskSide {
  readonly contractId: Hex;
  readonly #o: TaskSideParameters;
  #phase: Phase = "precommit";
  #delay: number;
  #cancelRetry: (() => void) | undefined;
  #asking = false;
  #stopped = false;
  readonly #runners = new Map<"precommit" | "terminate", SimNode>();

  constructor(parameters: TaskSideParameters) {
    this.#o = parameters;
    this.contractId = parameters.contractId;
    this.#delay = parameters.retryMs;
  }

  /** The contract is in a block of `own`: start checking the mirror. */
  start(): void {
    void this.#attempt();
  }

  /** `own` reached h1 + 1: terminate a pre-committed contract, cancel one that never was. */
  expired(): void {
    if (this.#phase === "precommit") return this.#finish("cancelled");
    if (this.#phase !== "waiting") return;
    this.#phase = "terminate";
    this.#delay = this.#o.retryMs;
    void this.#attempt();
  }

  /** The counterparty asked `node` about this contract: if `node` runs the current step and is pausing, try now. */
  nudge(node: SimNode): void {
    if (this.#asking || this.#cancelRetry === undefined || node !== this.#runner()) return;
    this.#cancelRetry();
    void this.#attempt();
  }

  /** The run is over: no more attempts. */
  stop(): void {
    this.#stopped = true;
    this.#cancelRetry?.();
  }

  /** The node that runs the current step: the same for every attempt of a step, so it is picked once (a keccak256 each). */
  #runner(): SimNode {
    const step = this.#phase === "terminate" ? "terminate" : "precommit";
    let runner = this.#runners.get(step);
    if (runner === undefined) {
      const designated = designatedFor(`${this.contractId}:${step}`, this.#o.own.committee.members);
      this.#runners.set(step, (runner = this.#o.nodes.find((node) => node.address === designated)!));
    }
    return runner;
  }

  async #attempt(): Promise<void> {
    this.#cancelRetry = undefined;
    const phase = this.#phase;
    if (this.#stopped || (phase !== "precommit" && phase !== "terminate")) return;
    const { own, other, mirrorId, h1, h2 } = this.#o;
    this.#asking = true;
    let checked: Checked | undefined;
    try {
      checked = await this.#runner().check({ target: other, contractId: mirrorId, step: phase, minHeight: phase === "terminate" ? h2 : 0 });
    } catch {
      checked = undefined; // no verified answer (RequestFailedError), or one below h2
    } finally {
      this.#asking = false;
    }
    if (this.#phase !== phase) return; // expired while asking
    const mirror = checked?.record;
    if (mirror !== undefined && phase === "precommit" && mirror.status !== "none") {
      const at = own.height + 1;
      if (at > h1) return this.#finish("cancelled");
      own.commit(this.contractId, at);
      if (checked?.post !== undefined) own.acceptView(checked.post); // the pre-commit posted the answer's view
      this.#phase = "waiting";
      return;
    }
    if (mirror !== undefined && phase === "terminate") {
      if (checked?.post !== undefined) own.acceptView(checked.post);
      return this.#finish(mirror.status === "committed" && mirror.at <= h2 ? "released" : "refunded");
    }
    this.#retry();
  }

  #retry(): void {
    if (this.#stopped) return;
    this.#cancelRetry = this.#o.clock.setTimeout(() => void this.#attempt(), this.#delay);
    this.#delay = Math.min(this.#delay * 2, this.#o.retryMs * 16);
  }

  #finish(outcome: TaskOutcome): void {
    this.#phase = "done";
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
    this.#o.onDone(outcome);
  }
}
