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
export function readRecords({ header, gateway, accountProof, contractIds, storageProofs }: ReadRecordsParameters): { height: bigint; records: RecordFields[] } {
  if (storageProofs.length !== contractIds.length) throw new TrieProofError("storage", `${storageProofs.length} proofs for ${contractIds.length} records`);
  const { number, stateRoot } = headerFields(header);
  const storageRoot = readStorageRoot({ stateRoot, account: gateway, accountProof });
  const records = contractIds.map((id, i) => unpackRecord(readSlot({ storageRoot, slot: recordSlot(id), storageProof: storageProofs[i]! })));
  return { height: number, records };
}
