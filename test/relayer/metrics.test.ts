import assert from "node:assert/strict";
import { Metrics } from "../../relayer/metrics/metrics.js";
import { MetricsServer } from "../../relayer/metrics/metricsServer.js";
import { REFUSAL_REASONS, TRANSPORT_REFUSALS } from "../../relayer/net/refusalReason.js";

/** The sample lines of a Prometheus text body (no comments), as a set. */
const samples = (text: string): Set<string> => new Set(text.split("\n").filter((line) => line !== "" && !line.startsWith("#")));

describe("Metrics", () => {
  describe("prometheus", () => {
    it("counts messages by kind and direction with their bytes", () => {
      const metrics = new Metrics();
      metrics.countMessage({ kind: "cosign", direction: "sent", bytes: 300 });
      metrics.countMessage({ kind: "cosign", direction: "sent", bytes: 200 });
      metrics.countMessage({ kind: "answer", direction: "received", bytes: 4_096 });
      const lines = samples(metrics.prometheus());
      assert.ok(lines.has('fibc_messages_total{kind="cosign",direction="sent"} 2'));
      assert.ok(lines.has('fibc_message_bytes_total{kind="cosign",direction="sent"} 500'));
      assert.ok(lines.has('fibc_messages_total{kind="answer",direction="received"} 1'));
      assert.ok(lines.has('fibc_message_bytes_total{kind="answer",direction="received"} 4096'));
      // Known kinds start at zero so that rate() works from the first scrape.
      assert.ok(lines.has('fibc_messages_total{kind="request",direction="received"} 0'));
    });

    it("renders HELP and TYPE for every metric, all prefixed fibc_", () => {
      const text = new Metrics().prometheus();
      for (const [name, type] of [
        ["fibc_messages_total", "counter"],
        ["fibc_message_bytes_total", "counter"],
        ["fibc_messages_rejected_total", "counter"],
        ["fibc_tasks", "gauge"],
        ["fibc_view_height", "gauge"],
        ["fibc_chain_head_height", "gauge"],
        ["fibc_transactions_sent_total", "counter"],
        ["fibc_rpc_errors_total", "counter"],
      ]) {
        assert.match(text, new RegExp(`^# HELP ${name} \\S`, "m"));
        assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, "m"));
      }
      for (const line of text.split("\n").filter((l) => l !== "")) {
        assert.match(line, /^(# (HELP|TYPE) )?fibc_/);
      }
    });

    it("renders rejections, tasks, heights, transactions and RPC errors with their labels", () => {
      const metrics = new Metrics();
      metrics.countRejected({ reason: "invalid view" });
      metrics.countRejected({ reason: "invalid view" });
      metrics.countRejected({ reason: "transport bad-frame" });
      metrics.setTaskCounts({ registered: 3, precommitted: 1, released: 7, refunded: 0, cancelled: 2 });
      metrics.setViewHeight(1002n, 120n);
      metrics.setViewHeight(1002n, 125n);
      metrics.setHeadHeight(1001n, 130n);
      metrics.countTransactionSent({ step: "precommit" });
      metrics.countRpcError({ method: "eth_getProof" });
      const lines = samples(metrics.prometheus());
      for (const expected of [
        'fibc_messages_rejected_total{reason="invalid view"} 2',
        'fibc_messages_rejected_total{reason="transport bad-frame"} 1',
        'fibc_messages_rejected_total{reason="rate limited"} 0',
        'fibc_tasks{state="registered"} 3',
        'fibc_tasks{state="cancelled"} 2',
        'fibc_tasks{state="refunded"} 0',
        'fibc_view_height{chain_id="1002"} 125',
        'fibc_chain_head_height{chain_id="1001"} 130',
        'fibc_transactions_sent_total{step="precommit"} 1',
        'fibc_rpc_errors_total{method="eth_getProof"} 1',
      ]) {
        assert.ok(lines.has(expected), `missing ${expected}`);
      }
      assert.ok(!lines.has('fibc_view_height{chain_id="1002"} 120'));
    });

    it("escapes backslashes, quotes and newlines in label values", () => {
      const metrics = new Metrics();
      metrics.countRpcError({ method: 'a "quoted"\\path\nnext' });
      assert.ok(samples(metrics.prometheus()).has('fibc_rpc_errors_total{method="a \\"quoted\\"\\\\path\\nnext"} 1'));
    });

    it("counts refusals by a fixed set of reasons, every one from zero, the transport's prefixed", () => {
      const metrics = new Metrics();
      const rejected = [...samples(metrics.prometheus())].filter((line) => line.startsWith("fibc_messages_rejected_total"));
      assert.deepEqual(rejected, REFUSAL_REASONS.map((reason) => `fibc_messages_rejected_total{reason="${reason}"} 0`));
      assert.deepEqual(REFUSAL_REASONS.filter((r) => r.startsWith("transport ")), TRANSPORT_REFUSALS.map((r) => `transport ${r}`));
      assert.equal(new Set(REFUSAL_REASONS).size, REFUSAL_REASONS.length, "no reason twice");
    });
  });

  describe("snapshot", () => {
    it("returns the same counts as a JSON-friendly object", () => {
      const metrics = new Metrics();
      metrics.countMessage({ kind: "cosign", direction: "received", bytes: 250 });
      metrics.setViewHeight(1002n, 42n);
      metrics.countTransactionSent({ step: "terminate" });
      const snapshot = JSON.parse(JSON.stringify(metrics.snapshot()));
      assert.deepEqual(snapshot.messages.received.cosign, { count: 1, bytes: 250 });
      assert.deepEqual(snapshot.messages.sent.cosign, { count: 0, bytes: 0 });
      assert.deepEqual(snapshot.viewHeights, { "1002": 42 });
      assert.deepEqual(snapshot.transactionsSent, { terminate: 1 });
      assert.deepEqual(snapshot.tasks, { registered: 0, precommitted: 0, released: 0, refunded: 0, cancelled: 0 });
    });
  });
});

describe("MetricsServer", () => {
  let metrics: Metrics;
  let server: MetricsServer;
  let base: string;

  beforeEach(async () => {
    metrics = new Metrics();
    metrics.countMessage({ kind: "answer", direction: "sent", bytes: 1_000 });
    server = new MetricsServer({ metrics, port: 0, status: () => ({ chainId: 1001n, peers: 3 }) });
    await server.start();
    assert.notEqual(server.port, 0);
    base = `http://127.0.0.1:${server.port}`;
  });
  afterEach(() => server.stop());

  it("serves GET /metrics as Prometheus text", async () => {
    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type")?.split(";").slice(0, 2).join(";"), "text/plain; version=0.0.4");
    assert.ok(samples(await response.text()).has('fibc_messages_total{kind="answer",direction="sent"} 1'));
  });

  it("serves GET /status as the node's status merged with the metrics snapshot", async () => {
    metrics.setViewHeight(1002n, 77n);
    const response = await fetch(`${base}/status`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    const body = await response.json();
    assert.equal(body.chainId, "1001");
    assert.equal(body.peers, 3);
    assert.deepEqual(body.metrics.messages.sent.answer, { count: 1, bytes: 1_000 });
    assert.deepEqual(body.metrics.viewHeights, { "1002": 77 });
  });

  it("answers 404 to any other path", async () => {
    for (const path of ["/", "/metricsx", "/status/extra", "/favicon.ico"]) {
      const response = await fetch(`${base}${path}`);
      assert.equal(response.status, 404, path);
      await response.body?.cancel();
    }
  });

  it("answers 405 to a POST", async () => {
    const response = await fetch(`${base}/metrics`, { method: "POST" });
    assert.equal(response.status, 405);
    await response.body?.cancel();
  });

  it("answers 500 when the status callback throws", async () => {
    await server.stop();
    server = new MetricsServer({
      metrics,
      port: 0,
      status: () => {
        throw new Error("chain follower down");
      },
    });
    await server.start();
    const response = await fetch(`http://127.0.0.1:${server.port}/status`);
    assert.equal(response.status, 500);
    assert.deepEqual(await response.json(), { error: "chain follower down" });
  });

  it("stops listening on stop()", async () => {
    const port = server.port;
    await server.stop();
    await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
  });
});
