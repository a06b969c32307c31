import { keccak256, type Hex } from "viem";
import type { Evidence, SignedView } from "../view/signedView.js";
import { MAX_BRIDGE, type Answer } from "../net/message.js";
import { connectsTo, type Connection } from "../view/connectsTo.js";
import { relate } from "../view/relate.js";
import type { Committee, ViewVerifier } from "../view/verifySignedView.js";
import { accBeforeHead, foldAcc, type View } from "../view/view.js";
import { fromWireView } from "../view/wireView.js";
import { RelayerError } from "../util/relayerError.js";

/** A check() answer that is not to be believed, and why. */
export class AnswerRefusedError extends RelayerError {
  constructor(reason: string) {
    super(reason);
  }
}

/**
 * An answer whose view carries the committee's signatures and conflicts with the view the asker's registry
 * accepted: fork evidence (posting it to that registry freezes the chain), and no answer to believe.
 */
export class ConflictingAnswerError extends AnswerRefusedError {
  constructor(readonly signed: SignedView, knownHeight: bigint) {
    super(`the answer's signed view at ${signed.view.height} conflicts with the view accepted at ${knownHeight}: fork evidence`);
  }
}

/**
 * An answer whose view carries the committee's signatures and conflicts with the window of the view the asker's registry
 * accepted, below that view's height, where the registry's one stored word cannot tell: the two signed views are fork
 * evidence (ViewRegistry.submitForkEvidence freezes the chain for them), and the answer is not to be believed.
 */
export class ForkEvidenceError extends AnswerRefusedError {
  constructor(readonly evidence: Evidence) {
    super(`the answer's signed view at ${evidence.b.view.height} conflicts with the view accepted at ${evidence.a.view.height}: fork evidence`);
  }
}

/** What the asker knows of the answering chain, that the answer must agree with. */
export type AnswerBasis =
  /**
   * Its registry's newest accepted view: height and word (accThrough); the answer's view must connect to it. With
   * `accepted`, that view itself with its signatures (from its ViewAccepted event): an answer that conflicts with its
   * window is fork evidence even below knownHeight, where the word alone cannot show the conflict.
   */
  | { kind: "newest"; knownHeight: bigint; stored: Hex; minHeight: bigint; accepted?: SignedView }
  /**
   * A proof at exactly an accepted height (asked with atHeight, after a freeze): the answer carries no view, and its
   * header must fold onto `accBefore` (from that height's ViewAccepted event) to the registry's word `accThrough`.
   */
  | { kind: "accepted"; height: bigint; accBefore: Hex; accThrough: Hex };

/** A believed answer: what a Gateway step takes, and the view to post in the same transaction (if the registry lacks it). */
export type CheckedAnswer = {
  height: bigint;
  header: Hex;
  /** The accumulator through height − 1, for IGateway.HeaderProof. */
  accBefore: Hex;
  accountProof: Hex[];
  /** One per contract asked about, in the request's order. */
  storageProofs: Hex[][];
  /** The answer's view with its signatures and bridge; undefined when the registry accepted a view at that height already. */
  post: { view: View; signatures: Hex[]; bridge: Hex[] } | undefined;
};

export type CheckAnswerParameters = {
  answer: Answer;
  /** The chain the request asked about. */
  chainId: bigint;
  committee: Committee;
  basis: AnswerBasis;
  /** How many contracts the request asked about: one storage proof each. */
  contracts: number;
  /** Checks a view's committee signatures (verifySignedView, or the simulator's memoized one). */
  verify: ViewVerifier;
  /** Each view whose signatures held, e.g. for the gossip overlay's view list. */
  onVerified?: (view: SignedView) => Promise<void> | void;
};

const isWord = (value: unknown): value is Hex => typeof value === "string" && /^0x[0-9a-fA-F]{64}$/.test(value);
const isBytes = (value: unknown): value is Hex => typeof value === "string" && /^0x([0-9a-fA-F]{2})*$/.test(value);

/**
 * Believing a check() answer, for the relayer node and the simulator alike, without touching any chain: the view is of
 * the asked chain and carries its committee's threshold signatures, is at `minHeight` or later, connects to the
 * registry's newest accepted view by the registry's own connect rule (bridge included), and the proof's header is the
 * view's newest block. What the storage proofs show is the caller's to read (they are checked against the header's
 * state root there). Throws AnswerRefusedError naming the first thing that fails. A signed view that contradicts the
 * registry is evidence before it is a wrong answer, whatever its height: ConflictingAnswerError when it conflicts with
 * the stored word, ForkEvidenceError when it lies below it and conflicts with the accepted view's window. Both are
 * checked before the height, so a forked committee cannot hide behind answers that are merely too old.
 */
export async function checkAnswer({ answer, chainId, committee, basis, contracts, verify, onVerified }: CheckAnswerParameters): Promise<CheckedAnswer> {
  const { proof } = answer;
  if (!isBytes(proof?.header) || !Array.isArray(proof.accountProof) || !proof.accountProof.every(isBytes)) throw new AnswerRefusedError("a malformed proof");
  if (!Array.isArray(proof.storageProofs) || !proof.storageProofs.every((p) => Array.isArray(p) && p.every(isBytes))) throw new AnswerRefusedError("malformed storage proofs");
  if (proof.storageProofs.length !== contracts) throw new AnswerRefusedError(`the answer proves ${proof.storageProofs.length} records, ${contracts} were asked for`);
  const height = parseHeight(answer.height);
  const headerHash = keccak256(proof.header);
  const proven = { height, header: proof.header, accountProof: [...proof.accountProof], storageProofs: proof.storageProofs.map((p) => [...p]) };

  if (basis.kind === "accepted") {
    if (answer.view !== undefined || answer.bridge !== undefined) throw new AnswerRefusedError("an answer at an accepted height carries no view");
    if (height !== basis.height) throw new AnswerRefusedError(`answer at height ${height}, asked at ${basis.height}`);
    if (foldAcc(basis.accBefore, [headerHash]) !== basis.accThrough.toLowerCase()) throw new AnswerRefusedError(`the proof's header is not the accepted block ${height}`);
    return { ...proven, accBefore: basis.accBefore, post: undefined };
  }

  if (answer.view === undefined || !Array.isArray(answer.bridge)) throw new AnswerRefusedError("the answer carries no view");
  let view: View;
  try {
    view = fromWireView(answer.view.view);
  } catch {
    throw new AnswerRefusedError("a malformed view");
  }
  const signatures = answer.view.signatures;
  const bridge = answer.bridge;
  if (!isWord(view.acc) || !view.hashes.every(isWord) || !Array.isArray(signatures) || !signatures.every(isBytes)) throw new AnswerRefusedError("a malformed view");
  if (bridge.length > MAX_BRIDGE || !bridge.every(isWord)) throw new AnswerRefusedError(`a bridge of ${bridge.length} hashes (at most ${MAX_BRIDGE})`);
  if (view.chainId !== chainId) throw new AnswerRefusedError(`view of chain ${view.chainId}, asked about ${chainId}`);
  try {
    await verify(view, signatures, committee);
  } catch (error) {
    throw new AnswerRefusedError((error as Error).message);
  }
  const signed: SignedView = { view, signatures: [...signatures] };
  await onVerified?.(signed);
  const connection: Connection = connectsTo({ stored: basis.stored, knownHeight: basis.knownHeight, view, bridge });
  if (connection === "conflicting") throw new ConflictingAnswerError(signed, basis.knownHeight);
  if (connection === "older" && basis.accepted !== undefined && relate(basis.accepted.view, view) === "conflicting") {
    throw new ForkEvidenceError({ a: basis.accepted, b: signed });
  }
  if (view.height !== height) throw new AnswerRefusedError(`answer at height ${height} with a view at ${view.height}`);
  if (height < basis.minHeight) throw new AnswerRefusedError(`answer at height ${height} is below ${basis.minHeight}`);
  if (connection !== "consistent") throw new AnswerRefusedError(`the answer's view does not connect to the view accepted at ${basis.knownHeight} (${connection})`);
  if (headerHash !== view.hashes.at(-1)!.toLowerCase()) throw new AnswerRefusedError("the proof's header is not the block of the answer's view");
  const post = view.height === basis.knownHeight ? undefined : { view, signatures: [...signatures], bridge: [...bridge] };
  return { ...proven, accBefore: accBeforeHead(view), post };
}

function parseHeight(value: unknown): bigint {
  if (typeof value !== "string" || !/^\d{1,20}$/.test(value)) throw new AnswerRefusedError("a malformed height");
  return BigInt(value);
}
