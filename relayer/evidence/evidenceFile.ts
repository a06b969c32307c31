import { decodeMessage } from "../net/messageSchema.js";
import { fromWireSignedView, toWireSignedView, type Evidence } from "../view/signedView.js";
import { RelayerError } from "../util/relayerError.js";

export class EvidenceFileError extends RelayerError {}

/** What starts the evidence in a relayer's log line (see encodeEvidence). */
const LOG_MARK = '{"kind":"evidence"';

/**
 * Fork evidence as text: the overlay's own `evidence` message (two signed views, numbers as decimal strings, hex in lower
 * case), so that a file `fibc evidence check` writes, a line a relayer logs and a message a node gossips are one format,
 * decoded by one schema. One line unless `indent` is given.
 */
export function encodeEvidence(evidence: Evidence, indent?: number): string {
  return JSON.stringify({ kind: "evidence", a: toWireSignedView(evidence.a), b: toWireSignedView(evidence.b) }, null, indent);
}

/**
 * Reads fork evidence from `text`: a JSON file as encodeEvidence writes it, or a relayer's log (the last line that carries
 * evidence is taken, from its JSON on). Every field is checked as a peer's message would be, so a view re-spelled in upper
 * case, a window of more than 256 hashes or an unknown field is refused here, with the field named. `source` names the
 * text in errors. Throws EvidenceFileError.
 */
export function decodeEvidence(text: string, source: string): Evidence {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const line = text.split("\n").findLast((l) => l.includes(LOG_MARK));
    if (line === undefined) throw new EvidenceFileError(`${source}: neither JSON nor a relayer log line with fork evidence`);
    try {
      value = JSON.parse(line.slice(line.indexOf(LOG_MARK)));
    } catch (cause) {
      throw new EvidenceFileError(`${source}: the evidence in its log line is cut or not JSON`, { cause });
    }
  }
  const decoded = decodeMessage(value);
  if (!decoded.ok) throw new EvidenceFileError(`${source}: not fork evidence (${decoded.reason})`);
  if (decoded.message.kind !== "evidence") throw new EvidenceFileError(`${source}: a "${decoded.message.kind}" message, not fork evidence`);
  return { a: fromWireSignedView(decoded.message.a), b: fromWireSignedView(decoded.message.b) };
}
