import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { RelayerError } from "../util/relayerError.js";
import { NetworkWatcher, type NetworkSnapshot } from "./networkWatcher.js";

export class DashboardError extends RelayerError {}

export type DashboardServerParameters = {
  /** The devnet directory (its devnet.json); it may not exist yet: the page says so until `up` writes it. */
  dir: string;
  /** 0 picks a free port; read `url` after start(). */
  port: number;
  /** Default 127.0.0.1: the dashboard shows keys' addresses and endpoints, not for the open internet. */
  host?: string;
  /** How often a snapshot is taken while someone watches; default 1,000 ms. */
  intervalMs?: number;
};

/** The page, its script and its style; nothing else is served from disk. */
const PUBLIC = resolve(dirname(fileURLToPath(import.meta.url)), "public");
const FILES: Record<string, string> = { "/": "index.html", "/index.html": "index.html", "/dashboard.js": "dashboard.js", "/dashboard.css": "dashboard.css" };
const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };

/**
 * The dashboard of a devnet: a page (relayer/dashboard/public) and GET /events, a server-sent-events stream of
 * NetworkWatcher snapshots, one every `intervalMs` while at least one page is open; GET /snapshot answers one as JSON.
 */
export class DashboardServer {
  readonly #watcher: NetworkWatcher;
  readonly #host: string;
  readonly #requestedPort: number;
  readonly #intervalMs: number;
  readonly #clients = new Set<ServerResponse>();
  #server: Server | undefined;
  #timer: NodeJS.Timeout | undefined;
  #last: string | undefined;
  #taking: Promise<string> | undefined;

  constructor({ dir, port, host = "127.0.0.1", intervalMs = 1_000 }: DashboardServerParameters) {
    this.#watcher = new NetworkWatcher(resolve(dir));
    this.#host = host;
    this.#requestedPort = port;
    this.#intervalMs = intervalMs;
  }

  get url(): string {
    const address = this.#server?.address() as AddressInfo | null | undefined;
    return `http://${this.#host}:${address?.port ?? this.#requestedPort}/`;
  }

  async start(): Promise<void> {
    if (this.#server !== undefined) return;
    const server = createServer((request, response) => void this.#handle(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error) => reject(new DashboardError(`the dashboard cannot listen on ${this.#host}:${this.#requestedPort}: ${error.message}`, { cause: error })));
      server.listen(this.#requestedPort, this.#host, () => resolve());
    });
    this.#server = server;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const client of this.#clients) client.end();
    this.#clients.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** One snapshot as JSON; snapshots asked for at once share one reading of the network. */
  #take(): Promise<string> {
    this.#taking ??= this.#watcher
      .snapshot()
      .then((s: NetworkSnapshot) => (this.#last = JSON.stringify(s)))
      .finally(() => (this.#taking = undefined));
    return this.#taking;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (request.method !== "GET") return send(response, 405, "text/plain; charset=utf-8", "method not allowed\n");
    if (path === "/events") return this.#subscribe(response);
    if (path === "/snapshot") {
      try {
        return send(response, 200, "application/json; charset=utf-8", await this.#take());
      } catch (error) {
        return send(response, 500, "text/plain; charset=utf-8", `${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
    const file = FILES[path];
    if (file === undefined) return send(response, 404, "text/plain; charset=utf-8", "not found\n");
    try {
      send(response, 200, TYPES[extname(file)]!, await readFile(join(PUBLIC, file), "utf8"));
    } catch (error) {
      send(response, 500, "text/plain; charset=utf-8", `cannot read the page's ${file}: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }

  /** Keeps the response open as an event stream; the first subscriber starts the snapshots, the last one's leaving stops them. */
  #subscribe(response: ServerResponse): void {
    response.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive" });
    response.write("retry: 2000\n\n");
    if (this.#last !== undefined) response.write(`data: ${this.#last}\n\n`);
    this.#clients.add(response);
    response.on("close", () => {
      this.#clients.delete(response);
      if (this.#clients.size === 0) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    });
    if (this.#timer !== undefined) return;
    const tick = () =>
      void this.#take()
        .then((data) => {
          for (const client of this.#clients) client.write(`data: ${data}\n\n`);
        })
        .catch(() => undefined);
    this.#timer = setInterval(tick, this.#intervalMs);
    tick();
  }
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
  response.end(body);
}

/**
 * Starts a dashboard of the devnet in `dir` on `port`, or on any free port when that one is taken (a second devnet on the same
 * machine still gets one); what `fibc devnet up`, `fibc deploy` and `npm run demo` call. Resolves with the running server.
 */
export async function openDashboard({ dir, port = 8080, host }: { dir: string; port?: number; host?: string }): Promise<DashboardServer> {
  const first = new DashboardServer({ dir, port, ...(host === undefined ? {} : { host }) });
  try {
    await first.start();
    return first;
  } catch (error) {
    if (!(error instanceof DashboardError && (error.cause as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE")) throw error;
    const any = new DashboardServer({ dir, port: 0, ...(host === undefined ? {} : { host }) });
    await any.start();
    return any;
  }
}
