import type { View } from "./view.js";
import type { WireView } from "../net/message.js";

export function toWireView(view: View): WireView {
  return { chainId: view.chainId.toString(), height: view.height.toString(), acc: view.acc, hashes: [...view.hashes] };
}

export function fromWireView(wire: WireView): View {
  return { chainId: BigInt(wire.chainId), height: BigInt(wire.height), acc: wire.acc, hashes: [...wire.hashes] };
}
