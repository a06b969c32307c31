import { once } from "node:events";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { Address } from "viem";
import type { DevnetLinks } from "../devnet/devnet.js";

/** One link of the devnet: a relayer's JSON-RPC link to its chain, or the link between two relayers. */
type Link = { kind: "rpc"; chain: number; relayer: Address } | { kind: "peer"; ends: [Address, Address] };

/** A TCP proxy that carries one link, and can cut it: open connections are reset and new ones refused until it is restored. */
class LinkProxy {
  readonly link: Link;
  readonly port: number;
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  readonly #server: Server;
  #cuts = 0;

  private constructor(link: Link, target: { host: string; port: number }, server: Server, port: number) {
    this.link = link;
    this.#target = target;
    this.#server = server;
    this.port = port;
  }

  static async open(link: Link, target: { host: string; port: number }): Promise<LinkProxy> {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const proxy = new LinkProxy(link, target, server, (server.address() as { port: number }).port);
    server.on("connection", (socket) => proxy.#carry(socket));
    return proxy;
  }

  /** Cuts the link (cuts nest: it is restored when every cut is). */
  cut(): void {
    if (this.#cuts++ > 0) return;
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
  }

  restore(): void {
    if (this.#cuts > 0) this.#cuts--;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (this.#server.listening) await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #carry(client: Socket): void {
    // A cut link answers a new connection with a reset: the listener stays, so that no other socket takes its port meanwhile.
    if (this.#cuts > 0) {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection(this.#target);
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    const drop = () => {
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/**
 * The network between a devnet's processes on one host, as something that can fail: every link a relayer has (JSON-RPC to
 * its chain, a WebSocket to each peer) runs through a proxy of its own on 127.0.0.1, so a chain's endpoint can refuse its
 * relayers, and a relayer can be cut off from everything, while the processes themselves run on. Passed to `Devnet.up` as
 * its `links`. The users of a load run reach the chains directly: the faults are the relayers' to survive.
 */
export class FaultNet implements DevnetLinks {
  readonly #proxies: LinkProxy[] = [];

  async rpc({ relayer, chain, url }: { relayer: Address; chain: number; url: string }): Promise<string> {
    const target = new URL(url);
    const proxy = await this.#open({ kind: "rpc", chain, relayer }, target);
    target.hostname = "127.0.0.1";
    target.port = String(proxy.port);
    return target.toString().replace(/\/$/, "");
  }

  async peer({ from, to, url }: { from: Address; to: Address; url: string }): Promise<string> {
    const target = new URL(url);
    const proxy = await this.#open({ kind: "peer", ends: [from, to] }, target);
    return `ws://127.0.0.1:${proxy.port}`;
  }

  /** Chain `chain`'s JSON-RPC refuses its relayers until `restoreRpc`. */
  refuseRpc(chain: number): void {
    this.#each((l) => l.kind === "rpc" && l.chain === chain, (p) => p.cut());
  }

  restoreRpc(chain: number): void {
    this.#each((l) => l.kind === "rpc" && l.chain === chain, (p) => p.restore());
  }

  /** Every link of `relayer` (to its chain and to each peer) is cut until `rejoin`. */
  isolate(relayer: Address): void {
    this.#each((l) => touches(l, relayer), (p) => p.cut());
  }

  rejoin(relayer: Address): void {
    this.#each((l) => touches(l, relayer), (p) => p.restore());
  }

  async close(): Promise<void> {
    await Promise.all(this.#proxies.map((p) => p.close()));
  }

  async #open(link: Link, target: URL): Promise<LinkProxy> {
    const port = Number(target.port || (target.protocol === "https:" || target.protocol === "wss:" ? 443 : 80));
    const proxy = await LinkProxy.open(link, { host: target.hostname, port });
    this.#proxies.push(proxy);
    return proxy;
  }

  #each(match: (link: Link) => boolean, act: (proxy: LinkProxy) => void): void {
    for (const proxy of this.#proxies) if (match(proxy.link)) act(proxy);
  }
}

function touches(link: Link, relayer: Address): boolean {
  return link.kind === "rpc" ? link.relayer === relayer : link.ends.includes(relayer);
}
