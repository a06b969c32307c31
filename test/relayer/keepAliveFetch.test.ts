import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createPublicClient, http, HttpRequestError, TimeoutError } from "viem";
import { keepAliveFetch } from "../../relayer/chain/keepAliveFetch.js";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** A local server whose answers the tests choose by path; it counts the TCP connections it accepted. */
async function server(routes: Record<string, Handler>): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const s: Server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    (routes[req.url ?? "/"] ?? ((_, __, r) => r.writeHead(404).end("no route")))(req, body, res);
  });
  s.on("connection", () => (connections += 1));
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    connections: () => connections,
    close: async () => {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}

/** What a caller of fetch sees of a response. */
async function seen(response: Response) {
  return { status: response.status, ok: response.ok, contentType: response.headers.get("content-type"), custom: response.headers.get("x-custom"), text: await response.text() };
}

describe("keepAliveFetch (node:http with kept-alive connections, in place of Node's fetch for JSON-RPC)", () => {
  const big = "x".repeat(1 << 20);
  let s: Awaited<ReturnType<typeof server>>;
  before(async () => {
    s = await server({
      "/echo": (req, body, res) => res.writeHead(200, { "content-type": "application/json", "x-custom": "a" }).end(JSON.stringify({ method: req.method, type: req.headers["content-type"], body })),
      "/error": (_, __, res) => res.writeHead(500, { "content-type": "application/json" }).end('{"error":{"code":-32000,"message":"boom"}}'),
      "/text": (_, __, res) => res.writeHead(200, { "content-type": "text/plain" }).end("plain words"),
      "/chunked": (_, __, res) => {
        res.writeHead(200, { "content-type": "text/plain" });
        for (let i = 0; i < big.length; i += 65_536) res.write(big.slice(i, i + 65_536));
        res.end();
      },
      "/empty": (_, __, res) => res.writeHead(204).end(),
      "/stall": () => {},
    });
  });
  after(() => s.close());

  for (const path of ["/echo", "/error", "/text", "/chunked", "/empty", "/missing"]) {
    it(`answers ${path} as Node's fetch does: status, ok, headers and body`, async () => {
      const init = { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}' };
      assert.deepEqual(await seen(await keepAliveFetch(`${s.url}${path}`, init)), await seen(await fetch(`${s.url}${path}`, init)));
    });
  }

  it("sends a hundred requests over one connection", async () => {
    const fresh = await server({ "/": (_, body, res) => res.writeHead(200).end(body) });
    try {
      for (let i = 0; i < 100; i++) assert.equal(await (await keepAliveFetch(`${fresh.url}/`, { method: "POST", body: String(i) })).text(), String(i));
      assert.equal(fresh.connections(), 1);
    } finally {
      await fresh.close();
    }
  });

  it("refuses what it does not fetch, with a clear error: another scheme, a stream body", async () => {
    await assert.rejects(keepAliveFetch("file:///etc/hostname"), /file: URLs are not fetched/);
    await assert.rejects(keepAliveFetch(`${s.url}/echo`, { method: "POST", body: new Blob(["x"]) }), /a body is a string or bytes/);
  });

  describe("under viem's http transport", () => {
    const viaFetch = (url: string, timeout?: number) => createPublicClient({ transport: http(url, { retryCount: 0, ...(timeout && { timeout }) }) });
    const viaKeepAlive = (url: string, timeout?: number) => createPublicClient({ transport: http(url, { retryCount: 0, fetchFn: keepAliveFetch, ...(timeout && { timeout }) }) });

    it("gives the same results and the same JSON-RPC errors", async () => {
      const rpc = await server({
        "/": (_, body, res) => {
          const call = JSON.parse(body) as { id: number; method: string };
          const answer = call.method === "eth_chainId" ? { result: "0x7a69" } : { error: { code: -32601, message: `no method ${call.method}` } };
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: call.id, ...answer }));
        },
      });
      try {
        for (const client of [viaFetch, viaKeepAlive]) assert.equal(await client(`${rpc.url}/`).getChainId(), 31337);
        const errors = await Promise.all([viaFetch, viaKeepAlive].map((client) => client(`${rpc.url}/`).request({ method: "eth_nope" as "eth_chainId" }).catch((e: Error) => e.message.split("\n")[0])));
        assert.equal(errors[0], errors[1]);
        assert.match(errors[1]!, /eth_nope/);
      } finally {
        await rpc.close();
      }
    });

    it("fails as Node's fetch does on a dead endpoint (HttpRequestError) and on one that never answers (TimeoutError)", async () => {
      const dead = await server({});
      const deadUrl = dead.url;
      await dead.close();
      for (const client of [viaFetch, viaKeepAlive]) {
        await assert.rejects(client(deadUrl).getChainId(), (e: Error) => e instanceof HttpRequestError || (e.cause as Error | undefined) instanceof HttpRequestError || /HTTP request failed/.test(e.message));
        await assert.rejects(client(`${s.url}/stall`, 200).getChainId(), (e: Error) => e instanceof TimeoutError || (e.cause as Error | undefined) instanceof TimeoutError || /took too long/.test(e.message));
      }
    });
  });

  describe("a kept-alive connection the server closes as a request goes out on it (its keep-alive timeout)", () => {
    it("sends that request once more on a new connection, and answers it", async () => {
      // The server answers the first request of each connection and hangs up on the next one, unanswered.
      const served = new WeakMap<object, number>();
      const racy = await server({
        "/": (req, body, res) => {
          const count = (served.get(req.socket) ?? 0) + 1;
          served.set(req.socket, count);
          if (count > 1) return req.socket.destroy();
          res.writeHead(200, { "content-type": "application/json" }).end(body);
        },
      });
      try {
        const first = await keepAliveFetch(`${racy.url}/`, { method: "POST", body: "one" });
        assert.equal(await first.text(), "one");
        const second = await keepAliveFetch(`${racy.url}/`, { method: "POST", body: "two" });
        assert.equal(await second.text(), "two", "answered on a new connection");
        assert.equal(racy.connections(), 2);
      } finally {
        await racy.close();
      }
    });

    it("does not send again a request that a new connection hung up on", async () => {
      const hangsUp = await server({ "/": (req) => req.socket.destroy() });
      try {
        await assert.rejects(keepAliveFetch(`${hangsUp.url}/`, { method: "POST", body: "x" }), (e: NodeJS.ErrnoException) => e.code === "ECONNRESET");
        assert.equal(hangsUp.connections(), 1, "sent once");
      } finally {
        await hangsUp.close();
      }
    });
  });
});
