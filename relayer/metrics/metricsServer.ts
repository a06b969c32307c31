import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "./metrics.js";
import { RelayerError } from "../util/relayerError.js";

export type MetricsServerParameters = {
  metrics: Metrics;
  /** Port to listen on; 0 picks a free one (read it from `port` after start()). */
  port: number;
  /** Defaults to 127.0.0.1: metrics are not for the open internet. */
  host?: string;
  /** The node's own status for GET /status; the metrics snapshot is added under `metrics`. */
  status?: () => Record<string, unknown> | Promise<Record<string, unknown>>;
};

export class MetricsServerError extends RelayerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Serves GET /metrics (Prometheus text) and GET /status (JSON) over HTTP. */
export class MetricsServer {
  private readonly metrics: Metrics;
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly status: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  private server: Server | undefined;

  constructor({ metrics, port, host = "127.0.0.1", status = () => ({}) }: MetricsServerParameters) {
    this.metrics = metrics;
    this.host = host;
    this.requestedPort = port;
    this.status = status;
  }

  /** The port listened on once started, else the one asked for. */
  get port(): number {
    const address = this.server?.address();
    return address !== null && typeof address === "object" ? (address as AddressInfo).port : this.requestedPort;
  }

  async start(): Promise<void> {
    if (this.server !== undefined) return;
    const server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(new MetricsServerError(`cannot listen on ${this.host}:${this.requestedPort}`, { cause: error }));
      server.once("error", onError);
      server.listen(this.requestedPort, this.host, () => {
        server.off("error", onError);
        resolve();
      });
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path !== "/metrics" && path !== "/status") return send(response, 404, "text/plain; charset=utf-8", "not found\n");
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("Allow", "GET, HEAD");
      return send(response, 405, "text/plain; charset=utf-8", "method not allowed\n");
    }
    if (path === "/metrics") return send(response, 200, PROMETHEUS_CONTENT_TYPE, this.metrics.prometheus());
    try {
      const body = { ...(await this.status()), metrics: this.metrics.snapshot() };
      send(response, 200, "application/json; charset=utf-8", JSON.stringify(body, jsonBigInt) + "\n");
    } catch (error) {
      send(response, 500, "application/json; charset=utf-8", JSON.stringify({ error: error instanceof Error ? error.message : String(error) }) + "\n");
    }
  }
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
  response.end(response.req.method === "HEAD" ? undefined : body);
}

/** Status objects may carry bigints (heights, chain ids): JSON has no bigint, so they travel as decimal strings. */
function jsonBigInt(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
