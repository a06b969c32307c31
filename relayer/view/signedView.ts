import type { Hex } from "viem";
import type { WireSignedView } from "../net/message.js";
import type { View } from "./view.js";
import { fromWireView, toWireView } from "./wireView.js";

/** A view with its committee's signatures. */
export type SignedView = { view: View; signatures: Hex[] };

/** Two signed views of one chain that no single chain can have. */
export type Evidence = { a: SignedView; b: SignedView };

/** A signed view as it travels between nodes (the one codec of signed views). */
export function toWireSignedView(signed: SignedView): WireSignedView {
  return { view: toWireView(signed.view), signatures: [...signed.signatures] };
}

export function fromWireSignedView(wire: WireSignedView): SignedView {
  return { view: fromWireView(wire.view), signatures: [...wire.signatures] };
}
