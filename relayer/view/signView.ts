import type { Address, Hex, LocalAccount } from "viem";
import type { View } from "./view.js";
import { VIEW_TYPES, viewDomain } from "./viewDigest.js";

export type ViewSignature = { signer: Address; signature: Hex };

/** One committee member's signature of `view`. */
export async function signView(account: LocalAccount, view: View, gateway: Address): Promise<ViewSignature> {
  const signature = await account.signTypedData({
    domain: viewDomain(view.chainId, gateway),
    types: VIEW_TYPES,
    primaryType: "View",
    message: view,
  });
  return { signer: account.address, signature };
}

/** Signatures in the order the ViewRegistry requires: ascending signer address. */
export function orderSignatures(signatures: readonly ViewSignature[]): Hex[] {
  return [...signatures]
    .sort((a, b) => (BigInt(a.signer) < BigInt(b.signer) ? -1 : BigInt(a.signer) > BigInt(b.signer) ? 1 : 0))
    .map((s) => s.signature);
}
