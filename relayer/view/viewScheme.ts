import type { Address, Hex, LocalAccount } from "viem";
import { aggregateViewSignatures, decodeG1, decodeG2, hashViewToG1, signViewBls } from "./blsScheme.js";
import { bls12_381 } from "@noble/curves/bls12-381.js";
import { recoverViewSigner } from "./recoverViewSigner.js";
import { orderSignatures, signView } from "./signView.js";
import type { View } from "./view.js";
import { viewDigest } from "./viewDigest.js";

/**
 * How a committee signs its views, chosen when its chain is registered: ECDSA (the default: one 65-byte signature per
 * member, ascending signer) or BLS12-381 (`blsKeys[i]`, the G2 key of `members[i]`: one entry, the signer bitmap and the
 * aggregate signature, relayer/view/blsScheme.ts). The cosigner, the gossip's checks and the posts go through it alone.
 */
export type SchemeCommittee = { gateway: Address; members: readonly Address[]; blsKeys?: readonly Hex[] | undefined };

export type ViewScheme = {
  readonly kind: "ecdsa" | "bls";
  /** True when `share` is `member`'s own signature of `view` (a co-signature). */
  checkShare(view: View, member: Address, share: Hex): boolean;
  /** The signatures a ViewRegistry takes for `view`, from members' checked shares (keyed by lower-case address). */
  combine(shares: ReadonlyMap<string, { signer: Address; signature: Hex }>): Hex[];
};

/** A member's share of its committee's signature of a view of its own chain. */
export type ShareSigner = (view: View) => Promise<Hex>;

/** The scheme of `committee`. */
export function viewSchemeOf(committee: SchemeCommittee): ViewScheme {
  const { blsKeys, gateway } = committee;
  if (blsKeys === undefined) {
    return {
      kind: "ecdsa",
      checkShare: (view, member, share) => {
        try {
          // A signature over any other view recovers to some other address: not counted.
          return recoverViewSigner(viewDigest(view, gateway), share).toLowerCase() === member.toLowerCase();
        } catch {
          return false;
        }
      },
      combine: (shares) => orderSignatures([...shares.values()]),
    };
  }
  if (blsKeys.length !== committee.members.length) throw new RangeError(`${blsKeys.length} BLS keys for a committee of ${committee.members.length}`);
  const index = new Map(committee.members.map((m, i) => [m.toLowerCase(), i]));
  return {
    kind: "bls",
    checkShare: (view, member, share) => {
      const i = index.get(member.toLowerCase());
      if (i === undefined) return false;
      try {
        return bls12_381.shortSignatures.verify(decodeG1(share), hashViewToG1(view, gateway), decodeG2(blsKeys[i]!));
      } catch {
        return false;
      }
    },
    combine: (shares) => [aggregateViewSignatures(new Map([...shares.values()].map(({ signer, signature }) => [index.get(signer.toLowerCase())!, signature])))],
  };
}

/** The share signer of a member: its ECDSA account, or its BLS secret key when its committee signs with BLS. */
export function shareSignerOf(account: LocalAccount, gateway: Address, blsSecretKey?: Uint8Array): ShareSigner {
  if (blsSecretKey !== undefined) return async (view) => signViewBls(blsSecretKey, view, gateway);
  return async (view) => (await signView(account, view, gateway)).signature;
}
