import type { Hex } from "viem";
import { ZERO_HASH, type View } from "../view/view.js";

/** IGateway.ViewPost: a signed view of the counterparty posted in the same transaction as a batch step, with its bridge. */
export type ViewPost = { view_: View; signatures: Hex[]; bridge: Hex[] };

/** A ViewPost that posts nothing (no signatures): the registry already has a view at the proof's height. */
export const NO_POST: ViewPost = { view_: { chainId: 0n, height: 0n, acc: ZERO_HASH, hashes: [] }, signatures: [], bridge: [] };
