import { keccak256 } from "viem";
import type { Message } from "../net/message.js";
import { relate } from "../view/relate.js";
import type { Committee } from "../view/verifySignedView.js";
import type { View } from "../view/view.js";
import { fromWireView } from "../view/wireView.js";

type Answer = Extract<Message, { kind: "answer" }>;

export type CheckAnswerViewsParameters = {
  answer: Answer;
  /** The chain the request asked about. */
  chainId: bigint;
  committee: Committee;
  /** The newest view of that chain the asker trusts (its registry's), if any: the answer's views must connect to it. */
  known: View | undefined;
  /** The answer must be about a height at least this. */
  minHeight: bigint;
  /** Checks a view's committee signatures, throwing when they do not hold (verifySignedView, or a memoized one). */
  verify: (view: View, signatures: readonly `0x${string}`[], committee: Committee) => Promise<void>;
  /** Each view whose signatures held, e.g. for the gossip overlay's view list. */
  onVerified: (view: View, signatures: readonly `0x${string}`[]) => Promise<void> | void;
};

/**
 * The views half of believing a check() answer: at the height asked for or later, at most 64 views, each of the asked-about
 * chain, threshold-signed by its committee and connected (the connect rule) to the view before it, starting from `known`; and
 * the proof's header is the block of the newest view. Returns that newest view; throws naming the first thing that fails.
 */
export async function checkAnswerViews({ answer, chainId, committee, known, minHeight, verify, onVerified }: CheckAnswerViewsParameters): Promise<View> {
  const height = BigInt(answer.height);
  if (height < minHeight) throw new Error(`answer at height ${height} is below ${minHeight}`);
  if (answer.views.length === 0 || answer.views.length > 64) throw new Error("answer carries no views or too many");
  let previous = known;
  for (const signed of answer.views) {
    const view = fromWireView(signed.view);
    if (view.chainId !== chainId) throw new Error(`view of chain ${view.chainId}, expected ${chainId}`);
    await verify(view, signed.signatures, committee);
    await onVerified(view, signed.signatures);
    if (previous !== undefined && relate(previous, view) !== "consistent") throw new Error(`view at ${view.height} does not connect to the one at ${previous.height}`);
    if (previous === undefined || view.height > previous.height) previous = view;
  }
  const last = fromWireView(answer.views.at(-1)!.view);
  if (last.height !== height || keccak256(answer.proof.header) !== last.hashes.at(-1)) {
    throw new Error("the proof's header is not the block of the answer's newest view");
  }
  return last;
}
