import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { getAddress, isAddressEqual } from "viem";
import type { Address, LocalAccount } from "viem";
import { systemClock, type Clock } from "../clock.js";
import { backoff } from "../util/backoff.js";
import { acceptFinish, answerHello, answerReply, startHandshake, type InitiatorState, type LinkKeys, type ResponderState } from "./handshake.js";
import type { Message } from "./message.js";
import { decodeMessage } from "./messageSchema.js";
import { TRANSPORT_REFUSALS, type TransportRefusal } from "./refusalReason.js";
import { FrameOpener, FrameSealer, TAG_BYTES } from "./sealedFrames.js";
import type { Delivery, Transport } from "./transport.js";
import { RelayerError } from "../util/relayerError.js";

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

export class WsTransportStartError extends RelayerError {
  constructor(readonly host: string, readonly port: number, options: { cause: unknown }) {
    super(`WsTransport cannot listen on ${host}:${port}`, options);
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
  /** Largest frame accepted or sent, counted in sealed bytes (a message plus the 16-byte tag). Default 1 MiB. */
  maxFrameBytes?: number;
  /** Largest amount buffered for one peer; `send` drops beyond it. Default 4 MiB. */
  maxQueueBytes?: number;
  /**
   * Heartbeat interval. A link that brought nothing (no sealed frame that opened, no ping, no pong) for a whole interval
   * is pinged, and dropped if the next interval brings nothing either; a link that carries messages is never pinged.
   * Default 15 s: with every member linked to every other, a ping and its pong per link and interval were a tenth of an
   * idle relayer's CPU at 5 s (each one a socket write).
   */
  heartbeatMs?: number;
  /** Redial backoff: starts at `initialMs`, doubles to `maxMs`. Default 250 ms to 10 s. */
  reconnect?: { initialMs: number; maxMs: number };
  clock?: Clock;
  /** Called for every refused frame or connection, besides its counter in `rejected` (the node's metrics). */
  onRefused?: (reason: TransportRefusal) => void;
};

/** Where a connection is in the handshake: the message it waits for and what it needs to check it. */
type Handshake =
  | { awaits: "hello" }
  | { awaits: "reply"; state: InitiatorState }
  | { awaits: "finish"; state: ResponderState };

type Session = {
  ws: WebSocket;
  /** The address we dialed, for outbound connections (we initiate the handshake on those). */
  expected: Address | undefined;
  /** Until the link is keyed; dropped then, with the ephemeral secret it holds. */
  handshake: Handshake | undefined;
  /** Set once the peer proved its address and the link is keyed. */
  address: Address | undefined;
  sealer: FrameSealer | undefined;
  opener: FrameOpener | undefined;
  /** Frames are handled in order; a handshake step that signs is awaited, so frames that arrive meanwhile wait behind it. */
  chain: Promise<void>;
  backlog: number;
  /** Heard from since the last heartbeat: a sealed frame that opened, a ping or a pong (authenticated sessions). */
  heard: boolean;
  /** Pinged at the last heartbeat, having been silent through the interval before it. */
  pinged: boolean;
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
/** Handshake messages are under 200 bytes; anything bigger queued before authentication is refused. */
const MAX_HANDSHAKE_FRAME_BYTES = 256;
/** Unauthenticated inbound connections held at once. */
const MAX_PENDING_INBOUND = 256;
/** How long a closing socket may take to finish the close handshake before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

/**
 * `Transport` over WebSockets. The dialer and the dialed run the handshake of `handshake.ts`: both prove a
 * committee address by signing the whole transcript, and an ephemeral X25519 exchange keys the link. Every
 * later frame is a JSON `Message` sealed with ChaCha20-Poly1305 under the key of its direction and its place in
 * the stream (`sealedFrames.ts`): a frame that does not open closes the connection. A heartbeat drops dead
 * peers; the queue per peer is bounded, and `send` drops (returns 0) beyond it.
 */
export class WsTransport implements Transport {
  readonly self: Address;
  /** Refused frames and connections, by reason. */
  readonly rejected: Record<TransportRefusal, number>;
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
  readonly #onRefused: ((reason: TransportRefusal) => void) | undefined;
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
    heartbeatMs = 15_000,
    reconnect = { initialMs: 250, maxMs: 10_000 },
    clock = systemClock,
    onRefused,
  }: WsTransportParameters) {
    this.#account = account;
    this.self = getAddress(account.address);
    this.#listen = listen;
    this.#allowed = allowed;
    this.#maxFrameBytes = maxFrameBytes;
    this.#maxQueueBytes = maxQueueBytes;
    this.#heartbeatMs = heartbeatMs;
    this.#clock = clock;
    this.#onRefused = onRefused;
    this.rejected = Object.fromEntries(TRANSPORT_REFUSALS.map((r) => [r, 0])) as Record<TransportRefusal, number>;
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

  /** Returns the message's size, as `MemoryTransport` does, so that the metrics do not depend on the transport. */
  send(to: Address, message: Message): number {
    const session = this.#byAddress.get(getAddress(to));
    if (!session || session.ws.readyState !== WebSocket.OPEN) {
      this.dropped.notConnected++;
      return 0;
    }
    const plaintext = Buffer.from(JSON.stringify(message));
    const sealedBytes = plaintext.length + TAG_BYTES;
    if (sealedBytes > this.#maxFrameBytes) {
      this.dropped.oversized++;
      return 0;
    }
    if (session.ws.bufferedAmount + sealedBytes > this.#maxQueueBytes) {
      this.dropped.queueFull++;
      return 0;
    }
    // Sealed only once it is certain to be sent: the receiver expects every counter value in turn.
    session.ws.send(session.sealer!.seal(plaintext));
    return plaintext.length;
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

  /** Tracks a socket from its first byte: the dialer's hello out on open, frames in order, cleanup on close. */
  #open(ws: WebSocket, expected: Address | undefined): Session {
    const session: Session = {
      ws,
      expected,
      handshake: expected === undefined ? { awaits: "hello" } : undefined,
      address: undefined,
      sealer: undefined,
      opener: undefined,
      chain: Promise.resolve(),
      backlog: 0,
      heard: true,
      pinged: false,
      stale: false,
      closing: false,
      cancelKill: undefined,
    };
    this.#sessions.add(session);
    if (expected !== undefined) {
      ws.once("open", () => {
        const { hello, state } = startHandshake();
        session.handshake = { awaits: "reply", state };
        this.#write(session, hello);
      });
    }
    ws.on("pong", () => (session.heard = true));
    ws.on("ping", () => (session.heard = true));
    ws.on("error", (error: Error & { code?: string }) => {
      // ws has already sent the close frame (1009) without reading the payload; forget the peer now.
      if (error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") this.#kill(session, "oversized", false);
    });
    ws.on("message", (data) => this.#onFrame(session, data));
    ws.once("close", () => {
      session.cancelKill?.();
      this.#sessions.delete(session);
      if (session.address && this.#byAddress.get(session.address) === session) this.#byAddress.delete(session.address);
    });
    return session;
  }

  /**
   * Handles a frame at once when nothing is pending, so a keyed link costs one AEAD open per frame and the
   * frames that follow the last handshake message in the same read find the link keyed. Behind a pending step
   * (one that signs), frames queue; before authentication only a few small ones may.
   */
  #onFrame(session: Session, data: RawData): void {
    if (session.closing) return;
    const frame = toBuffer(data);
    if (session.backlog > 0) {
      if (!session.address && (frame.length > MAX_HANDSHAKE_FRAME_BYTES || session.backlog >= MAX_HANDSHAKE_BACKLOG)) {
        return this.#refuse(session, "unauthenticated");
      }
      return this.#await(session, session.chain.then(() => (session.closing ? undefined : this.#step(session, frame))));
    }
    try {
      const pending = this.#step(session, frame);
      if (pending) this.#await(session, pending);
    } catch {
      this.#close(session, CLOSE_CODES.internalError, "frame handling failed");
    }
  }

  #await(session: Session, work: Promise<void>): void {
    session.backlog++;
    session.chain = work
      .catch(() => this.#close(session, CLOSE_CODES.internalError, "handshake failed"))
      .finally(() => session.backlog--);
  }

  /** One frame at the session's step; a promise when the step signs. */
  #step(session: Session, frame: Buffer): Promise<void> | void {
    if (session.opener) return this.#deliver(session, frame);
    const handshake = session.handshake;
    if (handshake?.awaits === "hello") return this.#answerHello(session, frame);
    if (handshake?.awaits === "reply") return this.#answerReply(session, handshake.state, frame);
    if (handshake?.awaits === "finish") return this.#acceptFinish(session, handshake.state, frame);
    // A dialed peer that speaks before our hello went out.
    this.#refuse(session, "unauthenticated");
  }

  /** Responder: signs our part of the transcript and waits for the dialer's. */
  async #answerHello(session: Session, hello: Buffer): Promise<void> {
    const result = await answerHello({ hello, signer: this.#account });
    if (session.closing) return;
    if (!result.ok) return this.#refuse(session, result.reason);
    session.handshake = { awaits: "finish", state: result.state };
    this.#write(session, result.reply);
  }

  /** Initiator: checks the responder is the peer we dialed, signs our part, and the link is keyed. */
  async #answerReply(session: Session, state: InitiatorState, reply: Buffer): Promise<void> {
    const expected = session.expected;
    const result = await answerReply({ state, reply, signer: this.#account, accept: (address) => this.#accepts(address, expected) });
    if (session.closing) return;
    if (!result.ok) return this.#refuse(session, result.reason);
    this.#write(session, result.finish);
    this.#authenticated(session, result.peer, result.keys);
  }

  /** Responder: checks the dialer's part (synchronously), and the link is keyed. */
  #acceptFinish(session: Session, state: ResponderState, finish: Buffer): void {
    const result = acceptFinish({ state, finish, accept: (address) => this.#accepts(address, undefined) });
    if (!result.ok) return this.#refuse(session, result.reason);
    this.#authenticated(session, result.peer, result.keys);
  }

  #accepts(address: Address, expected: Address | undefined): boolean {
    return !isAddressEqual(address, this.self) && (expected === undefined || isAddressEqual(address, expected)) && this.#allowed(address);
  }

  /** The peer proved `peer` on a keyed link: it replaces any older connection of the same address. */
  #authenticated(session: Session, peer: Address, keys: LinkKeys): void {
    if (!this.#started) return this.#close(session, CLOSE_CODES.goingAway, "stopping");
    session.handshake = undefined;
    session.sealer = new FrameSealer(keys.send);
    session.opener = new FrameOpener(keys.receive);
    session.address = peer;
    const previous = this.#byAddress.get(peer);
    this.#byAddress.set(peer, session);
    if (previous && previous !== session) this.#close(previous, CLOSE_CODES.replaced, "replaced by a newer connection");
    const dialer = this.#dialers.find((d) => d.session === session);
    if (dialer) dialer.delays.reset();
  }

  #deliver(session: Session, frame: Buffer): void {
    const plaintext = session.opener!.open(frame);
    if (!plaintext) return this.#refuse(session, "bad-frame");
    session.heard = true;
    const text = plaintext.toString("utf8");
    const decoded = decodeMessage(parseJson(text));
    if (!decoded.ok) return this.#count("malformed");
    const handler = this.#handler;
    if (!handler || !session.address) return;
    try {
      handler({ from: session.address, message: decoded.message, bytes: plaintext.length, text });
    } catch {
      this.handlerErrors++;
    }
  }

  #write(session: Session, frame: Buffer): void {
    if (session.ws.readyState === WebSocket.OPEN) session.ws.send(frame);
  }

  #count(reason: TransportRefusal): void {
    this.rejected[reason]++;
    this.#onRefused?.(reason);
  }

  #refuse(session: Session, reason: TransportRefusal): void {
    this.#count(reason);
    this.#close(session, reason === "forbidden" ? CLOSE_CODES.forbidden : CLOSE_CODES.unauthenticated, reason);
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

  /**
   * Pings a peer silent through the last interval and drops one that stayed silent after its ping, or that has not
   * authenticated within an interval. A link that carried sealed frames (or the peer's own ping) is left alone: most links
   * of a busy network are never pinged, and of an idle one, the ping of one end answers for both.
   */
  #heartbeat(): void {
    for (const session of this.#sessions) {
      const { ws } = session;
      if (session.closing || ws.readyState !== WebSocket.OPEN) continue;
      if (!session.address) {
        if (session.stale) this.#kill(session, "unauthenticated");
        else session.stale = true;
        continue;
      }
      if (session.heard) {
        session.heard = false;
        session.pinged = false;
      } else if (session.pinged) {
        this.#kill(session, "unresponsive");
      } else {
        session.pinged = true;
        ws.ping();
      }
    }
  }

  /**
   * Counts `reason` and forgets the session at once. `terminate` destroys the socket now; otherwise ws is
   * already closing it and we only bound how long the peer may take to answer.
   */
  #kill(session: Session, reason: TransportRefusal, terminate = true): void {
    this.#count(reason);
    session.closing = true;
    if (session.address && this.#byAddress.get(session.address) === session) this.#byAddress.delete(session.address);
    if (terminate) session.ws.terminate();
    else session.cancelKill = this.#clock.setTimeout(() => session.ws.terminate(), CLOSE_GRACE_MS);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
