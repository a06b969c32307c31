import type { Address, PublicClient } from "viem";
import { gatewayAbi, Status } from "../chain/abis.js";
import { getStorageProof } from "../chain/recordProof.js";
import { recordSlot } from "../chain/recordSlot.js";
import type { Message, WireSignedView } from "../net/message.js";
import type { Store } from "../store/store.js";

type Request = Extract<Message, { kind: "request" }>;
type Reply = Extract<Message, { kind: "answer" | "answer-error" }>;

export type ServeCheckParameters = {
  request: Request;
  chainId: bigint;
  k: number;
  client: PublicClient;
  gateway: Address;
  store: Store;
};

/**
 * Answers check(contractId) for this node's own chain: the record's storage proof at the newest
 * certified view, with the certified views that connect the requester's known height to it (each at
 * most k ahead of the previous one, so the requester's registry can accept them in turn).
 */
export async function serveCheck({ request, chainId, k, client, gateway, store }: ServeCheckParameters): Promise<Reply> {
  const error = (reason: string): Reply => ({ kind: "answer-error", requestId: request.requestId, reason });
  if (BigInt(request.chainId) !== chainId) return error(`this node serves chain ${chainId}`);
  const latest = store.latestSignedView(chainId);
  if (latest === undefined || latest.height < BigInt(request.minHeight)) return error("no certified view reaches the requested height yet");
  const [status] = await client.readContract({ address: gateway, abi: gatewayAbi, functionName: "recordOf", args: [request.contractId], blockNumber: latest.height });
  if (status === Status.None) return error("not registered");

  const views: WireSignedView[] = [];
  let known = BigInt(request.knownHeight);
  while (known + BigInt(k) < latest.height) {
    const step = store.signedViewsBetween(chainId, known, known + BigInt(k)).at(-1);
    if (step === undefined) return error(`no certified view between ${known} and ${known + BigInt(k)}`);
    views.push({ view: step.view, signatures: step.signatures });
    known = step.height;
  }
  views.push({ view: latest.view, signatures: latest.signatures });
  const proof = await getStorageProof({ client, address: gateway, slot: recordSlot(request.contractId), blockNumber: latest.height });
  return { kind: "answer", requestId: request.requestId, views, height: latest.height.toString(), proof };
}
