import { LRUCache } from "lru-cache";
import type { Address, Hex, PublicClient } from "viem";
import type { View } from "../view/view.js";
import { registryAbi } from "./abis.js";
import { RelayerError } from "../util/relayerError.js";

/** A view a ViewRegistry accepted, with its signatures and the word it stored for it. */
export type AcceptedView = { view: View; signatures: Hex[]; accThrough: Hex; blockNumber: bigint };

export class AcceptedViewNotFoundError extends RelayerError {
  constructor(readonly chainId: bigint, readonly height: bigint) {
    super(`no ViewAccepted event for chain ${chainId} at height ${height}`);
  }
}

export type GetAcceptedViewParameters = {
  client: PublicClient;
  registry: Address;
  chainId: bigint;
  height: bigint;
  /** First block to search; default 0. */
  fromBlock?: bigint;
};

/**
 * The view of `chainId` that `registry` accepted at `height`, read from its ViewAccepted event (both are indexed, so
 * the node filters it by topic). A height is accepted once, so there is one such event. With the view, a relayer folds
 * the accumulator before the view's newest block (accBeforeHead): what a header proof at that height needs once no
 * newer view can be added (a frozen chain).
 */
export async function getAcceptedView({ client, registry, chainId, height, fromBlock = 0n }: GetAcceptedViewParameters): Promise<AcceptedView> {
  const logs = await client.getContractEvents({ address: registry, abi: registryAbi, eventName: "ViewAccepted", args: { chainId, height }, fromBlock, toBlock: "latest" });
  const log = logs.find((l) => l.args.chainId === chainId && l.args.height === height);
  if (log === undefined) throw new AcceptedViewNotFoundError(chainId, height);
  const view = log.args.view_!;
  return { view: { ...view, hashes: [...view.hashes] }, signatures: [...log.args.signatures!], accThrough: log.args.accThrough!, blockNumber: log.blockNumber };
}

export type AcceptedViewsParameters = {
  client: PublicClient;
  registry: Address;
  /** How many accepted views are kept (the least recently used go first); default 256. */
  max?: number;
};

/**
 * The views a registry accepted, each read from its ViewAccepted event once: a height is accepted once and its view
 * never changes, so a node that asks about the same accepted height tick after tick (every step and refresh believes
 * its answer against that view) reads the event a single time. Concurrent reads of one height share one request; a
 * failed read is forgotten, so the next one tries again.
 */
export class AcceptedViews {
  readonly #p: AcceptedViewsParameters;
  readonly #views: LRUCache<string, Promise<AcceptedView>>;

  constructor(parameters: AcceptedViewsParameters) {
    this.#p = parameters;
    this.#views = new LRUCache({ max: parameters.max ?? 256 });
  }

  get(chainId: bigint, height: bigint): Promise<AcceptedView> {
    const key = `${chainId}:${height}`;
    const cached = this.#views.get(key);
    if (cached !== undefined) return cached;
    const view = getAcceptedView({ client: this.#p.client, registry: this.#p.registry, chainId, height });
    this.#views.set(key, view);
    view.catch(() => {
      if (this.#views.get(key) === view) this.#views.delete(key);
    });
    return view;
  }
}
