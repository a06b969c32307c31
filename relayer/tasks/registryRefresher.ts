import { gatewayAbi, registryAbi, UpdateResult } from "../chain/abis.js";
import { defaultRefreshBlocks } from "../config/nodeConfig.js";
import type { Answer } from "../net/message.js";
import type { AnswerBasis, CheckedAnswer } from "./checkAnswer.js";
import { shortMessage } from "../util/shortMessage.js";
import { rankFor } from "./stepSchedule.js";
import { believeAnswer, type CommitteeWork } from "./taskRunner.js";

export type RegistryRefresherOptions = CommitteeWork & {
  /** The height of the newest verified view of `chainId` this node knows (its view list), if any. */
  newestKnown: (chainId: bigint) => bigint | undefined;
  /** NodeConfig.refreshBlocks; unset: defaultRefreshBlocks of the Gateway's maxLifetime (read once from `gateway`). */
  refreshBlocks?: number;
};

/** The key that names a refresh of chain `chainId` from the registry's accepted height `latest`: whose turn, which transaction. */
export function refreshKey(chainId: bigint, latest: bigint): string {
  return `refresh:${chainId}:${latest}`;
}

/**
 * Keeps this chain's ViewRegistry's views of the other chains fresh when no swap posts them: the Gateway refuses an
 * expiry h2 past the counterparty's accepted height + maxLifetime, so a registry that only moves with precommit and
 * terminate transactions would, after a quiet spell, refuse every new swap with that chain. When the registry's newest
 * view of a chain X is more than `refreshBlocks` behind the newest view of X this node knows, the member designated for
 * refreshKey(X, accepted height) (the next in rank after `takeoverMs`, as for steps) asks X's nodes for their newest
 * view and bridge (a request with no contract ids), believes the answer by the same rule as a step's (checkAnswer: X's
 * committee signatures, the registry's connect rule), and posts it with one submitView, however far behind it was.
 */
export class RegistryRefresher {
  readonly #o: RegistryRefresherOptions;
  #refreshBlocks: bigint | undefined;
  /** The registry's accepted height of each chain when last read: it only grows, so it spares a read while nothing is due. */
  readonly #accepted = new Map<bigint, bigint>();
  /** Chains frozen on this registry: it takes no view of them any more. */
  readonly #frozen = new Set<bigint>();
  /** chainId → the refresh due (its key), when this node first saw it due, and when it may try next. */
  readonly #due = new Map<bigint, { key: string; readyAt: number; nextAttempt: number; delay: number }>();

  constructor(options: RegistryRefresherOptions) {
    this.#o = options;
    if (options.refreshBlocks !== undefined) this.#refreshBlocks = BigInt(options.refreshBlocks);
  }

  /** The threshold in use: the configured one, or the Gateway's maxLifetime / 4 once read (undefined before). */
  get refreshBlocks(): bigint | undefined {
    return this.#refreshBlocks;
  }

  /** Whether a refresh is due and waits for its turn (which comes with time, not with blocks). */
  get due(): boolean {
    return this.#due.size > 0;
  }

  /** Refreshes, if due and this node's turn, the registry's view of every other chain once. */
  async tick(): Promise<void> {
    const threshold = await this.#threshold();
    for (const chainId of this.#o.committees.keys()) {
      if (chainId === this.#o.chainId || this.#frozen.has(chainId)) continue;
      const newest = this.#o.newestKnown(chainId);
      const accepted = this.#accepted.get(chainId);
      if (newest === undefined || (accepted !== undefined && newest - accepted <= threshold)) {
        this.#due.delete(chainId);
        continue;
      }
      try {
        await this.#refresh(chainId, newest, threshold);
      } catch (error) {
        this.#o.onEvent({ type: "refresh-failed", chainId, error: shortMessage(error) });
      }
    }
  }

  async #threshold(): Promise<bigint> {
    if (this.#refreshBlocks === undefined) {
      const maxLifetime = await this.#o.client.readContract({ address: this.#o.gateway, abi: gatewayAbi, functionName: "maxLifetime" });
      this.#refreshBlocks = BigInt(defaultRefreshBlocks(maxLifetime));
    }
    return this.#refreshBlocks;
  }

  async #refresh(chainId: bigint, newest: bigint, threshold: bigint): Promise<void> {
    const { client, registry, sender } = this.#o;
    // While a refresh is due and it is not this node's turn, the registry is not read again: each read would only tell
    // what the last one did, until the turn comes (then it is read, as another node may have refreshed meanwhile).
    const cached = this.#accepted.get(chainId);
    if (cached !== undefined && !this.#myTurn(chainId, refreshKey(chainId, cached), { peek: true })) return;
    const counterparty = await client.readContract({ address: registry, abi: registryAbi, functionName: "counterparty", args: [chainId] });
    this.#accepted.set(chainId, counterparty.height);
    // A frozen chain takes no view any more (its views are fork evidence at most, which the node posts elsewhere).
    if (counterparty.frozen) this.#frozen.add(chainId);
    if (counterparty.frozen || newest - counterparty.height <= threshold) {
      this.#due.delete(chainId);
      return;
    }
    const knownHeight = counterparty.height;
    const key = refreshKey(chainId, knownHeight);
    if (!this.#myTurn(chainId, key)) return;
    const { view, signatures, accThrough: stored } = await this.#o.acceptedViews.get(chainId, knownHeight);
    // Worth a transaction only if it moves the registry by more than the threshold; the view list says such a view exists.
    const minHeight = knownHeight + threshold + 1n;
    const basis: AnswerBasis = { kind: "newest", knownHeight, stored, minHeight, accepted: { view, signatures } };
    const checked = await this.#o.channel.ask({ chainId, contractIds: [], knownHeight, minHeight, verify: (answer) => this.#verify(chainId, answer, basis) });
    const post = checked.post!; // defined: the answer's view is above knownHeight
    const args = [post.view, post.signatures, post.bridge] as const;
    // Another node (or a step) may have moved the registry meanwhile: a view no longer newer would be a NoOp, not worth its gas.
    const { result } = await client.simulateContract({ account: this.#o.self, address: registry, abi: registryAbi, functionName: "submitView", args });
    if (result === UpdateResult.NoOp) return;
    const outcome = await sender.send({
      key,
      address: registry,
      abi: registryAbi,
      functionName: "submitView",
      args,
      // A bridge that no longer fits means a newer view landed since the registry was read: nothing left to do for this key.
      doneErrors: ["ViewRegistryChainFrozen", "ViewRegistryBridgeMismatch"],
    });
    this.#due.delete(chainId);
    this.#accepted.delete(chainId); // read it again next time
    this.#o.onEvent({ type: "registry-refreshed", chainId, height: post.view.height, bridged: post.bridge.length, outcome });
  }

  /**
   * Whether this node acts on the refresh now: its rank for the key, counted from when it first saw the refresh due (a
   * new accepted height is a new key, and restarts the clock), and its own backoff between attempts. An attempt starts
   * the backoff; a `peek` only asks.
   */
  #myTurn(chainId: bigint, key: string, { peek = false }: { peek?: boolean } = {}): boolean {
    const now = this.#o.clock.now();
    let entry = this.#due.get(chainId);
    if (entry === undefined || entry.key !== key) this.#due.set(chainId, (entry = { key, readyAt: now, nextAttempt: now, delay: this.#o.retryMs }));
    const rank = rankFor(key, this.#o.members, this.#o.self);
    if (now < entry.readyAt + rank * this.#o.takeoverMs || now < entry.nextAttempt) return false;
    if (peek) return true;
    entry.nextAttempt = now + entry.delay;
    entry.delay = Math.min(entry.delay * 2, this.#o.retryMs * 16);
    return true;
  }

  /** checkAnswer with no contract: X's committee signed the view, it connects to the registry's, and is at minHeight or later. */
  #verify(chainId: bigint, answer: Answer, basis: AnswerBasis): Promise<CheckedAnswer> {
    return believeAnswer(this.#o, { chainId, basis, answer, contracts: 0 });
  }
}
