import type { Address, Hex, PublicClient } from "viem";
import type { Clock } from "../clock.js";
import { gatewayAbi, registryAbi, Status } from "../chain/abis.js";
import type { AcceptedViews } from "../chain/acceptedView.js";
import { readRecords } from "../chain/readRecords.js";
import { NO_HEADER_PROOF, type HeaderProof } from "../chain/recordProof.js";
import type { RecordFields } from "../chain/recordWord.js";
import { TxRefusedError, type SendOutcome, type TxSender } from "../chain/txSender.js";
import { NO_POST, type ViewPost } from "../chain/viewPost.js";
import type { Evidence, SignedView } from "../view/signedView.js";
import type { Answer } from "../net/message.js";
import type { RequestChannel } from "../net/requestChannel.js";
import type { Store, Task, TaskState } from "../store/store.js";
import { verifySignedView, type Committee } from "../view/verifySignedView.js";
import { accBeforeHead, type View } from "../view/view.js";
import { checkAnswer, ConflictingAnswerError, ForkEvidenceError, type AnswerBasis, type CheckedAnswer } from "./checkAnswer.js";
import { shortMessage } from "../util/shortMessage.js";
import { batchKey, StepSchedule, type Due, type Step } from "./stepSchedule.js";

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

/**
 * Records read per eth_call of a tick's multicall: a few hundred keep each call far below any node's gas cap for
 * eth_call (a record read costs a few thousand gas) and its response small.
 */
const RECORDS_PER_CALL = 400;
/** Calldata of one recordOf(bytes32) call: the selector and the id. */
const RECORD_CALL_BYTES = 36;
/**
 * Reverts of a step whose check() answer another node's post of the counterparty's view overtook: the registry no longer
 * takes the answer's bridge, or no longer has the answer's block as an accepted height. A new answer fixes them.
 */
const REGISTRY_MOVED = ["ViewRegistryBridgeMismatch", "GatewayHeaderNotAccepted"] as const;

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
  /** Most contracts per Gateway step (StepScheduleOptions.batchSize). */
  batchSize?: number;
};

const STATE_OF: Record<number, TaskState | undefined> = {
  [Status.Registered]: "registered",
  [Status.Committed]: "precommitted",
  [Status.Released]: "released",
  [Status.Refunded]: "refunded",
  [Status.Cancelled]: "cancelled",
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
 * counterparty's view the answer carried. Who acts on which batch when, and the paper's check rule, are the
 * StepSchedule's; this runner reads the chain, asks, believes the answers and sends the transactions.
 *
 * Steps run in the background, one lane per counterparty: a tick starts the lanes that are not running, so a check
 * that waits for a slow or silent counterparty holds up neither another counterparty's steps nor the next tick.
 */
export class TaskRunner {
  readonly #o: TaskRunnerOptions;
  readonly #schedule: StepSchedule<Task>;
  /** Lanes (a counterparty, or "cancel") whose steps are running, and the promise of each. */
  readonly #lanes = new Map<string, Promise<void>>();

  constructor(options: TaskRunnerOptions) {
    this.#o = options;
    this.#schedule = new StepSchedule(options);
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
    const due: Due<Task>[] = [];
    tasks.forEach((task, i) => {
      const step = this.#refresh(task, statuses[i]!, head);
      if (step !== undefined) due.push({ task, step });
    });
    const lanes = this.#schedule.plan(due, new Set(this.#lanes.keys()));
    for (const [lane, batches] of lanes) {
      const run = (async () => {
        for (const { step, tasks } of batches) await this.#step(step, tasks);
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
      if (missing !== undefined) this.#schedule.missed(missing.tasks, missing.height);
      if (sent === undefined) return;
      this.#schedule.sent(step, sent.contractIds);
      this.#o.onEvent({ type: "step-sent", step, contractIds: sent.contractIds, outcome: sent.outcome });
    } catch (error) {
      if (error instanceof TxRefusedError && REGISTRY_MOVED.some((name) => error.reason.includes(name))) this.#schedule.retryAtPace(step, tasks);
      this.#o.onEvent({ type: "step-failed", step, contractIds: tasks.map((t) => t.contractId), error: shortMessage(error) });
    }
  }

  /** The Gateway's status of each task, in order: as mined, or with the node's pool of transactions applied (`pending`). */
  async #statuses(tasks: readonly Task[], blockTag: "latest" | "pending" = "latest"): Promise<number[]> {
    if (tasks.length === 0) return [];
    // Deployless: the Multicall3 code travels with the eth_call, so no chain needs it deployed.
    const records = await this.#o.client.multicall({
      contracts: tasks.map((t) => ({ address: this.#o.gateway, abi: gatewayAbi, functionName: "recordOf", args: [t.contractId] }) as const),
      allowFailure: false,
      deployless: true,
      blockTag,
      batchSize: RECORDS_PER_CALL * RECORD_CALL_BYTES,
    });
    return (records as readonly (readonly [number, ...unknown[]])[]).map(([status]) => status);
  }

  /** Node `from` asked about `contractId`: the counterparty is at work on it (StepSchedule.nudge). */
  nudge(contractId: Hex, from: Address): void {
    this.#schedule.nudge(contractId, from);
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

  /**
   * One batch step: the check() it needs, then one transaction; what it sent, and the mirrors the check found missing.
   * Steps that another member's transaction already carries (in the pool, not mined yet: a member that took over while
   * the one before it was still at work) are left out before any check() is asked; the next tick sees them done.
   */
  async #run(step: Step, batch: Task[]): Promise<Outcome> {
    const { sender, gateway } = this.#o;
    const from = step === "terminate" ? Status.Committed : Status.Registered;
    // Both reads are round trips to a chain node that is busy when many steps are due: neither waits for the other.
    const [pending, counterparty] = await Promise.all([this.#statuses(batch, "pending"), step === "cancel" ? undefined : this.#counterparty(batch[0]!.counterparty)]);
    const tasks = batch.filter((_, i) => pending[i] === from);
    if (tasks.length === 0) return { sent: undefined, missing: undefined };
    if (counterparty === undefined) {
      // a cancel: nothing to ask
      const [task] = tasks as [Task];
      const outcome = await sender.send({ key: batchKey("cancel", [task.contractId]), address: gateway, abi: gatewayAbi, functionName: "cancel", args: [task.terms], doneErrors: ["GatewayWrongStatus"] });
      return { sent: { contractIds: [task.contractId], outcome }, missing: undefined };
    }
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
    const { checked, records } = await this.#askNewest(tasks, counterparty, this.#schedule.missedHeight(tasks));
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

