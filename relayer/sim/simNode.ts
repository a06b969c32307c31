import type { Address, Hex } from "viem";
import type { Clock } from "../clock.js";
import { GossipOverlay, type GossipOptions } from "../gossip/gossipOverlay.js";
import { ViewList, type SignedView } from "../gossip/viewList.js";
import { MemoryTransport, type MemoryHub } from "../net/memoryTransport.js";
import type { Message, WireSignedView } from "../net/message.js";
import { RequestChannel, type RemoteSystem } from "../net/requestChannel.js";
import { checkAnswerViews } from "../tasks/checkAnswerViews.js";
import type { View } from "../view/view.js";
import { toWireView } from "../view/wireView.js";
import type { SignatureCache } from "./signatureCache.js";
import { readRecordProof, recordProof, type RecordState, type SyntheticSystem } from "./syntheticSystem.js";

type Request = Extract<Message, { kind: "request" }>;
type Answer = Extract<Message, { kind: "answer" }>;
type Reply = Answer | Extract<Message, { kind: "answer-error" }>;

export type GossipTuning = Pick<GossipOptions, "sendRate" | "pacemakerBlocks" | "maxPerPeerPerSecond" | "maxStrikes">;

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
  /** A check() request for one of this chain's contracts reached this node: the counterparty is at work on it. */
  onRequest: (contractId: Hex, node: SimNode) => void;
  /** A message the overlay or the channel refused, by reason (the slower of a request's two answers is one), or fork evidence. */
  onIncident: (what: string) => void;
};

const toWire = (signed: SignedView): WireSignedView => ({ view: toWireView(signed.view), signatures: signed.signatures });

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
    this.#transport.onMessage(({ from, message }) => void this.#onMessage(from, message));
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
  }

  /**
   * check(contractId) on `target` over the request channel, believed the way TaskRunner believes an
   * answer: every view carries the target committee's threshold signatures and connects to what this node
   * knows of the target, the header is the newest view's block; the record is what the proof shows.
   */
  check({ target, contractId, minHeight }: { target: SyntheticSystem; contractId: Hex; minHeight: number }): Promise<RecordState> {
    const known = this.viewList.newest(target.chainId)?.view;
    return this.#channel.ask({
      chainId: target.chainId,
      contractId,
      knownHeight: known?.height ?? 0n,
      minHeight: BigInt(minHeight),
      verify: (answer) => this.#verify(target, known, BigInt(minHeight), answer),
    });
  }

  async #verify(target: SyntheticSystem, known: View | undefined, minHeight: bigint, answer: Answer): Promise<RecordState> {
    await checkAnswerViews({
      answer,
      chainId: target.chainId,
      committee: target.committee,
      known,
      minHeight,
      verify: this.#o.cache.verify,
      onVerified: (view, signatures) => this.#gossip.learn({ view, signatures: [...signatures] }),
    });
    return readRecordProof(answer.proof.storageProof);
  }

  /** serveCheck over the synthetic chain: the record at the newest certified view, with the views that connect the requester to it. */
  async #serve(request: Request): Promise<Reply> {
    const error = (reason: string): Reply => ({ kind: "answer-error", requestId: request.requestId, reason });
    const system = this.system;
    if (BigInt(request.chainId) !== system.chainId) return error(`this node serves chain ${system.chainId}`);
    const latest = system.certifiedHeight(system.height);
    if (latest < Number(request.minHeight)) return error("no certified view reaches the requested height yet");
    const record = system.recordAt(request.contractId, latest);
    if (record.status === "none") return error("not registered");
    const views: WireSignedView[] = [];
    for (let known = Number(request.knownHeight); known + system.k < latest; ) {
      const step = system.certifiedHeight(known + system.k);
      views.push(toWire(await system.certify(step)));
      known = step;
    }
    views.push(toWire(await system.certify(latest)));
    return { kind: "answer", requestId: request.requestId, views, height: latest.toString(), proof: { header: system.header(latest), accountProof: [], storageProof: recordProof(record) } };
  }

  /** Certified views of this node's chain after `fromHeight`, at most k apart; what the view list keeps of others. */
  #viewsAfter(chainId: bigint, fromHeight: bigint): SignedView[] {
    if (chainId !== this.system.chainId) return this.viewList.after(chainId, fromHeight);
    const views: SignedView[] = [];
    const latest = this.system.certifiedHeight(this.system.height);
    for (let known = Number(fromHeight); known < latest; ) {
      const step = this.system.certifiedHeight(Math.min(known + this.system.k, latest));
      const signed = this.system.certified(step);
      if (signed === undefined || step <= known) break;
      views.push(signed);
      known = step;
    }
    return views;
  }

  #onMessage(from: Address, message: Message): Promise<void> {
    if (message.kind === "view-update" || message.kind === "view-pull" || message.kind === "evidence") return this.#gossip.handle(from, message);
    if (message.kind === "request" && BigInt(message.chainId) === this.system.chainId) this.#o.onRequest(message.contractId, this);
    return this.#channel.handle(from, message);
  }
}
