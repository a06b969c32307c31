import { hashTypedData, type Address, type Hex } from "viem";
import type { View } from "./view.js";

export const VIEW_TYPES = {
  View: [
    { name: "chainId", type: "uint64" },
    { name: "height", type: "uint64" },
    { name: "acc", type: "bytes32" },
    { name: "hashes", type: "bytes32[]" },
  ],
} as const;

/** The EIP-712 domain of a chain's views: the protocol and the viewed chain, never the verifier. */
export function viewDomain(chainId: bigint, gateway: Address) {
  return { name: "FinalityIBC", version: "1", chainId, verifyingContract: gateway } as const;
}

/** The digest a chain's committee signs for `view`; equals ViewLib.digest on chain. */
export function viewDigest(view: View, gateway: Address): Hex {
  return hashTypedData({ domain: viewDomain(view.chainId, gateway), types: VIEW_TYPES, primaryType: "View", message: view });
}
