import { LRUCache } from "lru-cache";
import { hexToBigInt, keccak256, stringToHex, type Address, type Hex, type PublicClient } from "viem";
import type { Clock } from "../clock.js";
import { gatewayAbi, registryAbi, Status } from "../chain/abis.js";
import type { AcceptedViews } from "../chain/acceptedView.js";
import { readRecords } from "../chain/readRecords.js";
import { NO_HEADER_PROOF, type HeaderProof } from "../chain/recordProof.js";
import type { RecordFields } from "../chain/recordWord.js";
import { TxRefusedError, type SendOutcome, type TxSender } from "../chain/txSender.js";
import { NO_POST, type ViewPost } from "../chain/viewPost.js";
import type { Evidence, SignedView } from "../view/signedView.js";
import { MAX_CONTRACTS_PER_REQUEST, type Answer } from "../net/message.js";
import type { RequestChannel } from "../net/requestChannel.js";
import type { Store, Task, TaskState } from "../store/store.js";
import { verifySignedView, type Committee } from "../view/verifySignedView.js";
import { accBeforeHead, type View } from "../view/view.js";
import { checkAnswer, ConflictingAnswerError, ForkEvidenceError, type AnswerBasis, type CheckedAnswer } from "./checkAnswer.js";
import { shortMessage } from "../util/shortMessage.js";

export type Step = "precommit" | "terminate" | "cancel";

/** What the runner reports, for logs and metrics. A batch step names every contract it carried. */
export type TaskEvent =
  | { type: "step-sent"; step: Step; contractIds: Hex[]; outcome: SendOutcome }
  | { type: "step-failed"; step: Step; contractIds: Hex[]; error: string }
  | { type: "task-state"; contractId: Hex; state: TaskState }
  /** A step that landed posted the counterparty's view at `height` in the same transaction. */
  | { type: "view-posted"; chainId: bigint; height: bigint }
  /** A check() answer's signed view conflicts with the word this chain's registry stores for its newest view: posted, it freezes the chain. */
  | { type: "conflicting-view"; chainId: bigint; signed: SignedView }
  /** A check() answer's signed view conflicts with the window of the view this chain's registry accepted: fork evidence. */
  | { type: "fork-evidence"; evidence: Evidence }
  /** Fork evidence against chain `chainId` went to this chain's registry, or the chain was frozen there already. */
  | { type: "evidence-submitted"; chainId: bigint; outcome: SendOutcome }
  /** Fork evidence against chain `chainId` that did not reach this chain's registry yet, and why. */
  | { type: "evidence-failed"; chainId: bigint; error: string }
  /** A registry refresh (RegistryRefresher) posted chain `chainId`'s view at `height`, bridging `bridged` blocks, or found it done. */
  | { type: "registry-refreshed"; chainId: bigint; height: bigint; bridged: number; outcome: SendOutcome }
  /** A registry refresh of chain `chainId`'s view that did not happen yet, and why. */
  | { type: "refresh-failed"; chainId: bigint; error: string };

/** Most contracts one Gateway step carries (and one check() request asks about). */
export const DEFAULT_BATCH_SIZE = 16;

/**
 * Records read per eth_call of a tick's multicall: a few hundred keep each call far below any node's gas cap for
 * eth_call (a record read costs a few thousand gas) and its response small.
 */
const RECORDS_PER_CALL = 400;
/** Calldata of one recordOf(bytes32) call: the selector and the id. */
const RECORD_CALL_BYTES = 36;
/**
 * Retry pauses a pre-commit's first check waits for the counterparty's request: the legs of a swap land on their chains
 * a block or two apart, and the side that checks first, before the other leg is in the other chain's head, pays a miss.
 */
const FIRST_WAIT_RETRIES = 2;
/** Contracts whose counterparty asked about them before this node saw them due, remembered at most (the newest). */
const EARLY_NUDGES = 4096;
/** Counterparties whose steps run at the same time, at most (each one's steps run one after another). */
const PARALLEL_COUNTERPARTIES = 4;
/**
 * Reverts of a step whose check() answer another node's post of the counterparty's view overtook: the registry no longer
 * takes the answer's bridge, or no longer has the answer's block as an accepted height. A new answer fixes them.
 */
const REGISTRY_MOVED = ["ViewRegistryBridgeMismatch", "GatewayHeaderNotAccepted"] as const;
/** Such races retried at the retry pace, at most, per step: one that keeps being refused so is backed off again. */
const MAX_PACED_RETRIES = 8;

/** What the committee's shared chain work needs, for the task runner and the registry refresher alike. */
export type CommitteeWork = {
  chainId: bigint;
  self: Address;
  /** This chain's committee: the nodes that share the work. */
  members: readonly Address[];
  clock: Clock;
  /** How long a node waits for the node ranked before it before taking over. */
  takeoverMs: number;
  /** Pause between two attempts of one piece of work by this node (doubles up to 16 times that). */
  retryMs: number;
  client: PublicClient;
  gateway: Address;
  registry: Address;
  sender: TxSender;
  channel: RequestChannel;
  /** Committees of the chains, to verify their signed views before believing them. */
  committees: ReadonlyMap<bigint, Committee>;
  /** The views this chain's registry accepted, read from their ViewAccepted events once each. */
  acceptedViews: AcceptedViews;
  onEvent: (event: TaskEvent) => void;
  /** Every signed view an answer carried that passed its signature check: for the view list. */
  onVerifiedView: (view: View, signatures: Hex[]) => Promise<void>;
};

export type TaskRunnerOptions = CommitteeWork & {
  store: Store;
  /** Most contracts per Gateway step; default DEFAULT_BATCH_SIZE, at most MAX_CONTRACTS_PER_REQUEST. */
  batchSize?: number;
};

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

const STATE_OF: Record<number, TaskState | undefined> = {
  [Status.Registered]: "registered",
  [Status.Committed]: "precommitted",
  [Status.Released]: "released",
  [Status.Refunded]: "refunded",
  [Status.Cancelled]: "cancelled",
};

type Due = { task: Task; step: Step };
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
  /** Attempts refused because the registry moved under their answer (REGISTRY_MOVED), retried at the retry pace. */
  raced?: number;
};
/** Tasks whose mirror a verified answer at `height` showed not registered (or registered too late). */
type Missing = { tasks: Task[]; height: bigint };
type Outcome = { sent: { contractIds: Hex[]; outcome: SendOutcome } | undefined; missing: Missing | undefined };
type Believed = { checked: CheckedAnswer; records: RecordFields[] };
type Counterparty = { frozen: boolean; height: bigint };
type StepCall = { post: ViewPost; at: HeaderProof; tasks: Task[]; storageProofs: Hex[][] };

/**
 * Drives the contract transactions of this node's chain through the IBCP (section IV.B): pre-commit once the
 * counterparty registered the mirror, terminate after both expiries, cancel what never pre-committed. Every due step
 * of one kind with one counterparty goes in one check() request and one Gateway transaction, which also posts the
 * counterparty's view the answer carried. One node per batch is chosen deterministically from the batch's key; the
 * next one in rank takes over when nothing happened for `takeoverMs`, and so on.
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
 *
 * Steps run in the background, one lane per counterparty: a tick starts the lanes that are not running, so a check
 * that waits for a slow or silent counterparty holds up neither another counterparty's steps nor the next tick.
 */
export class TaskRunner {
  readonly #o: TaskRunnerOptions;
  readonly #batchSize: number;
  readonly #steps = new Map<string, StepEntry>();
  /** contractId → who asked about it before this node saw its pre-commit due (checked against the counterparty then). */
  readonly #early = new LRUCache<string, Address>({ max: EARLY_NUDGES });
  /** Lanes (a counterparty, or "cancel") whose steps are running, and the promise of each. */
  readonly #lanes = new Map<string, Promise<void>>();

  constructor(options: TaskRunnerOptions) {
    this.#o = options;
    this.#batchSize = Math.max(1, Math.min(options.batchSize ?? DEFAULT_BATCH_SIZE, MAX_CONTRACTS_PER_REQUEST));
  }

  /**
   * Advances every open task once, given the chain's head. The Gateway's records of all open tasks are read in one
   * multicall (chunked, see RECORDS_PER_CALL), so that the RPC work of a tick grows with the batches due, not with the
   * tasks open: an attacker's many 1-wei registrations with far expiries cost a node a few bytes of calldata each per
   * tick, not a round trip each.
   */
  async tick(head: bigint): Promise<void> {
    const tasks = this.#o.store.openTasks();
    const statuses = await this.#statuses(tasks);
    const due: Due[] = [];
    tasks.forEach((task, i) => {
      const step = this.#refresh(task, statuses[i]!, head);
      if (step !== undefined) due.push({ task, step });
    });
    const keys = new Set(due.map(({ task, step }) => `${task.contractId}:${step}`));
    for (const key of this.#steps.keys()) if (!keys.has(key)) this.#steps.delete(key);
    // Steps with one counterparty run one after another, since each may move the registry's view of it that the next
    // one's answer must connect to; steps with different counterparties run side by side (up to PARALLEL_COUNTERPARTIES).
    const lanes = new Map<string, [Step, Task[]][]>();
    for (const [step, batch] of this.#batches(due)) {
      const entries = this.#entries(step, batch);
      const lane = step === "cancel" ? "cancel" : batch[0]!.counterparty.toString();
      // A lane still running, or one over the limit, keeps its steps' turns for a later tick.
      const full = !lanes.has(lane) && this.#lanes.size + lanes.size >= PARALLEL_COUNTERPARTIES;
      if (this.#lanes.has(lane) || full || !this.#myTurn(batchKey(step, batch.map((t) => t.contractId)), entries)) continue;
      lanes.set(lane, [...(lanes.get(lane) ?? []), [step, batch]]);
    }
    for (const [lane, steps] of lanes) {
      const run = (async () => {
        for (const [step, batch] of steps) await this.#step(step, batch);
      })().finally(() => this.#lanes.delete(lane));
      this.#lanes.set(lane, run);
    }
  }

  /** Resolves once no step is running: for a node that stops, and for tests. */
  async idle(): Promise<void> {
    while (this.#lanes.size > 0) await Promise.all(this.#lanes.values());
  }

  async #step(step: Step, tasks: Task[]): Promise<void> {
    try {
      const { sent, missing } = await this.#run(step, tasks);
      if (missing !== undefined) this.#missed(missing.tasks, missing.height);
      if (sent === undefined) return;
      for (const id of sent.contractIds) this.#steps.delete(`${id}:${step}`);
      this.#o.onEvent({ type: "step-sent", step, contractIds: sent.contractIds, outcome: sent.outcome });
    } catch (error) {
      if (error instanceof TxRefusedError && REGISTRY_MOVED.some((name) => error.reason.includes(name))) this.#retryAtPace(step, tasks);
      this.#o.onEvent({ type: "step-failed", step, contractIds: tasks.map((t) => t.contractId), error: shortMessage(error) });
    }
  }

  /**
   * The step's answer was overtaken: another node posted a newer view of the counterparty between this node's check()
   * and its transaction. The next attempt, with a new answer, comes after retryMs, and the pause does not grow: doubled at
   * each such race, it reached 8 to 16 s on a busy 10-chain network, and pre-commits expired waiting. After
   * MAX_PACED_RETRIES such refusals the step backs off as any other (a refusal that never ends is no race).
   */
  #retryAtPace(step: Step, tasks: readonly Task[]): void {
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
   * A verified answer at `height` showed these tasks' mirrors not registered (or registered too late). A check that
   * answered a request of the counterparty, or during which one came, goes on at the retry pace: the counterparty
   * registered, only its certified view may not show it yet. Any other waits for the counterparty's request, or for a
   * full takeover round.
   */
  #missed(tasks: readonly Task[], height: bigint): void {
    for (const task of tasks) {
      const entry = this.#steps.get(`${task.contractId}:precommit`);
      if (entry === undefined || entry.triedAt === undefined) continue;
      entry.missedAt = height;
      if (entry.nudged || entry.answering) continue;
      entry.awaiting = true;
      entry.nextAttempt = entry.triedAt + this.#o.takeoverMs * this.#o.members.length;
    }
  }

  /** The Gateway's status of each task, in order. */
  async #statuses(tasks: readonly Task[]): Promise<number[]> {
    if (tasks.length === 0) return [];
    // Deployless: the Multicall3 code travels with the eth_call, so no chain needs it deployed.
    const records = await this.#o.client.multicall({
      contracts: tasks.map((t) => ({ address: this.#o.gateway, abi: gatewayAbi, functionName: "recordOf", args: [t.contractId] }) as const),
      allowFailure: false,
      deployless: true,
      batchSize: RECORDS_PER_CALL * RECORD_CALL_BYTES,
    });
    return (records as readonly (readonly [number, ...unknown[]])[]).map(([status]) => status);
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

  /** Stores the task's new state, from its record's status, and returns the step it is due for, if any. */
  #refresh(task: Task, status: number, head: bigint): Step | undefined {
    const state = STATE_OF[status];
    if (state !== undefined && state !== task.state) {
      this.#o.store.setTaskState(task.contractId, state);
      this.#o.onEvent({ type: "task-state", contractId: task.contractId, state });
    }
    if (status === Status.Registered) return head > task.h1 ? "cancel" : "precommit";
    if (status === Status.Committed && head > task.h1) return "terminate";
    return undefined;
  }

  /** Due steps in batches: a cancel alone (the Gateway cancels one contract per call), the rest by kind and counterparty. */
  *#batches(due: readonly Due[]): Generator<[Step, Task[]]> {
    const groups = new Map<string, { step: Step; tasks: Task[] }>();
    for (const { task, step } of due) {
      const key = step === "cancel" ? `cancel:${task.contractId}` : `${step}:${task.counterparty}`;
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = { step, tasks: [] }));
      group.tasks.push(task);
    }
    for (const { step, tasks } of groups.values()) {
      // Every node sorts the same way, so that they all form the same batches and agree on who sends each.
      const sorted = [...tasks].sort((a, b) => (a.contractId < b.contractId ? -1 : a.contractId > b.contractId ? 1 : 0));
      for (let i = 0; i < sorted.length; i += this.#batchSize) yield [step, sorted.slice(i, i + this.#batchSize)];
    }
  }

  /** The entries of a batch's steps, created for those first seen due now. */
  #entries(step: Step, batch: readonly Task[]): StepEntry[] {
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

  /**
   * Whether this node acts on the batch now: its rank for the batch key, counted from when the first of its steps
   * became due (so that a batch that grows does not restart the takeover clock), and the earliest next attempt of its
   * steps (a nudged step's is now).
   */
  #myTurn(key: string, entries: readonly StepEntry[]): boolean {
    const now = this.#o.clock.now();
    const readyAt = Math.min(...entries.map((e) => e.readyAt));
    const nextAttempt = Math.min(...entries.map((e) => e.nextAttempt));
    const rank = rankFor(key, this.#o.members, this.#o.self);
    if (now < readyAt + rank * this.#o.takeoverMs || now < nextAttempt) return false;
    for (const entry of entries) {
      entry.answering = entry.nudged;
      entry.nudged = false;
      entry.awaiting = false;
      entry.triedAt = now;
      entry.nextAttempt = now + entry.delay;
      entry.delay = Math.min(entry.delay * 2, this.#o.retryMs * 16);
    }
    return true;
  }

  /** One batch step: the check() it needs, then one transaction; what it sent, and the mirrors the check found missing. */
  async #run(step: Step, tasks: Task[]): Promise<Outcome> {
    const { sender, gateway } = this.#o;
    if (step === "cancel") {
      const [task] = tasks as [Task];
      const outcome = await sender.send({ key: batchKey("cancel", [task.contractId]), address: gateway, abi: gatewayAbi, functionName: "cancel", args: [task.terms], doneErrors: ["GatewayWrongStatus"] });
      return { sent: { contractIds: [task.contractId], outcome }, missing: undefined };
    }
    const counterparty = await this.#counterparty(tasks[0]!.counterparty);
    let missing: Missing | undefined;
    let call: StepCall | undefined;
    if (step === "precommit") ({ call, missing } = await this.#precommit(tasks, counterparty));
    else call = await this.#terminate(tasks, counterparty);
    if (call === undefined) return { sent: undefined, missing };
    const contractIds = call.tasks.map((t) => t.contractId);
    const outcome = await sender.send({
      key: batchKey(step, contractIds),
      address: gateway,
      abi: gatewayAbi,
      functionName: step,
      args: [call.post, call.at, call.tasks.map((t) => t.terms), call.storageProofs],
      // A batch whose every item another node already stepped raises its first item's GatewayWrongStatus.
      doneErrors: ["GatewayWrongStatus"],
    });
    if (outcome === "landed" && call.post.signatures.length > 0) this.#o.onEvent({ type: "view-posted", chainId: call.post.view_.chainId, height: call.post.view_.height });
    return { sent: { contractIds, outcome }, missing };
  }

  /**
   * Pre-commit the contracts whose mirror the counterparty registered in time; none while it is frozen (they will be
   * cancelled). A check after one that showed a mirror missing asks for a newer view than that one's: the same view
   * would show the same.
   */
  async #precommit(tasks: Task[], counterparty: Counterparty): Promise<{ call: StepCall | undefined; missing: Missing | undefined }> {
    if (counterparty.frozen) return { call: undefined, missing: undefined };
    const missedAt = tasks.reduce((most, t) => {
      const at = this.#steps.get(`${t.contractId}:precommit`)?.missedAt;
      return at !== undefined && at + 1n > most ? at + 1n : most;
    }, 0n);
    const { checked, records } = await this.#askNewest(tasks, counterparty, missedAt);
    const ready: { task: Task; proof: Hex[] }[] = [];
    const absent: Task[] = [];
    tasks.forEach((task, i) => {
      const mirror = records[i]!;
      const registered = mirror.status === Status.Registered || mirror.status === Status.Committed;
      if (registered && mirror.registeredAt <= task.terms.mirrorBy) ready.push({ task, proof: checked.storageProofs[i]! });
      else absent.push(task);
    });
    const missing = absent.length === 0 ? undefined : { tasks: absent, height: checked.height };
    if (ready.length === 0) return { call: undefined, missing };
    return { call: { post: postOf(checked), at: headerProofOf(checked), tasks: ready.map((r) => r.task), storageProofs: ready.map((r) => r.proof) }, missing };
  }

  /**
   * Terminate with a proof at a height ≥ h2. A frozen counterparty gets no newer view: a contract whose h2 its registry
   * never reached is undecidable (refunded without proof); the others are proven at the registry's last accepted height.
   */
  async #terminate(tasks: Task[], counterparty: Counterparty): Promise<StepCall | undefined> {
    if (!counterparty.frozen) {
      const minHeight = tasks.reduce((min, t) => (t.h2 < min ? t.h2 : min), tasks[0]!.h2);
      const { checked } = await this.#askNewest(tasks, counterparty, minHeight);
      const ready = tasks.flatMap((task, i) => (task.h2 <= checked.height ? [{ task, proof: checked.storageProofs[i]! }] : []));
      if (ready.length === 0) return undefined;
      return { post: postOf(checked), at: headerProofOf(checked), tasks: ready.map((r) => r.task), storageProofs: ready.map((r) => r.proof) };
    }
    const undecided = tasks.filter((t) => counterparty.height < t.h2);
    const decidable = tasks.filter((t) => counterparty.height >= t.h2);
    const noProof = { post: NO_POST, at: NO_HEADER_PROOF, tasks: undecided, storageProofs: undecided.map((): Hex[] => []) };
    if (decidable.length === 0) return noProof;
    let checked: CheckedAnswer;
    try {
      ({ checked } = await this.#askAccepted(decidable, counterparty.height));
    } catch (error) {
      if (undecided.length === 0) throw error;
      return noProof; // the decidable ones wait for a verified answer; the undecidable need none
    }
    return {
      post: NO_POST,
      at: headerProofOf(checked),
      tasks: [...decidable, ...undecided],
      storageProofs: [...checked.storageProofs, ...undecided.map((): Hex[] => [])],
    };
  }

  async #counterparty(chainId: bigint): Promise<Counterparty> {
    const cp = await this.#o.client.readContract({ address: this.#o.registry, abi: registryAbi, functionName: "counterparty", args: [chainId] });
    return { frozen: cp.frozen, height: cp.height };
  }

  /**
   * check() of the tasks' mirrors at the counterparty's newest certified view, connected to this chain's registry, and
   * compared with the view the registry accepted there (an answer that conflicts with it is fork evidence).
   */
  async #askNewest(tasks: Task[], counterparty: Counterparty, minHeight: bigint): Promise<Believed> {
    const chainId = tasks[0]!.counterparty;
    const knownHeight = counterparty.height;
    const { view, signatures, accThrough: stored } = await this.#o.acceptedViews.get(chainId, knownHeight);
    return this.#ask(tasks, { kind: "newest", knownHeight, stored, minHeight, accepted: { view, signatures } }, knownHeight, minHeight, undefined);
  }

  /** check() of the tasks' mirrors at exactly `height`, a height this chain's registry accepted (the counterparty is frozen). */
  async #askAccepted(tasks: Task[], height: bigint): Promise<Believed> {
    const chainId = tasks[0]!.counterparty;
    const accepted = await this.#o.acceptedViews.get(chainId, height);
    return this.#ask(tasks, { kind: "accepted", height, accBefore: accBeforeHead(accepted.view), accThrough: accepted.accThrough }, height, height, height);
  }

  async #ask(tasks: Task[], basis: AnswerBasis, knownHeight: bigint, minHeight: bigint, atHeight: bigint | undefined): Promise<Believed> {
    const chainId = tasks[0]!.counterparty;
    return this.#o.channel.ask({
      chainId,
      contractIds: tasks.map((t) => t.mirrorId),
      knownHeight,
      minHeight,
      ...(atHeight === undefined ? {} : { atHeight }),
      verify: (answer) => this.#verify(chainId, tasks, basis, answer),
    });
  }

  /**
   * An answer is believed when checkAnswer holds (the committee's signatures, the registry's connect rule, the header
   * of the view's block) and its proofs lead from that header to the counterparty Gateway's record of every mirror, read
   * here as the Gateway will read them. Nothing is written to any chain meanwhile.
   */
  async #verify(chainId: bigint, tasks: Task[], basis: AnswerBasis, answer: Answer): Promise<Believed> {
    const checked = await believeAnswer(this.#o, { chainId, basis, answer, contracts: tasks.length });
    const committee = this.#o.committees.get(chainId)!;
    const { height, records } = await readRecords({
      header: checked.header,
      gateway: committee.gateway,
      accountProof: checked.accountProof,
      contractIds: tasks.map((t) => t.mirrorId),
      storageProofs: checked.storageProofs,
    });
    if (height !== checked.height) throw new Error(`the proof's header is block ${height}, not ${checked.height}`);
    return { checked, records };
  }
}

/**
 * checkAnswer as the committee's chain work applies it, for the task runner and the registry refresher alike: against
 * the counterparty's configured committee, with every verified view handed to the view list, and a view that contradicts
 * this chain's registry reported as evidence (an event) before the answer is refused.
 */
export async function believeAnswer(
  work: CommitteeWork,
  { chainId, basis, answer, contracts }: { chainId: bigint; basis: AnswerBasis; answer: Answer; contracts: number },
): Promise<CheckedAnswer> {
  const committee = work.committees.get(chainId);
  if (committee === undefined) throw new Error(`no committee configured for chain ${chainId}`);
  try {
    return await checkAnswer({ answer, chainId, committee, basis, contracts, verify: verifySignedView, onVerified: ({ view, signatures }) => work.onVerifiedView(view, signatures) });
  } catch (error) {
    if (error instanceof ConflictingAnswerError) work.onEvent({ type: "conflicting-view", chainId, signed: error.signed });
    if (error instanceof ForkEvidenceError) work.onEvent({ type: "fork-evidence", evidence: error.evidence });
    throw error;
  }
}

function postOf(checked: CheckedAnswer): ViewPost {
  return checked.post === undefined ? NO_POST : { view_: checked.post.view, signatures: checked.post.signatures, bridge: checked.post.bridge };
}

function headerProofOf(checked: CheckedAnswer): HeaderProof {
  return { header: checked.header, accBefore: checked.accBefore, accountProof: checked.accountProof };
}

