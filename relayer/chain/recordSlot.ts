import { encodeAbiParameters, keccak256, stringToHex, type Hex } from "viem";

/** ContractRecord.RECORDS_SLOT: the namespaced base of the Gateway's record words. */
export const RECORDS_SLOT = keccak256(stringToHex("finality-ibc.gateway.records"));

/** Storage slot of a contract's record word in the Gateway, as ContractRecord.slotOf computes it. */
export function recordSlot(contractId: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }], [contractId, RECORDS_SLOT]));
}
