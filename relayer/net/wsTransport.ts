import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { bytesToHex, getAddress, isAddress, isAddressEqual, isHex, recoverMessageAddress } from "viem";
import type { Address, Hex, LocalAccount } from "viem";
import { systemClock, type Clock } from "../clock.js";
import { backoff } from "../util/backoff.js";
import { MESSAGE_KINDS, type Message } from "./message.js";
import type { Delivery, Transport } from "./transport.js";

/** Why an inbound frame or connection was refused; each reason has a counter in `WsTransport.rejected`. */
export type RejectReason =
  /** A frame other than the handshake before the peer proved its address, or no proof in time. */
  | "unauthenticated"
  /** A proof that does not recover to the claimed address: a wrong key or a replayed signature. */
  | "bad-auth"
  /** An address that is not allowed, is our own, or is not the one we dialed. */
  | "forbidden"
  /** A frame larger than `maxFrameBytes`; ws closes the socket (1009) from the frame header. */
  | "oversized"
  /** After authentication: not JSON, not an object, or no known `kind`. Dropped, connection kept. */
  | "malformed"
  /** No pong since the previous ping. */
  | "unresponsive";

export const REJECT_REASONS: readonly RejectReason[] = [
  "unauthenticated", "bad-auth", "forbidden", "oversized", "malformed", "unresponsive",
];

/** Close codes this transport sends (4xxx: application codes; 1009 is sent by ws itself). */
export const CLOSE_CODES = {
  goingAway: 1001,
  tooBig: 1009,
  internalError: 1011,
  unauthenticated: 4401,
  forbidden: 4403,
  replaced: 4409,
  busy: 4429,
} as const;

/** Handshake frames. Each side sends `peer-hello` on open and answers the other's with `peer-auth`. */
export type PeerHelloFrame = { kind: "peer-hello"; address: Address; nonce: Hex };
export type PeerAuthFrame = { kind: "peer-auth"; signature: Hex };

export type PeerAuthMessageParameters = { nonce: Hex; challenger: Address; signer: Address };

/**
 * The text a peer signs (EIP-191) to prove its address: tagged with the protocol, bound to the
 * challenger's per-connection nonce and address so a signature is worth one connection to one node.
 */
export function peerAuthMessage({ nonce, challenger, signer }: PeerAuthMessageParameters): string {
  return `FinalityIBC peer auth\nnonce: ${nonce.toLowerCase()}\nchallenger: ${getAddress(challenger)}\nsigner: ${getAddress(signer)}`;
}

export class WsTransportStartError extends Error {
  constructor(readonly host: string, readonly port: number, options: { cause: unknown }) {
    super(`WsTransport cannot listen on ${host}:${port}`, options);
    this.name = "WsTransportStartError";
  }
}

export type WsPeer = { address: Address; url: string };

export type WsTransportParameters = {
  /** The committee key this node proves on every connection. */
  account: LocalAccount;
  /** Where to accept connections; port 0 picks a free port (see `port`). */
  listen: { host: string; port: number };
  /** Whom to dial. Only peers whose address is greater than ours are dialed; the others dial us. */
  peers?: readonly WsPeer[];
  /** Whether `address` is a committee member of any system; checked on every handshake. */
  allowed: (address: Address) => boolean;
  /** Largest frame accepted or sent. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Largest amount buffered for one peer; `send` drops beyond it. Default 4 MiB. */
  maxQueueBytes?: number;
  /** Ping interval; a peer silent for a whole interval is dropped. Default 5000 ms. */
  heartbeatMs?: number;
  /** Redial backoff: starts at `initialMs`, doubles to `maxMs`. Default 250 ms to 10 s. */
  reconnect?: { initialMs: number; maxMs: number };
  clock?: Clock;
};

type Session = {
  ws: WebSocket;
  /** The address we dialed, for outbound connections. */
  expected: Address | undefined;
  /** Our challenge on this connection. */
  nonce: Hex;
  /** What the peer claimed in its hello, before it is proven. */
  claimed: Address | undefined;
  /** Set once the peer proved `claimed`. */
  address: Address | undefined;
  /** Frames are handled in order; the handshake awaits signing and recovery, so later frames wait behind it. */
  chain: Promise<void>;
  backlog: number;
  /** Answered the last ping (authenticated sessions). */
  alive: boolean;
  /** Already seen unauthenticated by a heartbeat (unauthenticated sessions). */
  stale: boolean;
  closing: boolean;
  cancelKill: (() => void) | undefined;
};

type Dialer = {
  peer: WsPeer;
  delays: ReturnType<typeof backoff>;
  session: Session | undefined;
  cancelTimer: (() => void) | undefined;
};

/** Frames a peer may send while its handshake is being checked; more is a flood. */
const MAX_HANDSHAKE_BACKLOG = 16;
/** Handshake frames are tiny; anything bigger before authentication is refused. */
const MAX_HANDSHAKE_FRAME_BYTES = 1024;
/** Unauthenticated inbound connections held at once. */
const MAX_PENDING_INBOUND = 256;
/** How long a closing socket may take to finish the close handshake before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

/**
 * `Transport` over WebSockets. Both ends of every connection prove a committee address by signing
 * the other's fresh nonce; frames are JSON `Message`s; a heartbeat drops dead peers; the queue per
 * peer is bounded, and `send` drops (returns 0) beyond it.
 */
export class WsTransport implements Transport {
  readonly self: Address;
  /** Refused frames and connections, by reason. */
  readonly rejected: Record<RejectReason, number>;
  /** Messages `send` dropped: no authenticated connection, queue full, or larger than a frame. */
  readonly dropped = { notConnected: 0, queueFull: 0, oversized: 0 };
  /** Exceptions thrown by the message handler (caught so a peer cannot crash the node through it). */
  handlerErrors = 0;

  readonly #account: LocalAccount;
  readonly #listen: { host: string; port: number };
  readonly #allowed: (address: Address) => boolean;
  readonly #maxFrameBytes: number;
  readonly #maxQueueBytes: number;
  readonly #heartbeatMs: number;
  readonly #clock: Clock;
  readonly #dialers: Dialer[];
  readonly #sessions = new Set<Session>();
  readonly #byAddress = new Map<Address, Session>();
  #server: WebSocketServer | undefined;
  #port: number | undefined;
  #handler: ((delivery: Delivery) => void) | undefined;
  #started = false;
  #cancelHeartbeat: (() => void) | undefined;

  constructor({
    account,
    listen,
    peers = [],
    allowed,
    maxFrameBytes = 1 << 20,
    maxQueueBytes = 4 << 20,
    heartbeatMs = 5000,
    reconnect = { initialMs: 250, maxMs: 10_000 },
    clock = systemClock,
  }: WsTransportParameters) {
    this.#account = account;
    this.self = getAddress(account.address);
    this.#listen = listen;
    this.#allowed = allowed;
    this.#maxFrameBytes = maxFrameBytes;
    this.#maxQueueBytes = maxQueueBytes;
    this.#heartbeatMs = heartbeatMs;
    this.#clock = clock;
    this.rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
    // Each pair keeps one connection: the smaller address dials the greater.
    this.#dialers = peers
      .map((p) => ({ address: getAddress(p.address), url: p.url }))
      .filter((p) => BigInt(p.address) > BigInt(this.self))
      .map((peer) => ({ peer, delays: backoff(reconnect), session: undefined, cancelTimer: undefined }));
  }

  /** The port the server is bound to; available after `start()`. */
  get port(): number {
    if (this.#port === undefined) throw new Error("WsTransport is not started");
    return this.#port;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    const { host, port } = this.#listen;
    const server = new WebSocketServer({
      host,
      port,
      maxPayload: this.#maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("listening", resolve);
        server.once("error", reject);
      });
    } catch (cause) {
      server.close();
      throw new WsTransportStartError(host, port, { cause });
    }
    server.on("error", () => {}); // after listening, errors surface on the sockets
    server.on("connection", (ws) => this.#onInbound(ws));
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
    this.#started = true;
    for (const dialer of this.#dialers) this.#dial(dialer);
    this.#scheduleHeartbeat();
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#cancelHeartbeat?.();
    this.#cancelHeartbeat = undefined;
    for (const dialer of this.#dialers) {
      dialer.cancelTimer?.();
      dialer.cancelTimer = undefined;
      dialer.delays.reset();
    }
    const closed = [...this.#sessions].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.ws.readyState === WebSocket.CLOSED) return resolve();
          s.ws.once("close", () => resolve());
          this.#close(s, CLOSE_CODES.goingAway, "stopping");
        }),
    );
    await Promise.all(closed);
    const server = this.#server;
    this.#server = undefined;
    this.#port = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  send(to: Address, message: Message): number {
    const session = this.#byAddress.get(getAddress(to));
    if (!session || session.ws.readyState !== WebSocket.OPEN) {
      this.dropped.notConnected++;
      return 0;
    }
    const frame = JSON.stringify(message);
    const bytes = Buffer.byteLength(frame);
    if (bytes > this.#maxFrameBytes) {
      this.dropped.oversized++;
      return 0;
    }
    if (session.ws.bufferedAmount + bytes > this.#maxQueueBytes) {
      this.dropped.queueFull++;
      return 0;
    }
    session.ws.send(frame);
    return bytes;
  }

  connected(): Address[] {
    return [...this.#byAddress.keys()];
  }

  onMessage(handler: (delivery: Delivery) => void): void {
    this.#handler = handler;
  }

  /** Bytes queued for `peer` and not yet written to the network (0 when not connected). */
  bufferedAmount(peer: Address): number {
    return this.#byAddress.get(getAddress(peer))?.ws.bufferedAmount ?? 0;
  }

  #onInbound(ws: WebSocket): void {
    if (!this.#started) return void ws.terminate();
    const pending = [...this.#sessions].filter((s) => !s.address && !s.expected).length;
    if (pending >= MAX_PENDING_INBOUND) {
      ws.on("error", () => {});
      ws.close(CLOSE_CODES.busy, "too many handshakes");
      const cancel = this.#clock.setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
      ws.once("close", cancel);
      return;
    }
    this.#open(ws, undefined);
  }

  #dial(dialer: Dialer): void {
    dialer.cancelTimer = undefined;
    if (!this.#started) return;
    if (this.#byAddress.has(dialer.peer.address)) {
      // The peer reached us first (its configuration says otherwise); check again later.
      this.#redial(dialer);
      return;
    }
    const ws = new WebSocket(dialer.peer.url, {
      maxPayload: this.#maxFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: this.#heartbeatMs,
    });
    const session = this.#open(ws, dialer.peer.address);
    dialer.session = session;
    ws.once("close", () => {
      if (dialer.session === session) dialer.session = undefined;
      this.#redial(dialer);
    });
  }

  #redial(dialer: Dialer): void {
    if (!this.#started || dialer.cancelTimer) return;
    dialer.cancelTimer = this.#clock.setTimeout(() => this.#dial(dialer), dialer.delays.next());
  }

  /** Tracks a socket from its first byte: hello out on open, frames in order, cleanup on close. */
  #open(ws: WebSocket, expected: Address | undefined): Session {
    const session: Session = {
      ws,
      expected,
      nonce: bytesToHex(randomBytes(32)),
      claimed: undefined,
      address: undefined,
      chain: Promise.resolve(),
      backlog: 0,
      alive: true,
      stale: false,
      closing: false,
      cancelKill: undefined,
    };
    this.#sessions.add(session);
    const hello = () => this.#write(session, { kind: "peer-hello", address: this.self, nonce: session.nonce });
    if (ws.readyState === WebSocket.OPEN) hello();
    else ws.once("open", hello);
    ws.on("pong", () => (session.alive = true));
    ws.on("error", (error: Error & { code?: string }) => {
      // ws has already sent the close frame (1009) without reading the payload; forget the peer now.
      if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") this.#kill(session, "oversized", false);
    });
    ws.on("message", (data, isBinary) => this.#onFrame(session, data, isBinary));
    ws.once("close", () => {
      session.cancelKill?.();
      this.#sessions.delete(session);
      if (session.address && this.#byAddress.get(session.address) === session) this.#byAddress.delete(session.address);
    });
    return session;
  }

  #onFrame(session: Session, data: RawData, isBinary: boolean): void {
    if (session.closing) return;
    const text = isBinary ? undefined : rawText(data);
    if (session.address && session.backlog === 0) return this.#deliver(session, text);
    if (!session.address) {
      if (text === undefined || text.length > MAX_HANDSHAKE_FRAME_BYTES || session.backlog >= MAX_HANDSHAKE_BACKLOG) {
        return this.#refuse(session, "unauthenticated", CLOSE_CODES.unauthenticated);
      }
    }
    session.backlog++;
    session.chain = session.chain.then(async () => {
      try {
        if (session.closing) return;
        if (session.address) this.#deliver(session, text);
        else await this.#handshake(session, text as string);
      } catch {
        this.#close(session, CLOSE_CODES.internalError, "handshake failed");
      } finally {
        session.backlog--;
      }
    });
  }

  async #handshake(session: Session, text: string): Promise<void> {
    const frame = parseJson(text);
    if (!session.claimed) {
      if (!isHello(frame)) return this.#refuse(session, "unauthenticated", CLOSE_CODES.unauthenticated);
      const claimed = getAddress(frame.address);
      const forbidden =
        isAddressEqual(claimed, this.self) ||
        (session.expected !== undefined && !isAddressEqual(claimed, session.expected)) ||
        !this.#allowed(claimed);
      if (forbidden) return this.#refuse(session, "forbidden", CLOSE_CODES.forbidden);
      session.claimed = claimed;
      const signature = await this.#account.signMessage({
        message: peerAuthMessage({ nonce: frame.nonce, challenger: claimed, signer: this.self }),
      });
      if (!session.closing) this.#write(session, { kind: "peer-auth", signature } satisfies PeerAuthFrame);
      return;
    }
    if (!isAuth(frame)) return this.#refuse(session, "unauthenticated", CLOSE_CODES.unauthenticated);
    const claimed = session.claimed;
    const message = peerAuthMessage({ nonce: session.nonce, challenger: this.self, signer: claimed });
    let signer: Address | undefined;
    try {
      signer = await recoverMessageAddress({ message, signature: frame.signature });
    } catch {
      signer = undefined;
    }
    if (session.closing) return;
    if (!signer || !isAddressEqual(signer, claimed)) return this.#refuse(session, "bad-auth", CLOSE_CODES.unauthenticated);
    if (!this.#started) return this.#close(session, CLOSE_CODES.goingAway, "stopping");
    session.address = claimed;
    const previous = this.#byAddress.get(claimed);
    this.#byAddress.set(claimed, session);
    if (previous && previous !== session) this.#close(previous, CLOSE_CODES.replaced, "replaced by a newer connection");
    const dialer = this.#dialers.find((d) => d.session === session);
    if (dialer) dialer.delays.reset();
  }

  #deliver(session: Session, text: string | undefined): void {
    const message = text === undefined ? undefined : parseJson(text);
    if (!isMessage(message)) {
      this.rejected.malformed++;
      return;
    }
    const handler = this.#handler;
    if (!handler || !session.address) return;
    try {
      handler({ from: session.address, message, bytes: Buffer.byteLength(text as string) });
    } catch {
      this.handlerErrors++;
    }
  }

  #write(session: Session, frame: PeerHelloFrame | PeerAuthFrame): void {
    if (session.ws.readyState === WebSocket.OPEN) session.ws.send(JSON.stringify(frame));
  }

  #refuse(session: Session, reason: RejectReason, code: number): void {
    this.rejected[reason]++;
    this.#close(session, code, reason);
  }

  /** Closes politely, then destroys the socket if the peer does not finish the close handshake. */
  #close(session: Session, code: number, reason: string): void {
    if (session.closing) return;
    session.closing = true;
    if (session.address && this.#byAddress.get(session.address) === session) this.#byAddress.delete(session.address);
    const { ws } = session;
    if (ws.readyState === WebSocket.CLOSED) return;
    if (ws.readyState === WebSocket.CONNECTING) return void ws.terminate();
    ws.close(code, reason);
    session.cancelKill = this.#clock.setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
  }

  #scheduleHeartbeat(): void {
    this.#cancelHeartbeat = this.#clock.setTimeout(() => {
      this.#heartbeat();
      if (this.#started) this.#scheduleHeartbeat();
    }, this.#heartbeatMs);
  }

  /** Drops a peer that has not answered the previous ping, or has not authenticated within an interval. */
  #heartbeat(): void {
    for (const session of this.#sessions) {
      const { ws } = session;
      if (session.closing || ws.readyState !== WebSocket.OPEN) continue;
      if (!session.address) {
        if (session.stale) this.#kill(session, "unauthenticated");
        else session.stale = true;
        continue;
      }
      if (!session.alive) {
        this.#kill(session, "unresponsive");
        continue;
      }
      session.alive = false;
      ws.ping();
    }
  }

  /**
   * Counts `reason` and forgets the session at once. `terminate` destroys the socket now; otherwise ws is
   * already closing it and we only bound how long the peer may take to answer.
   */
  #kill(session: Session, reason: RejectReason, terminate = true): void {
    this.rejected[reason]++;
    session.closing = true;
    if (session.address && this.#byAddress.get(session.address) === session) this.#byAddress.delete(session.address);
    if (terminate) session.ws.terminate();
    else session.cancelKill = this.#clock.setTimeout(() => session.ws.terminate(), CLOSE_GRACE_MS);
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isHello(value: unknown): value is PeerHelloFrame {
  return (
    isObject(value) &&
    value.kind === "peer-hello" &&
    typeof value.address === "string" &&
    isAddress(value.address, { strict: false }) &&
    typeof value.nonce === "string" &&
    isHex(value.nonce) &&
    value.nonce.length === 66
  );
}

function isAuth(value: unknown): value is PeerAuthFrame {
  return isObject(value) && value.kind === "peer-auth" && typeof value.signature === "string" && isHex(value.signature);
}

/** Shape check only: the protocol code validates each message's fields before believing it. */
function isMessage(value: unknown): value is Message {
  return isObject(value) && typeof value.kind === "string" && (MESSAGE_KINDS as readonly string[]).includes(value.kind);
}
