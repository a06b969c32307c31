import { simulateCell, type CellResult } from "../../relayer/sim/gridCell.js";
import { cellName, type CellSpec } from "./simulateGrid.js";

/** The cells measured: the paper's 5_1_3 and the same rates at n = 10, at the grid's k and at the relayers' default. */
const CELLS: readonly CellSpec[] = [
  { n: 5, taskRate: 0.1, sendRate: 0.3 },
  { n: 10, taskRate: 0.1, sendRate: 0.3 },
];
const WINDOWS = [5, 16] as const;

export type ViewHeadCell = {
  cell: string;
  k: number;
  /** Gossip bytes (view-update, view-pull, evidence) with whole views only, and with view heads. */
  gossipBytes: { whole: number; heads: number };
  /** heads / whole. */
  bytesRatio: number;
  /** Gossip messages, and the system gap's mean, both ways: heads change what an update carries, not when it goes. */
  gossip: { whole: number; heads: number };
  systemGapMean: { whole: number; heads: number };
  /** Tasks settled both ways (all of them). */
  settled: { whole: string; heads: string };
};

/**
 * What view heads save (gossip.viewHeads): each cell simulated twice with the same seed, once sending whole views only
 * and once with heads, so that the ratio comes from one run on one machine.
 */
export async function measureViewHeads({ blocks, log }: { blocks: number; log: (line: string) => void }): Promise<{ blocks: number; cells: ViewHeadCell[] }> {
  const cells: ViewHeadCell[] = [];
  for (const k of WINDOWS) {
    for (const spec of CELLS) {
      const run = (viewHeads: boolean): Promise<CellResult> => simulateCell({ ...spec, k, blocks, seed: 1, viewHeads });
      const whole = await run(false);
      const heads = await run(true);
      const cell: ViewHeadCell = {
        cell: cellName(spec),
        k,
        gossipBytes: { whole: whole.gossipBytes, heads: heads.gossipBytes },
        bytesRatio: Number((heads.gossipBytes / whole.gossipBytes).toFixed(3)),
        gossip: { whole: whole.gossip, heads: heads.gossip },
        systemGapMean: { whole: Number(whole.systemGap.mean.toFixed(2)), heads: Number(heads.systemGap.mean.toFixed(2)) },
        settled: { whole: `${whole.successfulTasks}/${whole.tasks}`, heads: `${heads.successfulTasks}/${heads.tasks}` },
      };
      cells.push(cell);
      log(
        `view heads, ${cell.cell} at k = ${k}: gossip ${(whole.gossipBytes / 1e6).toFixed(1)} MB with whole views, ${(heads.gossipBytes / 1e6).toFixed(1)} MB with heads (${cell.bytesRatio}×); ` +
          `${heads.gossip} gossip messages against ${whole.gossip}, system gap ${cell.systemGapMean.heads} against ${cell.systemGapMean.whole}`,
      );
    }
  }
  return { blocks, cells };
}
