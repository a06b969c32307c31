import type { Address, Hex } from "viem";
import type { Clock } from "../clock.js";
import { StepSchedule, type StepBatch } from "../tasks/stepSchedule.js";
import type { Checked, SimNode } from "./simNode.js";
import type { TaskSide } from "./taskSide.js";

export type SimTaskRunnerParameters = {
  node: SimNode;
  /** This node's committee, in committee order. */
  members: readonly Address[];
  /** The task sides open on the node's chain. */
  sides: () => Iterable<TaskSide>;
  clock: Clock;
  /** As the node's rates set them (ratesForBlockTime): a retry pause of two polls, and the takeover wait. */
  retryMs: number;
  takeoverMs: number;
  /** Every chain's committee (StepScheduleOptions.committees). */
  committees: ReadonlyMap<bigint, { members: readonly Address[] }>;
  batchSize?: number;
};

/**
 * A simulated node's task work, scheduled by the relayer's own StepSchedule, as TaskRunner runs it minus the chain: at
 * each block of its chain (a node's task pass follows the poll that found the block) the steps due, batched by kind and
 * counterparty and taken in rank order, one check() per batch; a step's transaction lands in the chain's next block.
 */
export class SimTaskRunner {
  readonly #o: SimTaskRunnerParameters;
  readonly #schedule: StepSchedule<TaskSide>;
  /** Lanes whose steps are running. */
  readonly #lanes = new Set<string>();

  constructor(parameters: SimTaskRunnerParameters) {
    this.#o = parameters;
    this.#schedule = new StepSchedule({ self: parameters.node.address, ...parameters });
  }

  /** A task pass: starts the batches that are due and this node's turn, one lane per counterparty. */
  tick(): void {
    const due = [...this.#o.sides()].flatMap((side) => {
      const step = side.due();
      return step === undefined ? [] : [{ task: side, step }];
    });
    for (const [lane, batches] of this.#schedule.plan(due, this.#lanes)) {
      this.#lanes.add(lane);
      void (async () => {
        for (const batch of batches) await this.#step(batch);
      })().finally(() => this.#lanes.delete(lane));
    }
  }

  /** Node `from` asked this node about `contractId` (StepSchedule.nudge). */
  nudge(contractId: Hex, from: Address): void {
    this.#schedule.nudge(contractId, from);
  }

  async #step({ step, tasks }: StepBatch<TaskSide>): Promise<void> {
    const minHeight = step === "precommit" ? Number(this.#schedule.missedHeight(tasks)) : Math.min(...tasks.map((t) => t.h2));
    let checked: Checked;
    try {
      checked = await this.#o.node.check({ target: tasks[0]!.other, contractIds: tasks.map((t) => t.mirrorId), minHeight });
    } catch {
      return; // no verified answer, or one below minHeight: the step's pause doubles
    }
    const ready: TaskSide[] = [];
    const missing: TaskSide[] = [];
    tasks.forEach((task, i) => {
      const record = checked.records[i]!;
      if (step === "precommit" && record.status === "none") return void missing.push(task);
      if (step === "terminate" && task.h2 > checked.height) return; // asked again at a later pass
      ready.push(task);
      if (step === "precommit") task.precommit(checked.post);
      else task.terminate(record, checked.post);
    });
    if (missing.length > 0) this.#schedule.missed(missing, BigInt(checked.height));
    if (ready.length > 0) this.#schedule.sent(step, ready.map((t) => t.contractId));
  }
}
