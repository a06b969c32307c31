/**
 * A worker thread of a simulated grid (scripts/bench/simulateGrid.ts runs two on a machine of two cores or more): it
 * certifies its share of the grid's chains, adopts the other workers' shares, then runs the cells it is handed, one at a
 * time, with one SignatureCache, and answers each with its result. Messages are handled in the order they come.
 */
import { parentPort } from "node:worker_threads";
import { certifyChains, type CertifyChainsParameters } from "./certifyChains.js";
import { simulateCell, type CellParameters, type CellResult } from "./gridCell.js";
import { SignatureCache, type SharedSignatures, type SignatureWork } from "./signatureCache.js";

export type CellWorkerRequest =
  | ({ kind: "certify" } & Omit<CertifyChainsParameters, "cache">)
  | { kind: "adopt"; shared: SharedSignatures }
  | { kind: "cell"; id: number; parameters: Omit<CellParameters, "cache"> };

export type CellWorkerReply = { kind: "certified"; shared: SharedSignatures; work: SignatureWork } | { kind: "cell"; id: number; result: CellResult };

const port = parentPort;
if (port === null) throw new Error("cellWorker.ts runs as a worker thread (new Worker), not as a script");
const cache = new SignatureCache();
let queue = Promise.resolve();

port.on("message", (request: CellWorkerRequest) => {
  // A failure is not caught: it ends the worker with an error event, which fails the grid.
  queue = queue.then(async () => {
    const reply = await handle(request);
    if (reply !== undefined) port.postMessage(reply);
  });
});

async function handle(request: CellWorkerRequest): Promise<CellWorkerReply | undefined> {
  switch (request.kind) {
    case "certify": {
      const { kind: _kind, ...parameters } = request;
      await certifyChains({ ...parameters, cache });
      return { kind: "certified", shared: cache.share(), work: { ...cache.work } };
    }
    case "adopt":
      cache.adopt(request.shared);
      return undefined;
    case "cell":
      return { kind: "cell", id: request.id, result: await simulateCell({ ...request.parameters, cache }) };
  }
}
