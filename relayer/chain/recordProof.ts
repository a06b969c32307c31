import { toHex, type Address, type Hex, type PublicClient } from "viem";
import { encodeBlockHeader, type RpcBlock } from "./blockHeader.js";

/**
 * The counterparty block a Gateway batch is proven at (IGateway.HeaderProof): its RLP header, the accumulator through the
 * block before it (so the registry's one word for the accepted view at that height proves the header), and the account
 * proof of the counterparty's Gateway.
 */
export type HeaderProof = { header: Hex; accBefore: Hex; accountProof: Hex[] };

/** One header proof and one storage proof per slot, in the order of the slots asked for. */
export type RecordProofs = { at: HeaderProof; storageProofs: Hex[][] };

/** What a batch step takes when no item needs a proof (a frozen counterparty's undecidable contracts). */
export const NO_HEADER_PROOF: HeaderProof = { header: "0x", accBefore: `0x${"00".repeat(32)}`, accountProof: [] };

export type GetRecordProofsParameters = {
  client: PublicClient;
  /** The Gateway whose record words are proven. */
  address: Address;
  slots: readonly Hex[];
  blockNumber: bigint;
  /** The accumulator through `blockNumber - 1` (accBeforeHead of the accepted view whose newest block is `blockNumber`). */
  accBefore: Hex;
};

/** Proofs of `slots` of `address` at `blockNumber` from one `eth_getProof`, with the block's header RLP. */
export async function getRecordProofs({ client, address, slots, blockNumber, accBefore }: GetRecordProofsParameters): Promise<RecordProofs> {
  const [block, proof] = await Promise.all([
    client.request({ method: "eth_getBlockByNumber", params: [toHex(blockNumber), false] }) as Promise<RpcBlock | null>,
    client.getProof({ address, storageKeys: [...slots], blockNumber }),
  ]);
  if (block === null) throw new Error(`block ${blockNumber} not found`);
  if (proof.storageProof.length !== slots.length) throw new Error(`eth_getProof returned ${proof.storageProof.length} storage proofs for ${slots.length} slots`);
  return {
    at: { header: encodeBlockHeader(block), accBefore, accountProof: proof.accountProof },
    storageProofs: proof.storageProof.map((p) => p.proof),
  };
}
