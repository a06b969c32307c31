import assert from "node:assert/strict";
import type { Socket } from "node:net";
import fc from "fast-check";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { keccak256, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import {
  REPLY_BYTES,
  answerReply,
  deriveKeys,
  exchangeHash,
  sharedSecret,
  startHandshake,
  type HandshakeSigner,
  type InitiatorState,
} from "../../relayer/net/handshake.js";
import type { Message } from "../../relayer/net/message.js";
import { FrameOpener, FrameSealer } from "../../relayer/net/sealedFrames.js";
import type { Delivery } from "../../relayer/net/transport.js";
import { TRANSPORT_REFUSALS, type TransportRefusal } from "../../relayer/net/refusalReason.js";
import { CLOSE_CODES, WsTransport, type WsTransportParameters } from "../../relayer/net/wsTransport.js";

const account = (label: string) => privateKeyToAccount(keccak256(toHex(label)));
/** Committee members, ascending by address: the smaller of a pair dials the greater. */
const [low, high, other, member, member2] = ["ws-a", "ws-b", "ws-c", "ws-d", "ws-e"]
  .map(account)
  .sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1)) as [
  PrivateKeyAccount, PrivateKeyAccount, PrivateKeyAccount, PrivateKeyAccount, PrivateKeyAccount,
];
const outsider = account("ws-outsider");
const committee = new Set<Address>([low, high, other, member, member2].map((a) => a.address));
const allowed = (address: Address) => committee.has(address);
/** Claims `address` but signs with the outsider's key. */
const impostor = (address: Address): HandshakeSigner => ({ address, signMessage: outsider.signMessage });

const HOST = "127.0.0.1";
/** A request id as the request channel makes them (16 random bytes, hex). */
const id = (n: number) => n.toString(16).padStart(32, "0");
const cosign: Message = {
  kind: "cosign",
  chainId: "1001",
  height: "7",
  signer: low.address,
  signature: `0x${"11".repeat(65)}`,
};
const request: Message = {
  kind: "request", requestId: id(1), chainId: "1002", contractIds: [`0x${"22".repeat(32)}`, `0x${"33".repeat(32)}`], knownHeight: "3", minHeight: "5", atHeight: "4",
};
const answerError = (requestId: string, reason = "not yet"): Message => ({ kind: "answer-error", requestId, reason });

let transports: WsTransport[] = [];
let sockets: WebSocket[] = [];
let servers: WebSocketServer[] = [];

async function cleanUp(): Promise<void> {
  for (const ws of sockets) ws.terminate();
  await Promise.all(transports.map((t) => t.stop()));
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  transports = [];
  sockets = [];
  servers = [];
}

type Node = { t: WsTransport; inbox: Delivery[]; refused: TransportRefusal[] };

async function node(params: Partial<WsTransportParameters> & { account: PrivateKeyAccount }): Promise<Node> {
  const refused: TransportRefusal[] = [];
  const t = new WsTransport({ listen: { host: HOST, port: 0 }, allowed, onRefused: (reason) => refused.push(reason), ...params });
  const inbox: Delivery[] = [];
  t.onMessage((d) => inbox.push(d));
  transports.push(t);
  await t.start();
  return { t, inbox, refused };
}

const urlOf = (t: WsTransport) => `ws://${HOST}:${t.port}`;

async function waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** A client socket of the test, terminated after each test. */
function connect(url: string, options: { autoPong?: boolean } = {}) {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
  sockets.push(ws);
  ws.on("error", () => {});
  let isClosed = false;
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => {
      isClosed = true;
      resolve({ code, reason: reason.toString() });
    }),
  );
  const opened = new Promise<void>((resolve) => ws.once("open", () => resolve()));
  return { ws, closed, opened, isClosed: () => isClosed };
}

type Raw = ReturnType<typeof connect> & {
  /** Messages received from the transport, opened and parsed. */
  received: any[];
  /** The finish message this client made, verbatim. */
  finishSent: Buffer | undefined;
  /** Seals `plaintext` as the next frame of the link and sends it. */
  seal: (plaintext: string | Uint8Array) => void;
};

type RawOptions = {
  /** Run the handshake as this identity; omit for a client that never authenticates. */
  signer?: HandshakeSigner;
  /** Send this as the finish message instead of the one just made. */
  replayFinish?: Buffer;
  autoPong?: boolean;
};

/** A hand-driven initiator speaking the transport's wire protocol, to play a misbehaving peer. */
function raw(url: string, { signer, replayFinish, autoPong = true }: RawOptions = {}): Raw {
  let sealer: FrameSealer | undefined;
  let opener: FrameOpener | undefined;
  const r: Raw = {
    ...connect(url, { autoPong }),
    received: [],
    finishSent: undefined,
    seal: (plaintext) => r.ws.send(sealer!.seal(Buffer.from(plaintext))),
  };
  if (!signer) return r;
  const { hello, state } = startHandshake();
  r.ws.on("open", () => r.ws.send(hello));
  r.ws.on("message", async (data) => {
    if (opener) {
      const plaintext = opener.open(toBuffer(data));
      r.received.push(plaintext ? JSON.parse(plaintext.toString()) : { unreadable: toBuffer(data) });
      return;
    }
    const result = await answerReply({ state, reply: toBuffer(data), signer, accept: () => true });
    if (!result.ok) return;
    sealer = new FrameSealer(result.keys.send);
    opener = new FrameOpener(result.keys.receive);
    r.finishSent = result.finish;
    r.ws.send(replayFinish ?? result.finish);
  });
  return r;
}

/** A raw client that completed the handshake: the transport lists it as connected. */
async function authenticated(t: WsTransport, options: RawOptions & { signer: HandshakeSigner }): Promise<Raw> {
  const r = raw(urlOf(t), options);
  await waitFor(() => t.connected().includes(options.signer.address) && r.finishSent !== undefined, "raw peer to authenticate");
  return r;
}

/**
 * What whoever holds the initiator's ephemeral secret reads in a reply: the handshake keys of the connection and the
 * responder's sealed identity (its address and its signature of the transcript).
 */
function readReply(state: InitiatorState, reply: Buffer) {
  const responderKey = reply.subarray(0, 32);
  const exchange = exchangeHash({ hello: state.hello, responderKey, responderNonce: reply.subarray(32, 64) });
  const keys = deriveKeys({ sharedSecret: sharedSecret(state.ephemeral, responderKey)!, salt: exchange, purpose: "handshake" });
  return { keys, identity: new FrameOpener(keys.responderToInitiator).open(reply.subarray(64))! };
}

type ClientFrame = (frame: Buffer, index: number, forward: (frame: Buffer) => void) => void;

/**
 * An attacker on the path: a WebSocket proxy to `target` that hands every frame the client sends to `onClientFrame`
 * (which forwards, holds, drops, repeats or changes it) and records every frame both ways.
 */
async function pathAttacker(target: string, onClientFrame: ClientFrame) {
  const server = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false });
  servers.push(server);
  await new Promise<void>((resolve) => server.once("listening", resolve));
  const seen = { toServer: [] as Buffer[], toClient: [] as Buffer[] };
  server.on("connection", (client) => {
    sockets.push(client);
    const upstream = connect(target).ws;
    const early: Buffer[] = [];
    const forward = (frame: Buffer) => (upstream.readyState === WebSocket.OPEN ? upstream.send(frame) : early.push(frame));
    upstream.once("open", () => early.splice(0).forEach((frame) => upstream.send(frame)));
    let index = 0;
    client.on("error", () => {});
    client.on("message", (data) => {
      const frame = toBuffer(data);
      seen.toServer.push(frame);
      onClientFrame(frame, index++, forward);
    });
    upstream.on("message", (data) => {
      seen.toClient.push(toBuffer(data));
      client.send(data);
    });
    upstream.on("close", () => client.terminate());
    client.on("close", () => upstream.terminate());
  });
  const { port } = server.address() as { port: number };
  return { url: `ws://${HOST}:${port}`, seen };
}

describe("WsTransport", function () {
  this.timeout(10_000);

  afterEach(cleanUp);

  describe("handshake", () => {
    it("authenticates two nodes and delivers messages both ways with the proven sender", async () => {
      const b = await node({ account: high });
      const a = await node({ account: low, peers: [{ address: high.address, url: urlOf(b.t) }] });
      await waitFor(() => a.t.connected().length === 1 && b.t.connected().length === 1, "both sides to authenticate");
      assert.deepEqual(a.t.connected(), [high.address]);
      assert.deepEqual(b.t.connected(), [low.address]);

      const sentAB = a.t.send(high.address, cosign);
      const sentBA = b.t.send(low.address, request);
      assert.equal(sentAB, Buffer.byteLength(JSON.stringify(cosign)));
      assert.equal(sentBA, Buffer.byteLength(JSON.stringify(request)));
      await waitFor(() => a.inbox.length === 1 && b.inbox.length === 1, "both messages");
      assert.deepEqual(b.inbox, [{ from: low.address, message: cosign, bytes: sentAB, text: JSON.stringify(cosign) }]);
      assert.deepEqual(a.inbox, [{ from: high.address, message: request, bytes: sentBA, text: JSON.stringify(request) }]);
      assert.deepEqual(Object.values(a.t.rejected).concat(Object.values(b.t.rejected)), new Array(2 * TRANSPORT_REFUSALS.length).fill(0));
      assert.deepEqual([...a.refused, ...b.refused], []);
    });

    it("carries a check() answer with its view, bridge and batch of storage proofs unchanged, and one without a view", async () => {
      const b = await node({ account: high });
      const a = await node({ account: low, peers: [{ address: high.address, url: urlOf(b.t) }] });
      await waitFor(() => a.t.connected().length === 1 && b.t.connected().length === 1, "both sides to authenticate");
      const word = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}`;
      const proof = { header: `0x${"f9".repeat(300)}` as Hex, accountProof: [word(1), word(2)], storageProofs: [[word(3)], [word(4), word(5)]] };
      const answer: Message = {
        kind: "answer",
        requestId: id(1),
        height: "40",
        proof,
        view: { view: { chainId: "1002", height: "40", acc: word(6), hashes: [word(7), word(8)] }, signatures: [`0x${"ab".repeat(65)}`] },
        bridge: Array.from({ length: 20 }, (_, i) => word(100 + i)),
      };
      const atHeight: Message = { kind: "answer", requestId: id(2), height: "30", proof };
      b.t.send(low.address, answer);
      b.t.send(low.address, atHeight);
      await waitFor(() => a.inbox.length === 2, "both answers");
      assert.deepEqual(a.inbox.map((d) => d.message), [answer, atHeight]);
    });

    it("attack: a passive observer of a link reads neither the addresses nor the messages", async () => {
      const b = await node({ account: high });
      const observer = await pathAttacker(urlOf(b.t), (frame, _index, forward) => forward(frame));
      const a = await node({ account: low, peers: [{ address: high.address, url: observer.url }] });
      await waitFor(() => b.t.connected().length === 1, "the link through the observer");
      a.t.send(high.address, cosign);
      b.t.send(low.address, request);
      await waitFor(() => a.inbox.length === 1 && b.inbox.length === 1, "both messages");
      const wire = Buffer.concat([...observer.seen.toServer, ...observer.seen.toClient]);
      for (const address of [low.address, high.address]) assert.equal(wire.indexOf(Buffer.from(address.slice(2), "hex")), -1, `${address} on the wire`);
      for (const text of [JSON.stringify(cosign), JSON.stringify(request), cosign.signature.slice(2, 40), '"kind"']) {
        assert.equal(wire.indexOf(Buffer.from(text)), -1, `${text} on the wire`);
      }
    });

    it("attack: a keyless outsider relays the handshake between S and T", async () => {
      // S (low) dials T (high). The outsider M holds no committee key. It can connect to both, forward frames
      // between its connections, run X25519 with its own ephemeral keys, read what those connections give it and
      // replay it. The old handshake fell to the blind relay of step 1: T took M's socket for S and dropped S.
      const T = await node({ account: high });
      const S = await node({ account: low, peers: [{ address: high.address, url: urlOf(T.t) }] });
      await waitFor(() => T.t.connected().length === 1 && S.t.connected().length === 1, "S and T to connect");
      const received: Buffer[] = [];
      const m = (url: string) => {
        const c = connect(url);
        c.ws.on("message", (data) => received.push(toBuffer(data)));
        return c;
      };

      // 1. The blind relay: every frame T sends on M's connection goes to S on M's other connection, and back
      //    (held until that connection is open, so that nothing is lost).
      const toT = m(urlOf(T.t));
      const toS = m(urlOf(S.t));
      const relay = (from: ReturnType<typeof connect>, to: ReturnType<typeof connect>) =>
        from.ws.on("message", (data) => void to.opened.then(() => to.ws.send(toBuffer(data))));
      relay(toT, toS);
      relay(toS, toT);
      await Promise.all([toT.opened, toS.opened]);
      await sleep(200);
      assert.deepEqual(T.t.connected(), [low.address]);
      assert.deepEqual(S.t.connected(), [high.address]);
      assert.ok(T.t.send(low.address, answerError(id(6), "for S")) > 0);
      await waitFor(() => S.inbox.length === 1, "T's message to reach S");
      assert.equal(received.length, 0, "M received frames on the relayed connections");

      // 2. M shakes hands with both using one ephemeral key, reads S's signed identity from S's reply and offers it
      //    to T, sealed under the handshake key M shares with T: S's signature is over another transcript.
      const { hello, state } = startHandshake();
      const splicedT = m(urlOf(T.t));
      const splicedS = m(urlOf(S.t));
      const replyOf = (c: ReturnType<typeof connect>) => new Promise<Buffer>((resolve) => c.ws.once("message", (data) => resolve(toBuffer(data))));
      const replies = Promise.all([replyOf(splicedT), replyOf(splicedS)]);
      await Promise.all([splicedT.opened, splicedS.opened]);
      splicedT.ws.send(hello);
      splicedS.ws.send(hello);
      const [replyT, replyS] = await replies;
      const fromS = readReply(state, replyS);
      assert.equal(toHex(fromS.identity.subarray(0, 20)), low.address.toLowerCase());
      splicedT.ws.send(new FrameSealer(readReply(state, replyT).keys.initiatorToResponder).seal(fromS.identity));
      assert.equal((await splicedT.closed).code, CLOSE_CODES.unauthenticated);
      assert.equal(T.t.rejected["bad-auth"], 1);

      // 3. Whatever M sends now on its connections is refused, and they are closed.
      for (const c of [toT, toS, splicedS]) c.ws.send(JSON.stringify({ ...cosign, signer: low.address }));
      const codes = await Promise.all([toT.closed, toS.closed, splicedS.closed]);
      assert.deepEqual(codes.map((c) => c.code), new Array(3).fill(CLOSE_CODES.unauthenticated));
      assert.equal(T.t.rejected.unauthenticated + S.t.rejected.unauthenticated, 3);
      assert.deepEqual([...T.refused, ...S.refused].sort(), ["bad-auth", "unauthenticated", "unauthenticated", "unauthenticated"]);

      // The real S kept its link: T's messages for S reach S, and M got nothing but the two replies it asked for.
      assert.deepEqual(T.t.connected(), [low.address]);
      assert.ok(T.t.send(low.address, answerError(id(7), "for S")) > 0);
      assert.ok(S.t.send(high.address, cosign) > 0);
      await waitFor(() => S.inbox.length === 2 && T.inbox.length === 1, "S and T to hear each other");
      assert.deepEqual(S.inbox.map((d) => [d.from, d.message]), [[high.address, answerError(id(6), "for S")], [high.address, answerError(id(7), "for S")]]);
      assert.deepEqual(T.inbox.map((d) => [d.from, d.message]), [[low.address, cosign]]);
      assert.deepEqual(received.map((frame) => frame.length), [REPLY_BYTES, REPLY_BYTES]);
    });

    it("refuses a peer that sends a message without the handshake (unauthenticated injection)", async () => {
      const b = await node({ account: high });
      const r = raw(urlOf(b.t));
      r.ws.on("open", () => r.ws.send(JSON.stringify(cosign)));
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.unauthenticated);
      assert.equal(b.t.rejected.unauthenticated, 1);
      assert.deepEqual(b.refused, ["unauthenticated"]);
      assert.deepEqual(b.inbox, []);
      assert.deepEqual(b.t.connected(), []);
    });

    it("refuses a message sent after the hello but before the finish (handshake skipping)", async () => {
      const b = await node({ account: high });
      const r = raw(urlOf(b.t));
      r.ws.on("open", () => {
        r.ws.send(startHandshake().hello);
        r.ws.send(JSON.stringify(cosign));
      });
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.unauthenticated);
      assert.deepEqual(b.inbox, []);
    });

    it("refuses a peer whose address is not a committee member (outsider)", async () => {
      const b = await node({ account: high });
      const r = raw(urlOf(b.t), { signer: outsider });
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.forbidden);
      assert.equal(b.t.rejected.forbidden, 1);
      assert.deepEqual(b.refused, ["forbidden"]);
      assert.deepEqual(b.inbox, []);
      assert.deepEqual(b.t.connected(), []);
    });

    it("refuses a peer that claims a member's address but signs with another key (impersonation)", async () => {
      const b = await node({ account: high });
      const r = raw(urlOf(b.t), { signer: impostor(member.address) });
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.unauthenticated);
      assert.equal(b.t.rejected["bad-auth"], 1);
      assert.deepEqual(b.t.connected(), []);
    });

    it("refuses a finish message replayed from an earlier connection (replay)", async () => {
      const b = await node({ account: high });
      const honest = await authenticated(b.t, { signer: member });
      const captured = honest.finishSent!;
      honest.ws.close();
      await waitFor(() => b.t.connected().length === 0, "honest peer to leave");

      // The attacker knows the member's address and its old finish message, but not its key.
      const attacker = raw(urlOf(b.t), { signer: impostor(member.address), replayFinish: captured });
      const { code } = await attacker.closed;
      assert.notEqual(attacker.finishSent, undefined);
      assert.equal(code, CLOSE_CODES.unauthenticated);
      assert.equal(b.t.rejected["bad-auth"], 1);
      assert.deepEqual(b.inbox, []);
      assert.deepEqual(b.t.connected(), []);
    });

    it("refuses a dialed peer that proves another address than the one dialed (impersonation at a known url)", async () => {
      const impostorNode = await node({ account: other });
      const a = await node({ account: low, peers: [{ address: high.address, url: urlOf(impostorNode.t) }] });
      await waitFor(() => a.t.rejected.forbidden >= 1, "the dialer to refuse the impostor");
      await sleep(50);
      assert.deepEqual(a.t.connected(), []);
      assert.equal(a.t.send(high.address, cosign), 0);
      assert.equal(a.t.send(other.address, cosign), 0);
      assert.deepEqual(impostorNode.inbox, []);
    });

    it("keeps only the newest of two connections from one address (duplicate session)", async () => {
      const b = await node({ account: high });
      const first = await authenticated(b.t, { signer: member });
      const second = await authenticated(b.t, { signer: member });
      const { code } = await first.closed;
      assert.equal(code, CLOSE_CODES.replaced);
      assert.deepEqual(b.t.connected(), [member.address]);
      assert.ok(b.t.send(member.address, answerError(id(2))) > 0);
      await waitFor(() => second.received.some((f) => f.requestId === id(2)), "the newest connection to receive");
      second.seal(JSON.stringify(cosign));
      await waitFor(() => b.inbox.length === 1, "the newest connection to deliver");
      assert.equal(b.inbox[0]!.from, member.address);
    });
  });

  describe("sealed frames", () => {
    /**
     * Low dials high through an attacker on the path, sends four messages, and the attacker does `attack` to the
     * sealed data frame `at` (0-based; the hello and the finish come before the data frames).
     */
    async function attackOnPath(attack: "replay" | "reorder" | "drop" | "flip", at: number, bit = 0) {
      const messages = [0, 1, 2, 3].map((n) => answerError(id(n), `message ${n}`));
      const b = await node({ account: high });
      let held: Buffer | undefined;
      const path = await pathAttacker(urlOf(b.t), (frame, index, forward) => {
        const data = index - 2;
        if (data !== at) {
          forward(frame);
          if (held) forward(held);
          held = undefined;
          return;
        }
        if (attack === "replay") (forward(frame), forward(frame));
        if (attack === "reorder") held = frame;
        if (attack === "flip") forward(Buffer.from(frame.map((byte, i) => (i === (bit >> 3) % frame.length ? byte ^ (1 << (bit & 7)) : byte))));
      });
      const a = await node({ account: low, peers: [{ address: high.address, url: path.url }], reconnect: { initialMs: 60_000, maxMs: 60_000 } });
      await waitFor(() => a.t.connected().length === 1 && b.t.connected().length === 1, "the link through the attacker");
      for (const message of messages) assert.ok(a.t.send(high.address, message) > 0);
      await waitFor(() => b.t.rejected["bad-frame"] === 1, "the receiver to refuse the frame");
      await waitFor(() => b.t.connected().length === 0, "the receiver to close the link");
      await sleep(50);
      return { b, messages };
    }

    it("attack: a replayed frame is refused, counted, and its message delivered once", async () => {
      const { b, messages } = await attackOnPath("replay", 1);
      assert.deepEqual(b.inbox.map((d) => d.message), messages.slice(0, 2));
      assert.deepEqual(b.refused, ["bad-frame"]);
    });

    it("attack: a reordered frame is refused and neither of the swapped messages delivered", async () => {
      const { b, messages } = await attackOnPath("reorder", 1);
      assert.deepEqual(b.inbox.map((d) => d.message), messages.slice(0, 1));
      assert.deepEqual(b.refused, ["bad-frame"]);
    });

    it("attack: a tampered frame (one bit flipped) is refused and its message never delivered", async () => {
      const { b } = await attackOnPath("flip", 0, 77);
      assert.deepEqual(b.inbox, []);
      assert.deepEqual(b.refused, ["bad-frame"]);
    });

    it("attack: the path picks which frame to replay, reorder, drop or flip: only the frames before it are delivered", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<"replay" | "reorder" | "drop" | "flip">("replay", "reorder", "drop", "flip"),
          fc.integer({ min: 0, max: 2 }),
          fc.nat({ max: 8 * 200 }),
          async (attack, at, bit) => {
            try {
              const { b, messages } = await attackOnPath(attack, at, bit);
              assert.deepEqual(b.inbox.map((d) => d.message), messages.slice(0, attack === "replay" ? at + 1 : at));
              assert.deepEqual(b.refused, ["bad-frame"]);
            } finally {
              await cleanUp();
            }
          },
        ),
        { numRuns: 12 },
      );
    });

    it("closes a keyed link on a frame that is not sealed (plaintext injection)", async () => {
      const b = await node({ account: high });
      const r = await authenticated(b.t, { signer: member });
      r.ws.send(JSON.stringify(cosign));
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.unauthenticated);
      assert.deepEqual(b.refused, ["bad-frame"]);
      assert.deepEqual(b.inbox, []);
    });

    it("closes with 1009 a connection that sends a frame over maxFrameBytes and delivers nothing (oversized frame)", async () => {
      const b = await node({ account: high, maxFrameBytes: 4096 });
      const r = await authenticated(b.t, { signer: member });
      r.seal(JSON.stringify(answerError(id(3), "x".repeat(10_000))));
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.tooBig);
      assert.equal(b.t.rejected.oversized, 1);
      assert.deepEqual(b.inbox, []);
      assert.deepEqual(b.t.connected(), []);
    });

    it("counts the sealed size against maxFrameBytes when sending (the 16-byte tag included)", async () => {
      const maxFrameBytes = 4096;
      const b = await node({ account: high, maxFrameBytes });
      const r = await authenticated(b.t, { signer: member });
      const fits = answerError(id(4), "");
      const padding = maxFrameBytes - 16 - Buffer.byteLength(JSON.stringify(fits));
      assert.equal(b.t.send(member.address, answerError(id(4), "y".repeat(padding + 1))), 0);
      assert.equal(b.t.dropped.oversized, 1);
      assert.equal(b.t.send(member.address, answerError(id(4), "y".repeat(padding))), maxFrameBytes - 16);
      await waitFor(() => r.received.length === 1, "the frame that fits");
      assert.equal(r.received[0].reason.length, padding);
    });

    it("closes on the header of an oversized frame, before its payload arrives (memory exhaustion)", async () => {
      const b = await node({ account: high, maxFrameBytes: 4096 });
      const r = await authenticated(b.t, { signer: member });
      // A masked binary frame announcing 64 MiB, and not one byte of it.
      const header = Buffer.alloc(14);
      header[0] = 0x82;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(64n << 20n, 2);
      header.writeUInt32BE(0x01020304, 10);
      (r.ws as unknown as { _socket: Socket })._socket.write(header);
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.tooBig);
      assert.equal(b.t.rejected.oversized, 1);
    });

    it("drops sealed frames that are not messages, counts them and keeps the connection (malformed input)", async () => {
      const b = await node({ account: high });
      const r = await authenticated(b.t, { signer: member });
      for (const frame of ["not json", '{"kind":"nope"}', "[1,2]", "null", '"cosign"', '{"kind":"peer-auth","signature":"0x"}']) {
        r.seal(frame);
      }
      r.seal(Buffer.from([0xff, 0xfe, 0x7b]));
      r.seal(JSON.stringify(cosign));
      await waitFor(() => b.inbox.length === 1, "the valid message");
      await sleep(20);
      assert.equal(b.t.rejected.malformed, 7);
      assert.deepEqual(b.refused, new Array(7).fill("malformed"));
      assert.deepEqual(b.inbox, [{ from: member.address, message: cosign, bytes: JSON.stringify(cosign).length, text: JSON.stringify(cosign) }]);
      assert.deepEqual(b.t.connected(), [member.address]);
      assert.equal(r.isClosed(), false);
    });
  });

  describe("liveness", () => {
    it("drops a peer that stops answering pings and keeps one that answers (dead peer)", async () => {
      const b = await node({ account: high, heartbeatMs: 40 });
      const dead = await authenticated(b.t, { signer: member, autoPong: false });
      const live = await authenticated(b.t, { signer: member2 });
      await dead.closed;
      assert.equal(b.t.rejected.unresponsive, 1);
      await sleep(150); // several more heartbeats
      assert.deepEqual(b.t.connected(), [member2.address]);
      assert.equal(live.isClosed(), false);
      assert.equal(b.t.send(member.address, cosign), 0);
    });

    it("pings only a silent link: a peer whose sealed frames arrive every interval is never pinged, a silent one every second interval", async () => {
      const heartbeatMs = 40;
      const b = await node({ account: high, heartbeatMs });
      // Never answers a ping: only its messages can keep it connected.
      const talker = await authenticated(b.t, { signer: member, autoPong: false });
      const quiet = await authenticated(b.t, { signer: member2 });
      const pings = { talker: 0, quiet: 0 };
      talker.ws.on("ping", () => pings.talker++);
      quiet.ws.on("ping", () => pings.quiet++);
      const talking = setInterval(() => talker.seal(JSON.stringify(cosign)), heartbeatMs / 2);
      await sleep(20 * heartbeatMs);
      clearInterval(talking);
      assert.equal(pings.talker, 0);
      assert.ok(pings.quiet >= 5 && pings.quiet <= 11, `${pings.quiet} pings in 20 intervals`);
      assert.deepEqual(b.t.connected().sort(), [member.address, member2.address].sort());
      assert.equal(b.t.rejected.unresponsive, 0);
      assert.ok(b.inbox.filter((d) => d.from === member.address).length >= 20);
      // Silent now and deaf to pings: dropped within three intervals.
      await talker.closed;
      assert.equal(b.t.rejected.unresponsive, 1);
      assert.equal(quiet.isClosed(), false);
    });

    it("drops a connection that never completes its handshake (half-open handshake)", async () => {
      const b = await node({ account: high, heartbeatMs: 40 });
      const r = raw(urlOf(b.t));
      await r.closed;
      assert.equal(b.t.rejected.unauthenticated, 1);
    });

    it("reconnects after the peer restarts on the same address", async () => {
      const reconnect = { initialMs: 20, maxMs: 200 };
      const b = await node({ account: high });
      const port = b.t.port;
      const a = await node({ account: low, peers: [{ address: high.address, url: urlOf(b.t) }], reconnect });
      await waitFor(() => a.t.connected().length === 1, "first connection");

      await b.t.stop();
      await waitFor(() => a.t.connected().length === 0, "the dialer to notice");
      assert.equal(a.t.send(high.address, cosign), 0);
      await sleep(100); // a few failed redials

      const b2 = await node({ account: high, listen: { host: HOST, port } });
      await waitFor(() => a.t.connected().length === 1 && b2.t.connected().length === 1, "reconnection");
      assert.ok(a.t.send(high.address, cosign) > 0);
      assert.ok(b2.t.send(low.address, request) > 0);
      await waitFor(() => b2.inbox.length === 1 && a.inbox.length === 1, "messages after reconnection");
      assert.equal(b2.inbox[0]!.from, low.address);
      assert.deepEqual(a.inbox[0]!.message, request);
    });
  });

  describe("back-pressure", () => {
    it("bounds the queue of a peer that does not read and drops beyond it (slow peer)", async () => {
      const maxQueueBytes = 256 << 10;
      const b = await node({ account: high, maxQueueBytes, maxFrameBytes: 128 << 10 });
      const slow = await authenticated(b.t, { signer: member });
      slow.ws.pause();

      const payload = "x".repeat(100_000);
      const bytes = Buffer.byteLength(JSON.stringify(answerError(id(0), payload)));
      let accepted = 0;
      let maxBuffered = 0;
      for (let i = 0; i < 2000; i++) {
        const n = b.t.send(member.address, answerError(id(i), payload));
        maxBuffered = Math.max(maxBuffered, b.t.bufferedAmount(member.address));
        if (n === 0) break;
        assert.ok(n >= bytes);
        accepted++;
      }
      assert.ok(accepted < 2000, "send never dropped");
      assert.ok(maxBuffered <= maxQueueBytes, `buffered ${maxBuffered} > ${maxQueueBytes}`);
      for (let i = 0; i < 20; i++) assert.equal(b.t.send(member.address, answerError(id(9999), payload)), 0);
      assert.equal(b.t.dropped.queueFull, 21);
      assert.ok(b.t.bufferedAmount(member.address) <= maxQueueBytes);

      // What was accepted is delivered intact and in order once the peer reads again.
      slow.ws.resume();
      const delivered = () => slow.received.filter((f) => f.kind === "answer-error");
      await waitFor(() => delivered().length === accepted, `${accepted} queued messages`);
      assert.deepEqual(delivered().map((f) => f.requestId), Array.from({ length: accepted }, (_, i) => id(i)));
    });
  });
});
