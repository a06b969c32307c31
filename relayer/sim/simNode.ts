import type { Address, Hex } from "viem";
import type { Clock } from "../clock.js";
import { defaultRetentionBlocks } from "../config/nodeConfig.js";
import { GossipOverlay, type GossipOptions } from "../gossip/gossipOverlay.js";
import { ViewList } from "../gossip/viewList.js";
import { toWireSignedView, type SignedView } from "../view/signedView.js";
import { MemoryTransport, type MemoryHub } from "../net/memoryTransport.js";
import { MAX_BRIDGE, MAX_CONTRACTS_PER_REQUEST, MAX_VIEWS_PER_UPDATE, type Message, type Reply, type Request } from "../net/message.js";
import { RequestChannel, type RemoteSystem } from "../net/requestChannel.js";
import type { Delivery } from "../net/transport.js";
import { checkAnswer, type AnswerBasis, type CheckedAnswer } from "../tasks/checkAnswer.js";
import { bridgeFor, requestProblem } from "../tasks/serveCheck.js";
import { DEFAULT_BATCH_SIZE } from "../tasks/taskRunner.js";
import { certifiedPath } from "../view/certifiedPath.js";
import type { View } from "../view/view.js";
import type { SignatureCache } from "./signatureCache.js";
import { readRecordProof, recordProof, type RecordState, type SyntheticSystem } from "./syntheticSystem.js";

/** What a check() showed of one contract: its record, and the view the step would post with it (none when the registry has it). */
export type Checked = { record: RecordState; post: View | undefined };

type PendingCheck = { contractId: Hex; minHeight: bigint; resolve: (checked: Checked) => void; reject: (error: Error) => void };

export type GossipTuning = Pick<GossipOptions, "sendRate" | "pacemakerBlocks" | "roundBlocks" | "maxPerPeerPerSecond" | "maxStrikes" | "viewHeads">;

export type SimNodeParameters = {
  system: SyntheticSystem;
  address: Address;
  /** Every system of the network, this one included. */
  systems: readonly SyntheticSystem[];
  /** Every system's committee and r, as the overlay and the request channel take them. */
  remote: ReadonlyMap<bigint, RemoteSystem>;
  hub: MemoryHub;
  clock: Clock;
  cache: SignatureCache;
  gossip: GossipTuning;
  requestTimeoutMs: number;
  maxRequestsPerSecond: number;
  /** Checks of one step with one target asked within this many ms go in one request (the node's tick). */
  batchMs: number;
  random: () => number;
  /** Every message the transport took from this node. */
  onSent: (message: Message, bytes: number) => void;
  /** A check() request for one of this chain's contracts reached this node: the counterparty is at work on it. */
  onRequest: (contractId: Hex, node: SimNode) => void;
  /** A message the overlay or the channel refused, by reason (the slower of a request's two answers is one), or fork evidence. */
  onIncident: (what: string) => void;
};


/**
 * One relayer node of a simulated system, wired the way RelayerNode wires a real one, minus the chain
 * client: the same ViewList, GossipOverlay and RequestChannel over a MemoryTransport. Its chain is a
 * SyntheticSystem, so check() is answered from the synthetic records, and a certified view of its own
 * chain is learned at each block before the overlay's turn, as RelayerNode does.
 */
export class SimNode {
  readonly system: SyntheticSystem;
  readonly address: Address;
  readonly viewList: ViewList;
  readonly #o: SimNodeParameters;
  readonly #transport: MemoryTransport;
  readonly #gossip: GossipOverlay;
  readonly #channel: RequestChannel;
  /** `${target}:${step}` → the checks waiting to be sent together */
  readonly #batches = new Map<string, { target: SyntheticSystem; items: PendingCheck[] }>();
  /** check() answers waiting for this node's chain to reach their requests' minHeight. */
  #awaitingHeight: { minHeight: number; done: () => void }[] = [];
  #learned = -1;

  constructor(parameters: SimNodeParameters) {
    const { system, address, systems, remote, clock, cache, gossip, random } = parameters;
    this.#o = parameters;
    this.system = system;
    this.address = address;
    this.#transport = new MemoryTransport({ hub: parameters.hub, address });
    const send = (to: Address, message: Message): number => {
      const bytes = this.#transport.send(to, message);
      if (bytes > 0) parameters.onSent(message, bytes);
      return bytes;
    };
    this.viewList = new ViewList({ committees: new Map(systems.map((s) => [s.chainId, s.committee])), verify: cache.verify });
    this.#gossip = new GossipOverlay({
      chainId: system.chainId,
      self: address,
      viewList: this.viewList,
      systems: remote,
      clock,
      send,
      connected: () => this.#transport.connected(),
      ...gossip,
      viewsAfter: (chainId, fromHeight) => this.#viewsAfter(chainId, fromHeight),
      onEvidence: () => parameters.onIncident("fork evidence"),
      onRefused: (_from, reason) => parameters.onIncident(reason),
      random,
    });
    this.#channel = new RequestChannel({
      clock,
      timeoutMs: parameters.requestTimeoutMs,
      systems: new Map([...remote].filter(([chainId]) => chainId !== system.chainId)),
      send,
      serve: (request) => this.#serve(request),
      maxRequestsPerSecond: parameters.maxRequestsPerSecond,
      onRefused: (_from, reason) => parameters.onIncident(reason),
    });
    this.#transport.onMessage((delivery) => void this.#onMessage(delivery));
  }

  async start(): Promise<void> {
    await this.#transport.start();
  }

  /** A new block of this node's chain: learn the chain's newest certified view, then the overlay's turn. */
  async onBlock(height: number): Promise<void> {
    const certified = this.system.certifiedHeight(height);
    if (certified > this.#learned) {
      this.#learned = certified;
      await this.#gossip.learn(await this.system.certify(certified));
    }
    this.#gossip.onBlock(BigInt(height));
    for (const waiter of this.#awaitingHeight.filter((w) => height >= w.minHeight)) waiter.done();
  }

  /** Resolves once this node's chain reaches `minHeight`, or after `timeoutMs`, whichever comes first. */
  #reach(minHeight: number, timeoutMs: number): Promise<void> {
    if (this.system.height >= minHeight) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiter = {
        minHeight,
        done: () => {
          cancel();
          this.#awaitingHeight = this.#awaitingHeight.filter((w) => w !== waiter);
          resolve();
        },
      };
      const cancel = this.#o.clock.setTimeout(waiter.done, timeoutMs);
      this.#awaitingHeight.push(waiter);
    });
  }

  /**
   * check() of `contractId` on `target`, batched the way TaskRunner batches a tick's due steps: every check of one step
   * with one target that this node is asked for within `batchMs` goes in one request (at most DEFAULT_BATCH_SIZE
   * contracts). The answer is believed by the node's own checkAnswer against this system's registry; the record is what
   * the proof shows, with the view the step would post. Rejects when no answer verified, or its height is below `minHeight`.
   */
  check({ target, contractId, step, minHeight }: { target: SyntheticSystem; contractId: Hex; step: "precommit" | "terminate"; minHeight: number }): Promise<Checked> {
    return new Promise<Checked>((resolve, reject) => {
      const key = `${target.chainId}:${step}`;
      let batch = this.#batches.get(key);
      if (batch === undefined) {
        this.#batches.set(key, (batch = { target, items: [] }));
        this.#o.clock.setTimeout(() => void this.#flush(key), this.#o.batchMs);
      }
      batch.items.push({ contractId, minHeight: BigInt(minHeight), resolve, reject });
    });
  }

  #flush(key: string): void {
    const batch = this.#batches.get(key);
    this.#batches.delete(key);
    if (batch === undefined) return;
    for (let i = 0; i < batch.items.length; i += DEFAULT_BATCH_SIZE) void this.#ask(batch.target, batch.items.slice(i, i + DEFAULT_BATCH_SIZE));
  }

  async #ask(target: SyntheticSystem, items: PendingCheck[]): Promise<void> {
    if (target.height < 0) {
      for (const item of items) item.reject(new Error(`chain ${target.chainId} has no block yet`));
      return;
    }
    const accepted = this.system.accepted(target);
    const minHeight = items.reduce((min, item) => (item.minHeight < min ? item.minHeight : min), items[0]!.minHeight);
    // The registry's accepted view with its signatures, as a node reads it from ViewAccepted: an answer that conflicts
    // with its window is fork evidence. A view the registry accepted was certified (and signed) before it was posted.
    const acceptedView = accepted.height > 0n ? target.certified(Number(accepted.height)) : undefined;
    const basis: AnswerBasis = { kind: "newest", knownHeight: accepted.height, stored: accepted.word, minHeight, ...(acceptedView && { accepted: acceptedView }) };
    const contractIds = items.map((item) => item.contractId);
    let believed: { checked: CheckedAnswer; records: RecordState[] };
    try {
      believed = await this.#channel.ask({
        chainId: target.chainId,
        contractIds,
        knownHeight: accepted.height,
        minHeight,
        verify: async (answer) => {
          const checked = await checkAnswer({
            answer,
            chainId: target.chainId,
            committee: target.committee,
            basis,
            contracts: contractIds.length,
            verify: this.#o.cache.verify,
            onVerified: (signed) => this.#gossip.learn(signed),
          });
          return { checked, records: checked.storageProofs.map(readRecordProof) };
        },
      });
    } catch (error) {
      for (const item of items) item.reject(error as Error);
      return;
    }
    const { checked, records } = believed;
    items.forEach((item, i) => {
      if (checked.height < item.minHeight) item.reject(new Error(`answer at ${checked.height}, below ${item.minHeight}`));
      else item.resolve({ record: records[i]!, post: checked.post?.view });
    });
  }

  /** serveCheck over the synthetic chain: the records at the head, certified for the answer, with that view and the bridge to it. */
  async #serve(request: Request): Promise<Reply> {
    const error = (reason: string): Reply => ({ kind: "answer-error", requestId: request.requestId, reason });
    const system = this.system;
    const problem = requestProblem(request, system.chainId);
    if (problem !== undefined) return error(problem);
    const proofAt = (height: number) => ({
      header: system.header(height),
      accountProof: [],
      storageProofs: request.contractIds.map((id) => recordProof(system.recordAt(id, height))),
    });
    if (request.atHeight !== undefined) {
      const at = Number(request.atHeight);
      if (at > system.certifiedHeight(system.height)) return error(`height ${at} is not certified here yet`);
      return { kind: "answer", requestId: request.requestId, height: at.toString(), proof: proofAt(at) };
    }
    // As the node's serveCheck asks Cosigner.certify: the head is certified for the answer, once the chain reaches the
    // asked height, waiting for it at most a quarter of the requester's patience.
    const minHeight = Number(request.minHeight);
    await this.#reach(minHeight, this.#o.requestTimeoutMs / 4);
    const latest = system.height >= minHeight ? system.demand() : system.certifiedHeight(system.height);
    if (latest < minHeight) return error("no certified view reaches the requested height yet");
    const knownHeight = BigInt(request.knownHeight);
    if (knownHeight > BigInt(latest)) return error(`the newest certified view here (${latest}) is below the requester's known height ${knownHeight}`);
    const signed = await system.certify(latest);
    const bridged = bridgeFor({
      chainId: system.chainId,
      knownHeight,
      start: BigInt(latest + 1 - signed.view.hashes.length),
      maxBridge: MAX_BRIDGE,
      keptFrom: this.#keptFrom(),
      hashes: (from, to) => system.blockHashes(Number(from), Number(to)),
    });
    if ("error" in bridged) return error(bridged.error);
    return { kind: "answer", requestId: request.requestId, height: latest.toString(), proof: proofAt(latest), view: toWireSignedView(signed), bridge: bridged.bridge };
  }

  /**
   * The certified path of this node's chain after `fromHeight` (the node's certifiedPath, over the views already signed);
   * what the view list keeps of others.
   */
  #viewsAfter(chainId: bigint, fromHeight: bigint): SignedView[] {
    if (chainId !== this.system.chainId) return this.viewList.after(chainId, fromHeight);
    const latest = this.system.certifiedHeight(this.system.height);
    const path = certifiedPath({
      fromHeight,
      k: this.system.k,
      limit: MAX_VIEWS_PER_UPDATE,
      keptFrom: this.#keptFrom(),
      newestWithin: (fromExclusive, toInclusive) => {
        const height = this.system.certifiedHeight(Math.min(Number(toInclusive), latest));
        const signed = height > Number(fromExclusive) ? this.system.certified(height) : undefined;
        return signed === undefined ? undefined : { height: BigInt(height), signed };
      },
    });
    return path.map(({ signed }) => signed);
  }

  /**
   * The lowest height a node of this system keeps, with the default retention window. A node prunes every
   * PRUNE_EVERY_BLOCKS blocks and so keeps up to that many more: the simulation answers as one that has just pruned.
   */
  #keptFrom(): bigint {
    return BigInt(Math.max(0, this.system.certifiedHeight(this.system.height) - defaultRetentionBlocks(this.system.k)));
  }

  #onMessage({ from, message, text }: Delivery): Promise<void> {
    if (message.kind === "view-update" || message.kind === "view-pull" || message.kind === "evidence") return this.#gossip.handle(from, message, text);
    if (message.kind === "request" && BigInt(message.chainId) === this.system.chainId && Array.isArray(message.contractIds)) {
      for (const contractId of message.contractIds.slice(0, MAX_CONTRACTS_PER_REQUEST)) this.#o.onRequest(contractId, this);
    }
    return this.#channel.handle(from, message);
  }
}
