import type { Address, Hex, LocalAccount } from "viem";
import { RelayerError } from "../util/relayerError.js";
import { rememberViewSigner } from "./recoverViewSigner.js";
import type { View } from "./view.js";
import { viewDigest } from "./viewDigest.js";

export type ViewSignature = { signer: Address; signature: Hex };

/** An account that cannot sign a 32-byte hash as it is (a relayer's key is a private-key account, which can). */
export class HashSigningError extends RelayerError {}

/**
 * One committee member's signature of `view`: the EIP-712 signature account.signTypedData makes, signed over the
 * digest written out (viewDigest). viem's signTypedData encodes the typed data generically, which was half of what a
 * committee member spent signing; test/relayer/viewDigest.test.ts checks that both give the same bytes.
 */
export async function signView(account: LocalAccount, view: View, gateway: Address): Promise<ViewSignature> {
  if (account.sign === undefined) throw new HashSigningError(`account ${account.address} cannot sign a hash: a view is signed with a private-key account`);
  const digest = viewDigest(view, gateway);
  const signature = await account.sign({ hash: digest });
  rememberViewSigner(digest, signature, account.address);
  return { signer: account.address, signature };
}

/** Signatures in the order the ViewRegistry requires: ascending signer address. */
export function orderSignatures(signatures: readonly ViewSignature[]): Hex[] {
  return [...signatures]
    .sort((a, b) => (BigInt(a.signer) < BigInt(b.signer) ? -1 : BigInt(a.signer) > BigInt(b.signer) ? 1 : 0))
    .map((s) => s.signature);
}
