// The dashboard page: renders each snapshot the server streams on /events (relayer/dashboard/networkWatcher.ts says what a
// snapshot holds). Plain DOM, no framework: the page is small and must run as served, without a build step.
"use strict";

const COLOURS = ["#2f6fdf", "#d9822b", "#2e9e5b", "#b3437a", "#7a5cc7", "#8a8f2f", "#1b9aaa", "#c0392b"];
/** Messages per second of the whole network, by kind, for the last 120 snapshots. */
const history = [];

const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== null && value !== false) element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) element.append(child instanceof Node ? child : String(child));
  return element;
}

const short = (hex) => `${hex.slice(0, 8)}…${hex.slice(-4)}`;
const badge = (text, kind = text) => h("span", { class: `badge ${kind.replace(/ /g, "-")}` }, text);

/** Wei (decimal string) as ETH, at most 4 decimals. */
function eth(wei) {
  const value = BigInt(wei);
  const whole = value / 10n ** 18n;
  const fraction = Number(value % 10n ** 18n) / 1e18;
  const text = (Number(whole) + fraction).toLocaleString("en-US", { maximumFractionDigits: 4 });
  return `${text} ETH`;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function renderChains(snapshot) {
  const rows = snapshot.chains.map((c) => {
    const committee = c.scheme === null ? `${c.committee.length} members` : `${c.threshold} of ${c.committee.length}, ${c.scheme}, k ${c.k}`;
    const seen = snapshot.chains
      .filter((o) => o.chainId !== c.chainId)
      .map((o) => {
        const view = o.counterparties.find((cp) => cp.of === c.chainId);
        if (view === undefined) return h("div", {}, `on ${o.chainId}: ?`);
        return h(
          "div",
          {},
          `on ${o.chainId}: bond ${eth(view.bond)}, covers ${eth(view.capacity)} of swaps (${eth(view.exposure)} used), view at ${view.latestHeight} `,
          view.frozen ? badge(`frozen at ${view.frozenAt}${evidenceOf(snapshot, c.chainId, o.chainId)}`, "frozen") : badge("live", "up"),
        );
      });
    return h(
      "tr",
      { "data-chain": c.chainId },
      h("td", {}, h("b", {}, c.chainId), " ", c.alive ? badge("up") : badge("down"), h("div", {}, h("code", {}, c.url))),
      h("td", { class: "head" }, c.head ?? "–"),
      h("td", {}, c.blockMs === null ? "–" : `${c.blockMs} ms`),
      h("td", {}, committee, h("div", {}, ...c.committee.map((a) => h("code", { title: a }, short(a), " ")))),
      h("td", {}, seen),
    );
  });
  $("chains").tBodies[0].replaceChildren(...rows);
}

/** ", on <evidence>" for the freeze of chain `chainId` on chain `on`, when its event has been read. */
function evidenceOf(snapshot, chainId, on) {
  const freeze = snapshot.freezes.find((f) => f.chainId === chainId && f.on === on);
  return freeze === undefined ? "" : `, on ${freeze.evidence}`;
}

function gapClass(gap) {
  if (gap === null || gap === undefined) return "none";
  return gap <= 2 ? "g0" : gap <= 10 ? "g1" : gap <= 30 ? "g2" : "g3";
}

function renderGaps(snapshot) {
  const chainIds = snapshot.chains.map((c) => c.chainId);
  $("gaps").tHead.replaceChildren(h("tr", {}, h("th", {}, "node (its chain)"), ...chainIds.map((id) => h("th", { class: "gap" }, id))));
  const rows = snapshot.relayers.map((r) =>
    h(
      "tr",
      {},
      h("td", {}, h("code", { title: r.address }, short(r.address)), ` (${r.chainId}) `, r.up ? "" : badge("down")),
      ...chainIds.map((id) => {
        const gap = r.gaps[id];
        const own = id === r.chainId;
        return h("td", { class: `gap ${gapClass(gap)}${own ? " own" : ""}`, title: own ? "own chain: blocks since its newest certified view" : `blocks between chain ${id}'s head and this node's newest view of it` }, gap ?? "–");
      }),
    ),
  );
  $("gaps").tBodies[0].replaceChildren(...rows);
}

function sideCell(side) {
  const id = `side-${side.chainId}-${side.contractId}`;
  const mirror = `side-${side.counterparty}-`;
  const what = side.status === "not registered" ? "" : `${eth(side.amount).replace(" ETH", "")} ${side.asset === "coin" || side.asset === "token" ? side.asset : short(side.asset)}, expires at ${side.expiry}`;
  return h(
    "td",
    { class: "side", id, "data-status": side.status, "data-chain": side.chainId },
    h("b", {}, `chain ${side.chainId} `),
    badge(side.status),
    h("div", {}, what),
    h("div", {}, h("code", { title: side.contractId }, short(side.contractId)), " → ", h("a", { href: `#${mirror}`, "data-mirror": side.counterparty, class: "mirror" }, `mirror on ${side.counterparty}`)),
  );
}

function renderSwaps(snapshot) {
  const rows = snapshot.swaps.map((s) => {
    const [x, y] = s.sides;
    const row = h("tr", { class: "swap", "data-key": s.key, "data-statuses": `${x.status},${y.status}` }, sideCell(x), h("td", {}, "⇄"), sideCell(y));
    // Each side links to the other: the mirror's anchor is that side's cell.
    const links = row.querySelectorAll("a.mirror");
    links[0].setAttribute("href", `#side-${y.chainId}-${y.contractId}`);
    links[1].setAttribute("href", `#side-${x.chainId}-${x.contractId}`);
    return row;
  });
  $("swaps").tBodies[0].replaceChildren(...rows);
  $("no-swaps").hidden = rows.length > 0;
}

function renderWaiting(snapshot) {
  const lists = snapshot.chains.map((c) =>
    h(
      "div",
      {},
      h("b", {}, `chain ${c.chainId}`),
      c.head === null ? "" : ` (head ${c.head})`,
      c.waiting.length === 0
        ? h("p", { class: "empty" }, "empty")
        : h("ol", {}, ...c.waiting.map((w) => h("li", {}, `expiry ${w.expiry}: `, h("a", { href: `#side-${c.chainId}-${w.contractId}` }, h("code", {}, short(w.contractId))), ` with ${w.counterparty}`))),
    ),
  );
  $("waiting").replaceChildren(...lists);
}

function renderNetwork(snapshot) {
  const total = {};
  for (const r of snapshot.relayers) for (const [kind, rate] of Object.entries(r.rates)) total[kind] = (total[kind] ?? 0) + rate;
  history.push(total);
  if (history.length > 120) history.shift();
  const rows = snapshot.relayers.map((r) =>
    h(
      "tr",
      {},
      h("td", {}, h("code", { title: r.address }, short(r.address)), " ", r.up ? badge("up") : badge("down")),
      h("td", {}, r.chainId),
      h("td", {}, `${r.peers.connected}/${r.peers.expected}`),
      h("td", {}, Object.entries(r.tasks).filter(([, n]) => n > 0).map(([state, n]) => `${state} ${n}`).join(", ") || "none"),
      h("td", {}, Object.entries(r.rates).filter(([, n]) => n > 0).map(([kind, n]) => `${kind} ${n}`).join(", ") || "–"),
      h("td", {}, `${r.sent.count} (${bytes(r.sent.bytes)})`),
      h("td", {}, `${r.received.count} (${bytes(r.received.bytes)})`),
      h("td", {}, Object.entries(r.rejected).map(([reason, n]) => `${reason} ${n}`).join(", ") || "none"),
    ),
  );
  $("relayers").tBodies[0].replaceChildren(...rows);
  $("rates-chart").replaceChildren(chart());
}

/** Messages per second of the whole network by kind, one line per kind over the last snapshots (inline SVG). */
function chart() {
  const kinds = [...new Set(history.flatMap((t) => Object.keys(t)))].sort();
  const max = Math.max(1, ...history.flatMap((t) => Object.values(t)));
  const width = 600;
  const height = 80;
  const x = (i) => (i / Math.max(1, history.length - 1)) * width;
  const y = (v) => height - (v / max) * (height - 4);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  kinds.forEach((kind, k) => {
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", history.map((t, i) => `${x(i).toFixed(1)},${y(t[kind] ?? 0).toFixed(1)}`).join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", COLOURS[k % COLOURS.length]);
    line.setAttribute("stroke-width", "1.5");
    svg.append(line);
  });
  const last = history.at(-1) ?? {};
  const legend = h("div", { class: "legend" }, `messages/s, whole network (max ${max.toFixed(1)}): `, ...kinds.map((kind, k) => h("span", { style: `color:${COLOURS[k % COLOURS.length]}` }, `${kind} ${(last[kind] ?? 0).toFixed(1)}`)));
  return h("div", {}, legend, svg);
}

function renderForks(snapshot) {
  $("forks").replaceChildren(
    ...(snapshot.freezes.length === 0
      ? [h("p", { class: "empty" }, "no fork seen")]
      : snapshot.freezes.map((f) =>
          h(
            "div",
            { class: "freeze", "data-chain": f.chainId },
            badge("frozen"),
            ` chain ${f.chainId} frozen on chain ${f.on} at block ${f.height}, on ${f.evidence}; reporter `,
            h("code", {}, short(f.reporter)),
            `; slashed ${eth(f.slashed)}: ${eth(f.reward)} reward, ${eth(f.pool)} pool, ${eth(f.burned)} burned`,
          ),
        )),
  );
  $("compensation").replaceChildren(
    ...(snapshot.compensation.length === 0
      ? []
      : [
          h("h3", {}, "Compensation"),
          ...snapshot.compensation.map((c) =>
            h("div", {}, `on chain ${c.on}: `, h("code", {}, short(c.contractId)), ` claimed ${eth(c.filed)} for `, h("code", {}, short(c.claimant)), c.paid === null ? ", not paid yet" : `, paid ${eth(c.paid)}`),
          ),
        ]),
  );
}

function render(snapshot) {
  $("updated").textContent = `updated ${new Date(snapshot.at).toLocaleTimeString()}`;
  $("dir").textContent = snapshot.dir;
  $("problem").hidden = snapshot.problem === null;
  $("problem").textContent = snapshot.problem ?? "";
  renderChains(snapshot);
  renderGaps(snapshot);
  renderSwaps(snapshot);
  renderWaiting(snapshot);
  renderNetwork(snapshot);
  renderForks(snapshot);
}

const events = new EventSource("events");
events.onopen = () => {
  $("connection").textContent = "live";
  $("connection").className = "badge up";
};
events.onerror = () => {
  $("connection").textContent = "reconnecting…";
  $("connection").className = "badge down";
};
events.onmessage = (message) => render(JSON.parse(message.data));
