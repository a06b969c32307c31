import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { gapsChart, messagesChart, niceTicks, writeCharts } from "../../scripts/bench/charts.js";
import { cellName, FULL_CELLS, type GridCell, type GridResult } from "../../scripts/bench/simulateGrid.js";

/** A grid of the 27 cells of Table I with made-up numbers that differ per cell, so that every bar and box is drawn. */
function grid(): GridResult {
  const cells: GridCell[] = FULL_CELLS.map((spec, i) => ({
    ...spec,
    name: cellName(spec),
    blocks: 1_000,
    tasks: 100 + i,
    successfulTasks: 100 + i,
    requestsPerTask: 9,
    messagesPerTask: 18,
    requestsPerSystem: 500 * spec.taskRate * 10,
    gossipPerSystem: 1_000 * spec.n * spec.sendRate * 10,
    messagesPerSystem: 2_000 + i,
    gap: { samples: 1_000, mean: 1.5 + i / 27, min: 0, p25: 1, median: 1, p75: 2, p95: 3 + (i % 3), max: 6 + (i % 4), aboveK: 0.01 },
    systemGap: { samples: 100, mean: 1 + i / 27, min: 0, p25: 0, median: 1, p75: 1, p95: 2 + (i % 3), max: 4 + (i % 4), aboveK: 0.005 },
    histogram: [100, 400, 300, 150, 50],
    systems: [],
    incidents: {},
    wallMs: 1,
    cpuMs: 1,
  }));
  return {
    blocks: 1_000,
    seed: 1,
    q: 4,
    k: 5,
    signEvery: 1,
    cells,
    scaleRatio: [],
    work: { signatures: 0, signingMs: 0, verifications: 0, verifyingMs: 0, verificationsShared: 0 },
    workers: 1,
    wallMs: 1,
    cpuMs: 1,
  };
}

/**
 * A strict enough XML well-formedness check for SVG written by hand: one root element, every tag closed in
 * order, attribute values quoted, no stray `<` or `&` in text or attribute values.
 */
function assertWellFormed(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, "");
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  const open: string[] = [];
  let roots = 0;
  let at = 0;
  while (at < body.length) {
    token.lastIndex = at;
    const m = token.exec(body);
    assert.ok(m !== null, `not well-formed near: ${body.slice(at, at + 80)}`);
    const [whole, closing, name, attributes, selfClosing, text] = m;
    if (text !== undefined) {
      assert.ok(open.length > 0 || text.trim() === "", `text outside the root element: ${text.slice(0, 40)}`);
      assert.doesNotMatch(text, /&(?!(amp|lt|gt|quot|apos|#\d+);)/, `unescaped & in text: ${text.slice(0, 40)}`);
    } else if (closing) {
      assert.equal(open.pop(), name, `</${name}> closes the wrong element`);
    } else {
      assert.doesNotMatch(attributes ?? "", /&(?!(amp|lt|gt|quot|apos|#\d+);)/, `unescaped & in the attributes of <${name}>`);
      if (open.length === 0) roots += 1;
      if (!selfClosing) open.push(name!);
    }
    at += whole.length;
  }
  assert.deepEqual(open, [], "elements left open");
  assert.equal(roots, 1, "one root element");
}

const count = (svg: string, pattern: RegExp) => svg.match(new RegExp(pattern, "g"))?.length ?? 0;
const cellsOf = (svg: string, className: string) => [...svg.matchAll(new RegExp(`class="${className}" data-cell="([^"]+)"`, "g"))].map((m) => m[1]);

describe("charts", () => {
  describe("messagesChart", () => {
    it("draws one requests bar and one gossip bar per cell, in well-formed SVG", () => {
      const g = grid();
      const svg = messagesChart(g);
      assertWellFormed(svg);
      assert.match(svg, /^<\?xml[^>]*>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      assert.deepEqual(cellsOf(svg, "bar requests").sort(), g.cells.map((c) => c.name).sort());
      assert.deepEqual(cellsOf(svg, "bar gossip").sort(), g.cells.map((c) => c.name).sort());
    });

    it("makes a bar's height proportional to its value, within a panel", () => {
      const svg = messagesChart(grid());
      const height = (cell: string) => Number(svg.match(new RegExp(`class="bar gossip" data-cell="${cell}"[^>]* height="([\\d.]+)"`))![1]);
      // gossipPerSystem is 1,000 · n · 10 · sendRate: 10_1_3 is ten times 3_1_1 and three times 10_1_1.
      assert.ok(Math.abs(height("10_1_3") / height("3_1_1") - 10) < 0.05);
      assert.ok(Math.abs(height("10_1_3") / height("10_1_1") - 3) < 0.05);
    });
  });

  describe("gapsChart", () => {
    it("draws one box per cell, a line at k, and well-formed SVG", () => {
      const g = grid();
      const svg = gapsChart(g);
      assertWellFormed(svg);
      assert.deepEqual(cellsOf(svg, "box").sort(), g.cells.map((c) => c.name).sort());
      assert.equal(count(svg, />k = 5</), 1);
    });
  });

  describe("writeCharts", () => {
    it("writes messages.svg and gaps.svg into the directory and returns their paths", () => {
      const dir = mkdtempSync(join(tmpdir(), "charts-"));
      try {
        const paths = writeCharts(grid(), join(dir, "out"));
        assert.deepEqual(paths.map((p) => basename(p)), ["messages.svg", "gaps.svg"]);
        for (const path of paths) assertWellFormed(readFileSync(path, "utf8"));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("draws only the cells a quick grid has", () => {
      const g = grid();
      const quick = { ...g, cells: g.cells.filter((c) => c.name === "3_1_1" || c.name === "10_4_3") };
      assert.deepEqual(cellsOf(messagesChart(quick), "bar requests"), ["3_1_1", "10_4_3"]);
      assert.deepEqual(cellsOf(gapsChart(quick), "box"), ["3_1_1", "10_4_3"]);
    });
  });

  describe("niceTicks", () => {
    it("covers the maximum with round steps from 0", () => {
      assert.deepEqual(niceTicks(7), [0, 2, 4, 6, 8]);
      assert.deepEqual(niceTicks(23_000), [0, 5_000, 10_000, 15_000, 20_000, 25_000]);
      assert.deepEqual(niceTicks(1), [0, 1]);
    });
  });
});
