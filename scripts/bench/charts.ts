/**
 * SVG charts of a simulated grid in the manner of the paper's Figures 5 and 6, written as plain strings:
 * messages.svg (requests and gossip sent per system, one bar per cell) and gaps.svg (the distribution of
 * the gap of views, one box per cell). Cells are grouped by scale n, and inside a group ordered by task
 * rate, then send rate; a bar's hue is its task rate and its shade its send rate.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GridCell, GridResult } from "./simulateGrid.js";

const WIDTH = 960;
const MARGIN = { left: 80, right: 170, top: 60, bottom: 90 };
/** Bars wider than this look like blocks when a quick grid has only a few cells. */
const MAX_BAR = 44;
const PANEL_HEIGHT = 260;
const GROUP_GAP = 18;
const FONT = `font-family="Helvetica, Arial, sans-serif"`;

/** Writes messages.svg and gaps.svg into `dir` and returns their paths. */
export function writeCharts(grid: GridResult, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const charts: [string, string][] = [
    ["messages.svg", messagesChart(grid)],
    ["gaps.svg", gapsChart(grid)],
  ];
  return charts.map(([name, svg]) => {
    const path = join(dir, name);
    writeFileSync(path, svg);
    return path;
  });
}

/** Fig. 5: check() requests and gossip messages sent per system, in two panels with their own scales. */
export function messagesChart(grid: GridResult): string {
  const layout = columns(grid.cells);
  const panels = [
    { title: "check() requests sent per system", className: "requests", value: (c: GridCell) => c.requestsPerSystem },
    { title: "gossip messages sent per system", className: "gossip", value: (c: GridCell) => c.gossipPerSystem },
  ];
  const height = MARGIN.top + panels.length * (PANEL_HEIGHT + MARGIN.bottom);
  const body = panels.map((panel, p) => {
    const top = MARGIN.top + p * (PANEL_HEIGHT + MARGIN.bottom + 10);
    const ticks = niceTicks(Math.max(...grid.cells.map(panel.value), 1));
    const y = (v: number) => top + PANEL_HEIGHT - (v / ticks.at(-1)!) * PANEL_HEIGHT;
    const bars = layout.columns.map(({ cell, x }) => {
      const value = panel.value(cell);
      return `<rect class="bar ${panel.className}" data-cell="${cell.name}" x="${r(x + 2)}" y="${r(y(value))}" width="${r(layout.width - 4)}" height="${r(y(0) - y(value))}" fill="${colour(grid.cells, cell)}"><title>${cell.name}: ${Math.round(value).toLocaleString("en-US")}</title></rect>`;
    });
    return [text(MARGIN.left, top - 10, panel.title, `font-size="14" font-weight="bold"`), yAxis(ticks, y), ...bars, xAxis(layout, y(0))].join("\n");
  });
  return svg(height, `Requests and gossip per system over ${grid.blocks.toLocaleString("en-US")} blocks (q = ${grid.q}, k = ${grid.k})`, [...body, legend(grid.cells)].join("\n"));
}

/** Fig. 6: per cell, the gap of views as a box (quartiles), a line (median), a whisker (min to p95), a dot (max) and a diamond (mean). */
export function gapsChart(grid: GridResult): string {
  const layout = columns(grid.cells);
  const top = MARGIN.top;
  const ticks = niceTicks(Math.max(...grid.cells.map((c) => c.gap.max), grid.k) + 1);
  const y = (v: number) => top + PANEL_HEIGHT - (v / ticks.at(-1)!) * PANEL_HEIGHT;
  const boxes = layout.columns.map(({ cell, x }) => {
    const g = cell.gap;
    const mid = x + layout.width / 2;
    const half = Math.max(3, layout.width / 2 - 4);
    const summary = `${cell.name}: mean ${g.mean.toFixed(2)}, median ${g.median}, p95 ${g.p95}, max ${g.max}`;
    return [
      `<line x1="${r(mid)}" y1="${r(y(g.min))}" x2="${r(mid)}" y2="${r(y(g.p95))}" stroke="#444"/>`,
      `<line x1="${r(mid - half / 2)}" y1="${r(y(g.p95))}" x2="${r(mid + half / 2)}" y2="${r(y(g.p95))}" stroke="#444"/>`,
      `<rect class="box" data-cell="${cell.name}" x="${r(mid - half)}" y="${r(y(g.p75))}" width="${r(2 * half)}" height="${r(Math.max(1, y(g.p25) - y(g.p75)))}" fill="${colour(grid.cells, cell)}" stroke="#444"><title>${summary}</title></rect>`,
      `<line x1="${r(mid - half)}" y1="${r(y(g.median))}" x2="${r(mid + half)}" y2="${r(y(g.median))}" stroke="#000" stroke-width="2"/>`,
      `<circle cx="${r(mid)}" cy="${r(y(g.max))}" r="2.5" fill="none" stroke="#000"/>`,
      `<path d="M ${r(mid)} ${r(y(g.mean) - 4)} l 4 4 l -4 4 l -4 -4 z" fill="#fff" stroke="#000"/>`,
    ].join("");
  });
  const kLine = [
    `<line x1="${MARGIN.left}" y1="${r(y(grid.k))}" x2="${WIDTH - MARGIN.right}" y2="${r(y(grid.k))}" stroke="#c00" stroke-dasharray="6 4"/>`,
    text(WIDTH - MARGIN.right + 6, y(grid.k) + 4, `k = ${grid.k}`, `font-size="12" fill="#c00"`),
  ];
  const key = ["box: quartiles, bar: median", "whisker: min to p95", "◇ mean, ○ max"].map((line, i) =>
    text(WIDTH - MARGIN.right + 10, top + PANEL_HEIGHT - 30 + i * 14, line, `font-size="10"`),
  );
  const height = top + PANEL_HEIGHT + MARGIN.bottom;
  const body = [
    text(MARGIN.left, top - 10, "gap of views (blocks a node's view of another system lags its height)", `font-size="14" font-weight="bold"`),
    yAxis(ticks, y),
    ...boxes,
    ...kLine,
    ...key,
    xAxis(layout, y(0)),
    legend(grid.cells),
  ];
  return svg(height, `Gap of views over ${grid.blocks.toLocaleString("en-US")} blocks, sampled once per block interval for every (node, other system)`, body.join("\n"));
}

type Layout = { width: number; columns: { cell: GridCell; x: number }[]; groups: { n: number; from: number; to: number }[] };

/** Bar positions: one column per cell, a gap between scales. */
function columns(cells: readonly GridCell[]): Layout {
  const scales = [...new Set(cells.map((c) => c.n))].sort((a, b) => a - b);
  const ordered = scales.map((n) => cells.filter((c) => c.n === n).sort((a, b) => a.taskRate - b.taskRate || a.sendRate - b.sendRate));
  const plot = WIDTH - MARGIN.left - MARGIN.right - GROUP_GAP * (scales.length + 1);
  const width = Math.min(MAX_BAR, plot / Math.max(1, cells.length));
  const layout: Layout = { width, columns: [], groups: [] };
  let x = MARGIN.left + GROUP_GAP;
  for (const [i, group] of ordered.entries()) {
    const from = x;
    for (const cell of group) {
      layout.columns.push({ cell, x });
      x += width;
    }
    layout.groups.push({ n: scales[i]!, from, to: x });
    x += GROUP_GAP;
  }
  return layout;
}

function xAxis(layout: Layout, baseline: number): string {
  const names = layout.columns.map(({ cell, x }) => {
    const cx = x + layout.width / 2;
    return `<text x="${r(cx)}" y="${r(baseline + 8)}" font-size="9" text-anchor="end" transform="rotate(-90 ${r(cx)} ${r(baseline + 8)})">${escape(cell.name)}</text>`;
  });
  const groups = layout.groups.map((g) => text((g.from + g.to) / 2, baseline + 66, `n = ${g.n}`, `font-size="12" text-anchor="middle" font-weight="bold"`));
  return [`<line x1="${MARGIN.left}" y1="${r(baseline)}" x2="${WIDTH - MARGIN.right}" y2="${r(baseline)}" stroke="#000"/>`, ...names, ...groups].join("\n");
}

function yAxis(ticks: readonly number[], y: (v: number) => number): string {
  return [
    `<line x1="${MARGIN.left}" y1="${r(y(0))}" x2="${MARGIN.left}" y2="${r(y(ticks.at(-1)!))}" stroke="#000"/>`,
    ...ticks.map((t) =>
      [
        `<line x1="${MARGIN.left - 4}" y1="${r(y(t))}" x2="${WIDTH - MARGIN.right}" y2="${r(y(t))}" stroke="#ddd"/>`,
        text(MARGIN.left - 8, y(t) + 4, t.toLocaleString("en-US"), `font-size="11" text-anchor="end"`),
      ].join(""),
    ),
  ].join("\n");
}

/** The colour key: one swatch per pair of task rate and send rate the grid has. */
function legend(cells: readonly GridCell[]): string {
  const pairs = [...new Map(cells.map((c) => [`${c.taskRate}/${c.sendRate}`, c])).values()].sort((a, b) => a.taskRate - b.taskRate || a.sendRate - b.sendRate);
  const x = WIDTH - MARGIN.right + 10;
  const lines = [text(x, MARGIN.top + 2, "tasks / send rate", `font-size="11" font-weight="bold"`)];
  for (const [row, cell] of pairs.entries()) {
    const y = MARGIN.top + 12 + row * 15;
    lines.push(`<rect x="${x}" y="${y}" width="12" height="12" fill="${colour(cells, cell)}"/>`);
    lines.push(text(x + 18, y + 10, `${Math.round(cell.taskRate * 100)} % / ${Math.round(cell.sendRate * 100)} %`, `font-size="10"`));
  }
  return lines.join("\n");
}

function colour(cells: readonly GridCell[], cell: GridCell): string {
  const sendRates = distinct(cells.map((c) => c.sendRate));
  return swatch(distinct(cells.map((c) => c.taskRate)).indexOf(cell.taskRate), sendRates.indexOf(cell.sendRate), sendRates.length);
}

/** Hue by task rate, darker with a higher send rate. */
function swatch(task: number, send: number, sends: number): string {
  const hues = [210, 30, 140, 280, 0];
  const lightness = sends <= 1 ? 50 : 72 - (send / (sends - 1)) * 34;
  return `hsl(${hues[task % hues.length]}, 65%, ${Math.round(lightness)}%)`;
}

/** Round tick values from 0 covering `max`: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(max: number, count = 5): number[] {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!);
  const ticks = [];
  for (let t = 0; t < max + step; t += step) ticks.push(t);
  return ticks;
}

function svg(height: number, caption: string, body: string): string {
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${r(height)}" viewBox="0 0 ${WIDTH} ${r(height)}" ${FONT}>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    text(MARGIN.left, 20, caption, `font-size="12" fill="#555"`),
    body,
    `</svg>`,
    "",
  ].join("\n");
}

function text(x: number, y: number, content: string, attributes = ""): string {
  return `<text x="${r(x)}" y="${r(y)}" ${attributes}>${escape(content)}</text>`;
}

function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const r = (v: number) => Math.round(v * 10) / 10;
const distinct = (values: readonly number[]) => [...new Set(values)].sort((a, b) => a - b);
