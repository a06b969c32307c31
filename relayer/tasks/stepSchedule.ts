import { LRUCache } from "lru-cache";
import { hexToBigInt, keccak256, stringToHex, type Address, type Hex } from "viem";
import type { Clock } from "../clock.js";
import { MAX_CONTRACTS_PER_REQUEST } from "../net/message.js";

export type Step = "precommit" | "terminate" | "cancel";

/** Most contracts one Gateway step carries (and one check() request asks about). */
export const DEFAULT_BATCH_SIZE = 16;

/**
 * Retry pauses a pre-commit's first check waits for the counterparty's request: the legs of a swap land on their chains
 * a block or two apart, and the side that checks first, before the other leg is in the other chain's head, pays a miss.
 */
const FIRST_WAIT_RETRIES = 2;
/** Contracts whose counterparty asked about them before this node saw them due, remembered at most (the newest). */
const EARLY_NUDGES = 4096;
/** Counterparties whose steps run at the same time, at most (each one's steps run one after another). */
const PARALLEL_COUNTERPARTIES = 4;
/** Races (see retryAtPace) retried at the retry pace, at most, per step: one that keeps being refused so is backed off again. */
const MAX_PACED_RETRIES = 8;

/** The committee member chosen for a step: keccak256(key) mod q, in committee order. */
export function designatedFor(key: string, members: readonly Address[]): Address {
  return members[Number(hexToBigInt(keccak256(stringToHex(key))) % BigInt(members.length))]!;
}

/** How many takeovers away `self` is from acting on `key`: 0 for the designated member, then in committee order. */
export function rankFor(key: string, members: readonly Address[], self: Address): number {
  const q = members.length;
  const designated = members.indexOf(designatedFor(key, members));
  const index = members.findIndex((m) => m.toLowerCase() === self.toLowerCase());
  return (index - designated + q) % q;
}

/**
 * The key of a batch step: names the step for the designated node and the transaction sender. `${contractId}:${step}` of
 * the batch's smallest contract id, so a batch of one has its contract's own step key.
 */
export function batchKey(step: Step, contractIds: readonly Hex[]): string {
  const first = [...contractIds].map((id) => id.toLowerCase()).sort()[0];
  if (first === undefined) throw new RangeError("an empty batch has no key");
  return `${first}:${step}`;
}

/** What the schedule needs of a contract transaction: its id and the chain of its mirror. */
export type Scheduled = { contractId: Hex; counterparty: bigint };

/** A step some contract is due for, as the chain's records show it now. */
export type Due<T extends Scheduled> = { task: T; step: Step };

/** Due steps of one kind with one counterparty (or one cancel), run together: one check() and one transaction. */
export type StepBatch<T extends Scheduled> = { step: Step; tasks: T[] };

/** A batch as the schedule plans it. */
type Planned<T extends Scheduled> = StepBatch<T> & {
  /** Steps in one lane run one after another: the counterparty's chain id, or "cancel". */
  lane: string;
  /** batchKey: whose turn it is. */
  key: string;
  entries: StepEntry[];
};

/** What one node knows of one contract's step (`${contractId}:${step}`). */
type StepEntry = {
  /** The chain of the contract's mirror: only its committee's requests wake the step. */
  counterparty: bigint;
  /** When this node first saw the step due: the takeover clock. */
  readyAt: number;
  /** When this node may try the step next. */
  nextAttempt: number;
  /** The pause after a failed attempt (doubles up to 16 × retryMs). */
  delay: number;
  /** When this node last tried the step; undefined while it has not (its turn has not come). */
  triedAt?: number;
  /** The height of the counterparty's view at which this node's last check showed the mirror missing. */
  missedAt?: bigint;
  /** The last check showed the mirror missing and no request of the counterparty about the contract came since. */
  awaiting: boolean;
  /** A request of the counterparty about the contract came since this node's last attempt began (or before its first). */
  nudged: boolean;
  /** This node's last attempt answered such a request. */
  answering: boolean;
  /** Attempts refused because the registry moved under their answer, retried at the retry pace. */
  raced?: number;
};

export type StepScheduleOptions = {
  self: Address;
  /** This chain's committee: the nodes that share the steps. */
  members: readonly Address[];
  clock: Clock;
  /** How long a node waits for the node ranked before it before taking over. */
  takeoverMs: number;
  /** Pause between two attempts of one step by this node (doubles up to 16 times that). */
  retryMs: number;
  /** Most contracts per batch; default DEFAULT_BATCH_SIZE, at most MAX_CONTRACTS_PER_REQUEST. */
  batchSize?: number;
  /** The committee of every chain: only members of a mirror chain's committee wake a step. */
  committees: ReadonlyMap<bigint, { members: readonly Address[] }>;
};

/**
 * When a node acts on which steps (section IV.B): the turn-taking, batching and check rule of the committee's task
 * work, with no chain in it, so that the relayer's TaskRunner and the simulator's nodes schedule alike.
 *
 * Every due step of one kind with one counterparty goes in one batch. One node per batch is chosen deterministically
 * from the batch's key; the next one in rank takes over when nothing happened for `takeoverMs`, and so on.
 *
 * The check rule is the paper's (step 2): a pre-commit check that finds the mirror not registered is not repeated on a
 * timer. The node waits for the counterparty's own check() request about the contract (`nudge`), which its nodes send
 * once they registered the mirror, and then checks again, whatever its rank. The first check itself waits
 * FIRST_WAIT_RETRIES retry pauses for that request (and goes at once if it came already), so that of two legs
 * registered at about the same time at most one side checks too early. Only a long fallback, a full takeover round
 * (q × takeoverMs), covers a request that was lost or went to other members: a request reaches (1 − r)·q + 1 of the q
 * members, and where it missed the one that waits, the takeover order still brings the next member's own first check
 * within takeoverMs, so the committee as a whole checks a waiting step about once per takeoverMs. A nudge does not
 * advance a member whose turn has not come: the counterparty's nodes also ask about contracts whose mirror they found
 * registered (their recheck), and those members would duplicate a step whose transaction is on its way.
 */
export class StepSchedule<T extends Scheduled> {
  readonly #o: StepScheduleOptions;
  readonly #batchSize: number;
  readonly #steps = new Map<string, StepEntry>();
  /** contractId → who asked about it before this node saw its pre-commit due (checked against the counterparty then). */
  readonly #early = new LRUCache<string, Address>({ max: EARLY_NUDGES });

  constructor(options: StepScheduleOptions) {
    this.#o = options;
    this.#batchSize = Math.max(1, Math.min(options.batchSize ?? DEFAULT_BATCH_SIZE, MAX_CONTRACTS_PER_REQUEST));
  }

  /**
   * The batches this node runs now, by lane, given the steps due and the lanes still running. Steps with one
   * counterparty run one after another, since each may move the registry's view of it that the next one's answer must
   * connect to; steps with different counterparties run side by side (up to PARALLEL_COUNTERPARTIES). A lane still
   * running, or one over the limit, keeps its steps' turns for a later tick.
   */
  plan(due: readonly Due<T>[], running: ReadonlySet<string>): Map<string, StepBatch<T>[]> {
    const lanes = new Map<string, StepBatch<T>[]>();
    for (const batch of this.#batches(due)) {
      const full = !lanes.has(batch.lane) && running.size + lanes.size >= PARALLEL_COUNTERPARTIES;
      if (running.has(batch.lane) || full || !this.#take(batch)) continue;
      lanes.set(batch.lane, [...(lanes.get(batch.lane) ?? []), { step: batch.step, tasks: batch.tasks }]);
    }
    return lanes;
  }

  /**
   * The due steps in batches: a cancel alone (the Gateway cancels one contract per call), the rest by kind and
   * counterparty. Steps no longer due are forgotten; those first seen due now start their takeover clock.
   */
  #batches(due: readonly Due<T>[]): Planned<T>[] {
    const keys = new Set(due.map(({ task, step }) => `${task.contractId}:${step}`));
    for (const key of this.#steps.keys()) if (!keys.has(key)) this.#steps.delete(key);
    const groups = new Map<string, { step: Step; tasks: T[] }>();
    for (const { task, step } of due) {
      const key = step === "cancel" ? `cancel:${task.contractId}` : `${step}:${task.counterparty}`;
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = { step, tasks: [] }));
      group.tasks.push(task);
    }
    const batches: Planned<T>[] = [];
    for (const { step, tasks } of groups.values()) {
      // Every node sorts the same way, so that they all form the same batches and agree on who sends each.
      const sorted = [...tasks].sort((a, b) => (a.contractId < b.contractId ? -1 : a.contractId > b.contractId ? 1 : 0));
      for (let i = 0; i < sorted.length; i += this.#batchSize) {
        const batch = sorted.slice(i, i + this.#batchSize);
        const lane = step === "cancel" ? "cancel" : batch[0]!.counterparty.toString();
        batches.push({ step, tasks: batch, key: batchKey(step, batch.map((t) => t.contractId)), lane, entries: this.#entries(step, batch) });
      }
    }
    return batches;
  }

  /**
   * Whether this node acts on the batch now, and if so the attempt begins: its rank for the batch key, counted from when
   * the first of its steps became due (so that a batch that grows does not restart the takeover clock), and the
   * earliest next attempt of its steps (a nudged step's is now).
   */
  #take(batch: Planned<T>): boolean {
    const now = this.#o.clock.now();
    const readyAt = Math.min(...batch.entries.map((e) => e.readyAt));
    const nextAttempt = Math.min(...batch.entries.map((e) => e.nextAttempt));
    const rank = rankFor(batch.key, this.#o.members, this.#o.self);
    if (now < readyAt + rank * this.#o.takeoverMs || now < nextAttempt) return false;
    for (const entry of batch.entries) {
      // A step whose first check is not due yet rides along at no cost (it is in the same request), but this is not its
      // check: its miss would park it before the counterparty had its wait to ask. Its own first check comes in time.
      if (entry.triedAt === undefined && entry.nextAttempt > now) continue;
      entry.answering = entry.nudged;
      entry.nudged = false;
      entry.awaiting = false;
      entry.triedAt = now;
      entry.nextAttempt = now + entry.delay;
      entry.delay = Math.min(entry.delay * 2, this.#o.retryMs * 16);
    }
    return true;
  }

  /** The least height a pre-commit check of `tasks` asks for: above the view at which a check showed a mirror missing (the same view would show the same). */
  missedHeight(tasks: readonly T[]): bigint {
    return tasks.reduce((most, t) => {
      const at = this.#steps.get(`${t.contractId}:precommit`)?.missedAt;
      return at !== undefined && at + 1n > most ? at + 1n : most;
    }, 0n);
  }

  /** The step of these contracts went out in a transaction: nothing more to schedule for it. */
  sent(step: Step, contractIds: readonly Hex[]): void {
    for (const id of contractIds) this.#steps.delete(`${id}:${step}`);
  }

  /**
   * A verified answer at `height` showed these tasks' mirrors not registered (or registered too late). A check that
   * answered a request of the counterparty, or during which one came, goes on at the retry pace: the counterparty
   * registered, only its certified view may not show it yet. Any other waits for the counterparty's request, or for a
   * full takeover round. A step that rode along before its first check was due (see #take) is not held to the miss.
   */
  missed(tasks: readonly T[], height: bigint): void {
    for (const task of tasks) {
      const entry = this.#steps.get(`${task.contractId}:precommit`);
      if (entry === undefined || entry.triedAt === undefined) continue;
      entry.missedAt = height;
      if (entry.nudged || entry.answering) continue;
      entry.awaiting = true;
      entry.nextAttempt = entry.triedAt + this.#o.takeoverMs * this.#o.members.length;
    }
  }

  /**
   * The step's answer was overtaken: another node posted a newer view of the counterparty between this node's check()
   * and its transaction. The next attempt, with a new answer, comes after retryMs, and the pause does not grow: doubled at
   * each such race, it reached 8 to 16 s on a busy 10-chain network, and pre-commits expired waiting. After
   * MAX_PACED_RETRIES such refusals the step backs off as any other (a refusal that never ends is no race).
   */
  retryAtPace(step: Step, tasks: readonly T[]): void {
    for (const task of tasks) {
      const entry = this.#steps.get(`${task.contractId}:${step}`);
      if (entry === undefined) continue;
      entry.raced = (entry.raced ?? 0) + 1;
      if (entry.raced > MAX_PACED_RETRIES) continue;
      entry.delay = this.#o.retryMs;
      entry.nextAttempt = this.#o.clock.now() + this.#o.retryMs;
    }
  }

  /**
   * Node `from` asked about `contractId` (the paper's step 2: a node of the counterparty registered the mirror and checks
   * this contract). If this node's pre-commit check found the mirror missing, it checks again now, whatever its rank; if
   * the step waits for its first check, that check is due now (in rank order, as always); a nudge during a check makes a
   * miss of that check go on at the retry pace rather than wait. A nudge for a contract this node has not seen due yet is
   * remembered for when it does. Only members of the mirror chain's committee wake a step: a node of any other chain
   * could otherwise make this node ask again and again.
   */
  nudge(contractId: Hex, from: Address): void {
    const id = contractId.toLowerCase();
    const entry = this.#steps.get(`${id}:precommit`);
    if (entry === undefined) {
      this.#early.set(id, from);
      return;
    }
    if (!this.#isMember(entry.counterparty, from)) return;
    entry.nudged = true;
    if (!entry.awaiting && entry.triedAt !== undefined) return;
    entry.awaiting = false;
    entry.nextAttempt = this.#o.clock.now();
  }

  #isMember(chainId: bigint, address: Address): boolean {
    return (this.#o.committees.get(chainId)?.members ?? []).some((m) => m.toLowerCase() === address.toLowerCase());
  }

  /** The entries of a batch's steps, created for those first seen due now. */
  #entries(step: Step, batch: readonly T[]): StepEntry[] {
    const now = this.#o.clock.now();
    return batch.map((task) => {
      const key = `${task.contractId}:${step}`;
      let entry = this.#steps.get(key);
      if (entry === undefined) {
        // A pre-commit's first check gives the counterparty FIRST_WAIT_RETRIES retry pauses to ask first (unless it did):
        // two users who register at about the same time then cost one check each, not a miss and a recheck.
        const early = this.#early.get(task.contractId.toLowerCase());
        this.#early.delete(task.contractId.toLowerCase());
        const nudged = step === "precommit" && early !== undefined && this.#isMember(task.counterparty, early);
        const firstAt = step === "precommit" && !nudged ? now + FIRST_WAIT_RETRIES * this.#o.retryMs : now;
        entry = { counterparty: task.counterparty, readyAt: now, nextAttempt: firstAt, delay: this.#o.retryMs, awaiting: false, nudged, answering: false };
        this.#steps.set(key, entry);
      }
      return entry;
    });
  }
}
