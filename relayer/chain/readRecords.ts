import type { Address, Hex } from "viem";
import { recordSlot } from "./recordSlot.js";
import { unpackRecord, type RecordFields } from "./recordWord.js";
import { headerFields, readSlot, readStorageRoot, TrieProofError } from "./trieProof.js";

export type ReadRecordsParameters = {
  /** RLP header of the block the proofs were taken at (already known to be that block). */
  header: Hex;
  /** The Gateway whose records are proven. */
  gateway: Address;
  accountProof: readonly Hex[];
  contractIds: readonly Hex[];
  /** One per contract id, in order. */
  storageProofs: readonly (readonly Hex[])[];
};

/**
 * The records of `contractIds` in `gateway`'s storage under `header`, read out of one eth_getProof's proofs the way the
 * Gateway will read them (header → state root → account → storage root → slot). Throws TrieProofError on any proof that
 * does not lead there: what makes a forged check() answer fail verification before any transaction is sent.
 */
export async function readRecords({ header, gateway, accountProof, contractIds, storageProofs }: ReadRecordsParameters): Promise<{ height: bigint; records: RecordFields[] }> {
  if (storageProofs.length !== contractIds.length) throw new TrieProofError("storage", `${storageProofs.length} proofs for ${contractIds.length} records`);
  const { number, stateRoot } = headerFields(header);
  const storageRoot = await readStorageRoot({ stateRoot, account: gateway, accountProof });
  const words = await Promise.all(contractIds.map((id, i) => readSlot({ storageRoot, slot: recordSlot(id), storageProof: storageProofs[i]! })));
  const records = words.map(unpackRecord);
  return { height: number, records };
}
