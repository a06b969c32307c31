import { hexToBigInt, keccak256, stringToHex, type Address, type Hex, type PublicClient } from "viem";
import type { Clock } from "../clock.js";
import { gatewayAbi, registryAbi, Status } from "../chain/abis.js";
import type { StorageProof } from "../chain/recordProof.js";
import type { SendOutcome, TxSender } from "../chain/txSender.js";
import type { Message } from "../net/message.js";
import type { RequestChannel } from "../net/requestChannel.js";
import type { Store, Task, TaskState } from "../store/store.js";
import { verifySignedView, type Committee } from "../view/verifySignedView.js";
import type { View } from "../view/view.js";
import { fromWireView } from "../view/wireView.js";
import { checkAnswerViews } from "./checkAnswerViews.js";

type Answer = Extract<Message, { kind: "answer" }>;
export type Step = "precommit" | "terminate" | "cancel";

/** What the runner reports, for logs and metrics. */
export type TaskEvent =
  | { type: "step-sent"; contractId: Hex; step: Step; outcome: SendOutcome }
  | { type: "step-failed"; contractId: Hex; step: Step; error: string }
  | { type: "task-state"; contractId: Hex; state: TaskState }
  | { type: "view-submitted"; chainId: bigint; height: bigint };

export type TaskRunnerOptions = {
  chainId: bigint;
  self: Address;
  /** This chain's committee: the nodes that share the tasks. */
  members: readonly Address[];
  clock: Clock;
  /** How long a node waits for the node ranked before it on a step before taking over. */
  takeoverMs: number;
  /** Pause between two attempts of one step by this node (doubles up to 16 times that; a request from the counterparty about the task cuts it short). */
  retryMs: number;
  client: PublicClient;
  gateway: Address;
  registry: Address;
  store: Store;
  sender: TxSender;
  channel: RequestChannel;
  /** Committees of the other chains, to verify their signed views before believing them. */
  committees: ReadonlyMap<bigint, Committee>;
  onEvent: (event: TaskEvent) => void;
  /** Every signed view an answer carried that passed its signature check: for the view list. */
  onVerifiedView: (view: View, signatures: Hex[]) => Promise<void>;
};

/** The committee member chosen for a step: keccak256(key) mod q, in committee order. */
export function designatedFor(key: string, members: readonly Address[]): Address {
  return members[Number(hexToBigInt(keccak256(stringToHex(key))) % BigInt(members.length))]!;
}

const STATE_OF: Record<number, TaskState | undefined> = {
  [Status.Registered]: "registered",
  [Status.Committed]: "precommitted",
  [Status.Released]: "released",
  [Status.Refunded]: "refunded",
  [Status.Cancelled]: "cancelled",
};
const EMPTY_PROOF: StorageProof = { header: "0x", accountProof: [], storageProof: [] };

/**
 * Drives the contract transactions of this node's chain through the IBCP (section IV.B): pre-commit
 * once the counterparty registered the mirror, terminate after both expiries, cancel what never
 * pre-committed. One node per step is chosen deterministically from the step's key; the next one in
 * rank takes over when nothing happened for `takeoverMs`, and so on.
 */
export class TaskRunner {
  readonly #o: TaskRunnerOptions;
  /** step key → when this node first saw the step ready, and when it may try next */
  readonly #steps = new Map<string, { readyAt: number; nextAttempt: number; delay: number }>();

  constructor(options: TaskRunnerOptions) {
    this.#o = options;
  }

  /** Advances every open task once, given the chain's head. */
  async tick(head: bigint): Promise<void> {
    for (const task of this.#o.store.openTasks()) {
      try {
        await this.#advance(task, head);
      } catch (error) {
        this.#o.onEvent({ type: "step-failed", contractId: task.contractId, step: "precommit", error: (error as Error).message.split("\n")[0]! });
      }
    }
  }

  /** The counterparty asked about `contractId`: if its step waits on the mirror, try again now (the paper's step 2). */
  nudge(contractId: Hex): void {
    for (const step of ["precommit", "terminate"] as const) {
      const entry = this.#steps.get(`${contractId}:${step}`);
      if (entry !== undefined) entry.nextAttempt = this.#o.clock.now();
    }
  }

  async #advance(task: Task, head: bigint): Promise<void> {
    const { client, gateway } = this.#o;
    const [status] = await client.readContract({ address: gateway, abi: gatewayAbi, functionName: "recordOf", args: [task.contractId] });
    const state = STATE_OF[status];
    if (state !== undefined && state !== task.state) {
      this.#o.store.setTaskState(task.contractId, state);
      this.#o.onEvent({ type: "task-state", contractId: task.contractId, state });
    }
    let step: Step | undefined;
    if (status === Status.Registered) step = head > task.h1 ? "cancel" : "precommit";
    else if (status === Status.Committed && head > task.h1) step = "terminate";
    if (step === undefined) return;

    const key = `${task.contractId}:${step}`;
    if (!this.#myTurn(key)) return;
    try {
      const outcome = await this.#run(task, step, key);
      if (outcome === undefined) return;
      this.#steps.delete(key);
      this.#o.onEvent({ type: "step-sent", contractId: task.contractId, step, outcome });
    } catch (error) {
      this.#o.onEvent({ type: "step-failed", contractId: task.contractId, step, error: (error as Error).message.split("\n")[0]! });
    }
  }

  /** Rank of this node for the step; it acts once `rank × takeoverMs` passed since the step became ready. */
  #myTurn(key: string): boolean {
    const now = this.#o.clock.now();
    let entry = this.#steps.get(key);
    if (entry === undefined) this.#steps.set(key, (entry = { readyAt: now, nextAttempt: now, delay: this.#o.retryMs }));
    const q = this.#o.members.length;
    const designated = this.#o.members.indexOf(designatedFor(key, this.#o.members));
    const index = this.#o.members.findIndex((m) => m.toLowerCase() === this.#o.self.toLowerCase());
    const rank = (index - designated + q) % q;
    if (now < entry.readyAt + rank * this.#o.takeoverMs || now < entry.nextAttempt) return false;
    entry.nextAttempt = now + entry.delay;
    entry.delay = Math.min(entry.delay * 2, this.#o.retryMs * 16);
    return true;
  }

  async #run(task: Task, step: Step, key: string) {
    const { sender, gateway } = this.#o;
    if (step === "cancel") {
      return sender.send({ key, address: gateway, abi: gatewayAbi, functionName: "cancel", args: [task.contractId], doneErrors: ["GatewayWrongStatus"] });
    }
    let proof = EMPTY_PROOF;
    // A contract with a frozen counterparty is refunded at terminate without a proof.
    const frozen = step === "terminate" && (await this.#o.client.readContract({ address: this.#o.registry, abi: registryAbi, functionName: "isFrozen", args: [task.counterparty] }));
    if (!frozen) {
      const mirror = await this.#askMirror(task, step === "terminate" ? task.h2 : 0n);
      if (step === "precommit" && mirror.status !== Status.Registered && mirror.status !== Status.Committed) return undefined;
      proof = mirror.proof;
    }
    return sender.send({ key, address: gateway, abi: gatewayAbi, functionName: step, args: [task.contractId, proof], doneErrors: ["GatewayWrongStatus"] });
  }

  /** check(mirrorId) on the counterparty, through the request channel, believed only once verified. */
  async #askMirror(task: Task, minHeight: bigint): Promise<{ status: number; proof: StorageProof }> {
    const { client, registry } = this.#o;
    const stored = await client.readContract({ address: registry, abi: registryAbi, functionName: "latestView", args: [task.counterparty] });
    const known: View = { ...stored, hashes: [...stored.hashes] };
    return this.#o.channel.ask({
      chainId: task.counterparty,
      contractId: task.mirrorId,
      knownHeight: known.height,
      minHeight,
      verify: (answer) => this.#verify(task, known, minHeight, answer),
    });
  }

  /**
   * An answer is believed when its views carry the counterparty committee's threshold signatures and
   * connect to the view this chain's registry holds, its header is the newest view's block, and the
   * Gateway itself reads the mirror record out of the proof (after the views are on chain).
   */
  async #verify(task: Task, known: View, minHeight: bigint, answer: Answer): Promise<{ status: number; proof: StorageProof }> {
    const committee = this.#o.committees.get(task.counterparty);
    if (committee === undefined) throw new Error(`no committee configured for chain ${task.counterparty}`);
    await checkAnswerViews({ answer, chainId: task.counterparty, committee, known, minHeight, verify: verifySignedView, onVerified: (view, signatures) => this.#o.onVerifiedView(view, [...signatures]) });
    for (const signed of answer.views) {
      const view = fromWireView(signed.view);
      if (view.height <= known.height) continue;
      const outcome = await this.#o.sender.send({
        key: `view:${view.chainId}:${view.height}`,
        address: this.#o.registry,
        abi: registryAbi,
        functionName: "submitView",
        args: [view, signed.signatures],
        doneErrors: ["ViewRegistryStaleView"],
      });
      if (outcome === "landed") this.#o.onEvent({ type: "view-submitted", chainId: view.chainId, height: view.height });
    }
    const proof = answer.proof;
    const [status] = await this.#o.client.readContract({ address: this.#o.gateway, abi: gatewayAbi, functionName: "provenMirror", args: [task.contractId, proof] });
    return { status, proof };
  }
}
