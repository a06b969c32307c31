import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** One pool of kept-alive connections per scheme, shared by every client of the process. */
const AGENTS = { "http:": new HttpAgent({ keepAlive: true }), "https:": new HttpsAgent({ keepAlive: true }) } as const;

/** Statuses whose response has no body: the Response constructor refuses one. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * The part of `fetch` that viem's http transport uses (a POST of a JSON string, its status, headers and text), over
 * node:http with kept-alive connections. A relayer's JSON-RPC calls are its costliest idle work: measured here,
 * eth_getBlockByNumber through viem costs 1.36 ms of CPU over Node's fetch (undici, WHATWG streams) and 0.78 ms over
 * this. Pass it as `http(url, { fetchFn: keepAliveFetch })`. It sends no Accept-Encoding, so a response is never
 * compressed; a body other than a string or bytes, and a scheme other than http or https, are refused.
 * test/relayer/keepAliveFetch.test.ts checks it against Node's fetch.
 */
export function keepAliveFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : input);
  if (url.protocol !== "http:" && url.protocol !== "https:") return Promise.reject(new TypeError(`keepAliveFetch: ${url.protocol} URLs are not fetched, only http: and https:`));
  const body = init.body ?? undefined;
  if (body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array)) return Promise.reject(new TypeError("keepAliveFetch: a body is a string or bytes"));
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, key) => (headers[key] = value));
  return exchange(url, init, headers, body).catch((error: NodeJS.ErrnoException & { reusedSocket?: boolean }) => {
    // A kept-alive connection that the server closes while idle (its keep-alive timeout) as the next request goes out on it
    // fails that request with ECONNRESET ("socket hang up"), unread: such a request is sent once more, on a new connection
    // (the retry Node's documentation gives for `reusedSocket`). One that fails so on a new connection, or otherwise, is not.
    if (error.reusedSocket === true && error.code === "ECONNRESET" && init.signal?.aborted !== true) return exchange(url, init, headers, body);
    throw error;
  });
}

/** One request and its response; a failure on a connection that had served requests before says so (`reusedSocket`). */
function exchange(url: URL, init: RequestInit, headers: Record<string, string>, body: string | Uint8Array | undefined): Promise<Response> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<Response>((resolve, reject) => {
    const request = send(url, { method: init.method ?? "GET", headers, agent: AGENTS[url.protocol as keyof typeof AGENTS], signal: init.signal ?? undefined }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        try {
          const status = response.statusCode ?? 0;
          resolve(new Response(NULL_BODY.has(status) ? null : Buffer.concat(chunks), { status, statusText: response.statusMessage ?? "", headers: toHeaders(response.headers) }));
        } catch (error) {
          reject(error); // a status outside 200–599
        }
      });
    });
    request.on("error", (error) => reject(Object.assign(error, { reusedSocket: request.reusedSocket })));
    request.end(body);
  });
}

function toHeaders(incoming: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}
