import type { Address, Hex, PublicClient } from "viem";
import { getRecordProofs } from "../chain/recordProof.js";
import { recordSlot } from "../chain/recordSlot.js";
import { MAX_BRIDGE, MAX_CONTRACTS_PER_REQUEST, type Reply, type Request } from "../net/message.js";
import type { Store } from "../store/store.js";
import { ZERO_HASH } from "../view/view.js";

export type ServeCheckParameters = {
  request: Request;
  chainId: bigint;
  client: PublicClient;
  gateway: Address;
  store: Store;
  /** Longest bridge served; a requester further behind gets an answer-error. Default MAX_BRIDGE. */
  maxBridge?: number;
  /**
   * Asks the committee for a fresh certified view, at `minHeight` or later, and resolves once it is stored (true) or not
   * in time (false): views are certified when a check() needs them, not every block. Whatever it resolves, the answer
   * carries the newest certified view the store then holds.
   */
  certify?: (minHeight: bigint) => Promise<boolean>;
};

/**
 * Why a request cannot be served as asked, before anything is read from the chain; undefined when it can. The request
 * is a decoded one (`decodeMessage`: its ids, heights and the number of its ids are within their bounds, or the
 * simulator built it); what is left is whether it is for this chain and whether it asks for anything. One with no
 * contract ids is a registry refresh, which asks for a view above the requester's known height and never at an
 * accepted height (there is nothing to prove there without contracts).
 */
export function requestProblem(request: Request, chainId: bigint): string | undefined {
  if (BigInt(request.chainId) !== chainId) return `this node serves chain ${chainId}`;
  if (request.contractIds.length === 0) {
    if (request.atHeight !== undefined) return `a request at an accepted height names 1 to ${MAX_CONTRACTS_PER_REQUEST} contract ids`;
    if (BigInt(request.minHeight) <= BigInt(request.knownHeight)) return "a request with no contract ids asks for a view above its known height, and this one asks for nothing";
  }
  return undefined;
}

/**
 * The bridge of an answer: the block hashes of heights knownHeight + 1 .. start − 1 (empty when they meet), or why not.
 * `hashes(from, to)` gives the chain's block hashes of that range, in order, as far as known; `keptFrom` is the lowest
 * height the server still keeps (its retention window): a bridge from below it is refused as "too old" before anything
 * is read, rather than walked or failed with a missing hash.
 */
export function bridgeFor({ chainId, knownHeight, start, maxBridge, keptFrom, hashes }: {
  chainId: bigint;
  knownHeight: bigint;
  start: bigint;
  maxBridge: number;
  keptFrom: bigint;
  hashes: (from: bigint, to: bigint) => Hex[];
}): { bridge: Hex[] } | { error: string } {
  if (start <= knownHeight + 1n) return { bridge: [] };
  if (knownHeight + 1n < keptFrom) return { error: `too old: this node keeps chain ${chainId} from height ${keptFrom}` };
  const length = start - 1n - knownHeight;
  if (length > BigInt(maxBridge)) return { error: `the requester is ${length} blocks behind the newest view: more than ${maxBridge} to bridge` };
  const bridge = hashes(knownHeight + 1n, start - 1n);
  if (BigInt(bridge.length) !== length) return { error: `block hashes of ${knownHeight + 1n}..${start - 1n} are not all known here` };
  return { bridge };
}

/**
 * Answers check() of some of this node's chain's contracts: the records' storage proofs from one eth_getProof at the
 * newest certified view, with that view and the bridge of block hashes that connects the requester's registry to it.
 * With `atHeight` the proof is taken at exactly that block (an accepted one at the requester), without a view. With no
 * contract ids (a registry refresh) the answer is the same without storage proofs: the view, its bridge and its header.
 */
export async function serveCheck({ request, chainId, client, gateway, store, maxBridge = MAX_BRIDGE, certify }: ServeCheckParameters): Promise<Reply> {
  const error = (reason: string): Reply => ({ kind: "answer-error", requestId: request.requestId, reason });
  const problem = requestProblem(request, chainId);
  if (problem !== undefined) return error(problem);
  const slots = request.contractIds.map(recordSlot);

  if (request.atHeight !== undefined) {
    const at = BigInt(request.atHeight);
    const certified = store.latestSignedView(chainId);
    if (certified === undefined || at > certified.height) return error(`height ${at} is not certified here yet`);
    const { at: header, storageProofs } = await getRecordProofs({ client, address: gateway, slots, blockNumber: at, accBefore: ZERO_HASH });
    return { kind: "answer", requestId: request.requestId, height: at.toString(), proof: { header: header.header, accountProof: header.accountProof, storageProofs } };
  }

  const minHeight = BigInt(request.minHeight);
  await certify?.(minHeight);
  const latest = store.latestSignedView(chainId);
  if (latest === undefined || latest.height < minHeight) return error("no certified view reaches the requested height yet");
  const knownHeight = BigInt(request.knownHeight);
  if (knownHeight > latest.height) return error(`the newest certified view here (${latest.height}) is below the requester's known height ${knownHeight}`);
  const start = latest.height + 1n - BigInt(latest.view.hashes.length);
  const bridged = bridgeFor({ chainId, knownHeight, start, maxBridge, keptFrom: store.keptFrom(chainId), hashes: (from, to) => store.blockHashes(from, to) });
  if ("error" in bridged) return error(bridged.error);
  const { at, storageProofs } = await getRecordProofs({ client, address: gateway, slots, blockNumber: latest.height, accBefore: ZERO_HASH });
  return {
    kind: "answer",
    requestId: request.requestId,
    height: latest.height.toString(),
    proof: { header: at.header, accountProof: at.accountProof, storageProofs },
    view: { view: latest.view, signatures: latest.signatures },
    bridge: bridged.bridge,
  };
}
