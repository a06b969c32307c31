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
import { checkAnswer, type AnswerBasis } from "../tasks/checkAnswer.js";
import { bridgeFor, requestProblem } from "../tasks/serveCheck.js";
import { certifiedPath } from "../view/certifiedPath.js";
import type { View } from "../view/view.js";
import type { SignatureCache } from "./signatureCache.js";
import { readRecordProof, recordProof, type RecordState, type SyntheticSystem } from "./syntheticSystem.js";

/** What a check() showed: the height of its proof, each contract's record, and the view the step would post with it (none when the registry has it). */
export type Checked = { height: number; records: RecordState[]; post: View | undefined };

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
  random: () => number;
  /** Every message the transport took from this node. */
  onSent: (message: Message, bytes: number) => void;
  /** Node `from` asked this node about one of this chain's contracts: the counterparty is at work on it. */
  onRequest: (contractId: Hex, from: Address) => void;
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
   * check() of `contractIds` on `target` in one request, as TaskRunner asks for a batch step. The answer is believed by
   * the node's own checkAnswer against this system's registry; the records are what the proofs show, with the view the
   * step would post. Rejects when no answer verified (RequestFailedError), or its height is below `minHeight`.
   */
  async check({ target, contractIds, minHeight }: { target: SyntheticSystem; contractIds: readonly Hex[]; minHeight: number }): Promise<Checked> {
    if (target.height < 0) throw new Error(`chain ${target.chainId} has no block yet`);
    const accepted = this.system.accepted(target);
    // The registry's accepted view with its signatures, as a node reads it from ViewAccepted: an answer that conflicts
    // with its window is fork evidence. A view the registry accepted was certified (and signed) before it was posted.
    const acceptedView = accepted.height > 0n ? target.certified(Number(accepted.height)) : undefined;
    const basis: AnswerBasis = { kind: "newest", knownHeight: accepted.height, stored: accepted.word, minHeight: BigInt(minHeight), ...(acceptedView && { accepted: acceptedView }) };
    const { checked, records } = await this.#channel.ask({
      chainId: target.chainId,
      contractIds: [...contractIds],
      knownHeight: accepted.height,
      minHeight: BigInt(minHeight),
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
    if (checked.height < BigInt(minHeight)) throw new Error(`answer at ${checked.height}, below ${minHeight}`);
    return { height: Number(checked.height), records, post: checked.post?.view };
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
      for (const contractId of message.contractIds.slice(0, MAX_CONTRACTS_PER_REQUEST)) this.#o.onRequest(contractId, from);
    }
    return this.#channel.handle(from, message);
  }
}
