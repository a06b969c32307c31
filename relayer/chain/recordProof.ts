import { toHex, type Address, type Hex, type PublicClient } from "viem";
import { encodeBlockHeader, type RpcBlock } from "./blockHeader.js";

/** What Gateway.precommit and Gateway.terminate take: a header and `eth_getProof` of one slot. */
export type StorageProof = { header: Hex; accountProof: Hex[]; storageProof: Hex[] };

export type GetStorageProofParameters = {
  client: PublicClient;
  address: Address;
  slot: Hex;
  blockNumber: bigint;
};

/** Proof of `slot` of `address` at `blockNumber`, with the block's header RLP. */
export async function getStorageProof({ client, address, slot, blockNumber }: GetStorageProofParameters): Promise<StorageProof> {
  const [block, proof] = await Promise.all([
    client.request({ method: "eth_getBlockByNumber", params: [toHex(blockNumber), false] }) as Promise<RpcBlock | null>,
    client.getProof({ address, storageKeys: [slot], blockNumber }),
  ]);
  if (block === null) throw new Error(`block ${blockNumber} not found`);
  const storage = proof.storageProof[0];
  if (storage === undefined) throw new Error(`eth_getProof returned no storage proof for slot ${slot}`);
  return { header: encodeBlockHeader(block), accountProof: proof.accountProof, storageProof: storage.proof };
}
