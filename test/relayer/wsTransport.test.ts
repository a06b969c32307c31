import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { WebSocket } from "ws";
import { bytesToHex, keccak256, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import type { Message } from "../../relayer/net/message.js";
import type { Delivery } from "../../relayer/net/transport.js";
import {
  CLOSE_CODES,
  WsTransport,
  peerAuthMessage,
  type WsTransportParameters,
} from "../../relayer/net/wsTransport.js";

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

const HOST = "127.0.0.1";
const cosign: Message = {
  kind: "cosign",
  chainId: "1001",
  height: "7",
  signer: low.address,
  signature: `0x${"11".repeat(65)}`,
};
const request: Message = {
  kind: "request", requestId: "r-1", chainId: "1002", contractIds: [`0x${"22".repeat(32)}`, `0x${"33".repeat(32)}`], knownHeight: "3", minHeight: "5", atHeight: "4",
};
const answerError = (requestId: string, reason = "not yet"): Message => ({ kind: "answer-error", requestId, reason });

let transports: WsTransport[] = [];
let sockets: WebSocket[] = [];

async function node(params: Partial<WsTransportParameters> & { account: PrivateKeyAccount }): Promise<{ t: WsTransport; inbox: Delivery[] }> {
  const t = new WsTransport({ listen: { host: HOST, port: 0 }, allowed, ...params });
  const inbox: Delivery[] = [];
  t.onMessage((d) => inbox.push(d));
  transports.push(t);
  await t.start();
  return { t, inbox };
}

const urlOf = (t: WsTransport) => `ws://${HOST}:${t.port}`;

async function waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

type Raw = {
  ws: WebSocket;
  /** Frames received from the transport, parsed. */
  received: any[];
  /** The auth frame this client sent, verbatim. */
  authSent: string | undefined;
  closed: Promise<{ code: number; reason: string }>;
  isClosed: () => boolean;
};

type RawOptions = {
  /** Do the handshake with this key; omit for a client that never authenticates. */
  signer?: PrivateKeyAccount;
  /** The address claimed in the hello; default the signer's. */
  claim?: Address;
  /** Send this frame instead of a freshly signed auth. */
  replayAuth?: string;
  autoPong?: boolean;
};

/** A hand-driven client speaking the transport's wire protocol, to play a misbehaving peer. */
function raw(url: string, { signer, claim, replayAuth, autoPong = true }: RawOptions = {}): Raw {
  const ws = new WebSocket(url, { autoPong, perMessageDeflate: false });
  sockets.push(ws);
  let isClosed = false;
  const r: Raw = {
    ws,
    received: [],
    authSent: undefined,
    closed: new Promise((resolve) =>
      ws.on("close", (code, reason) => {
        isClosed = true;
        resolve({ code, reason: reason.toString() });
      }),
    ),
    isClosed: () => isClosed,
  };
  ws.on("error", () => {});
  const address = claim ?? signer?.address;
  if (signer && address) {
    ws.on("open", () => ws.send(JSON.stringify({ kind: "peer-hello", address, nonce: bytesToHex(randomBytes(32)) })));
  }
  ws.on("message", async (data) => {
    const frame = JSON.parse(data.toString());
    r.received.push(frame);
    if (frame.kind !== "peer-hello" || !signer || !address) return;
    const auth =
      replayAuth ??
      JSON.stringify({
        kind: "peer-auth",
        signature: await signer.signMessage({
          message: peerAuthMessage({ nonce: frame.nonce, challenger: frame.address, signer: address }),
        }),
      });
    r.authSent = auth;
    ws.send(auth);
  });
  return r;
}

/** A raw client that completed the handshake: the transport lists it as connected. */
async function authenticated(t: WsTransport, options: RawOptions & { signer: PrivateKeyAccount }): Promise<Raw> {
  const r = raw(urlOf(t), options);
  await waitFor(() => t.connected().includes(options.signer.address) && r.authSent !== undefined, "raw peer to authenticate");
  return r;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("WsTransport", function () {
  this.timeout(10_000);

  afterEach(async () => {
    for (const ws of sockets) ws.terminate();
    await Promise.all(transports.map((t) => t.stop()));
    transports = [];
    sockets = [];
  });

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
      assert.deepEqual(b.inbox, [{ from: low.address, message: cosign, bytes: sentAB }]);
      assert.deepEqual(a.inbox, [{ from: high.address, message: request, bytes: sentBA }]);
      assert.deepEqual(Object.values(a.t.rejected).concat(Object.values(b.t.rejected)), new Array(12).fill(0));
    });

    it("carries a check() answer with its view, bridge and batch of storage proofs unchanged, and one without a view", async () => {
      const b = await node({ account: high });
      const a = await node({ account: low, peers: [{ address: high.address, url: urlOf(b.t) }] });
      await waitFor(() => a.t.connected().length === 1 && b.t.connected().length === 1, "both sides to authenticate");
      const word = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}`;
      const proof = { header: `0x${"f9".repeat(300)}` as Hex, accountProof: [word(1), word(2)], storageProofs: [[word(3)], [word(4), word(5)]] };
      const answer: Message = {
        kind: "answer",
        requestId: "r-1",
        height: "40",
        proof,
        view: { view: { chainId: "1002", height: "40", acc: word(6), hashes: [word(7), word(8)] }, signatures: [`0x${"ab".repeat(65)}`] },
        bridge: Array.from({ length: 20 }, (_, i) => word(100 + i)),
      };
      const atHeight: Message = { kind: "answer", requestId: "r-2", height: "30", proof };
      b.t.send(low.address, answer);
      b.t.send(low.address, atHeight);
      await waitFor(() => a.inbox.length === 2, "both answers");
      assert.deepEqual(a.inbox.map((d) => d.message), [answer, atHeight]);
    });

    it("refuses a peer that sends a message without the handshake (unauthenticated injection)", async () => {
      const b = await node({ account: high });
      const r = raw(urlOf(b.t));
      r.ws.on("open", () => r.ws.send(JSON.stringify(cosign)));
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.unauthenticated);
      assert.equal(b.t.rejected.unauthenticated, 1);
      assert.deepEqual(b.inbox, []);
      assert.deepEqual(b.t.connected(), []);
    });

    it("refuses a message sent after the hello but before the auth (handshake skipping)", async () => {
      const b = await node({ account: high });
      const r = raw(urlOf(b.t));
      r.ws.on("open", () => {
        r.ws.send(JSON.stringify({ kind: "peer-hello", address: member.address, nonce: bytesToHex(randomBytes(32)) }));
        r.ws.send(JSON.stringify(cosign));
      });
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.unauthenticated);
      assert.deepEqual(b.inbox, []);
    });

    it("refuses a peer whose address is not a committee member (outsider)", async () => {
      const b = await node({ account: high });
      const r = raw(urlOf(b.t), { signer: outsider });
      r.ws.on("open", () => setTimeout(() => r.ws.send(JSON.stringify(cosign)), 50));
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.forbidden);
      assert.equal(b.t.rejected.forbidden, 1);
      assert.deepEqual(b.inbox, []);
      assert.deepEqual(b.t.connected(), []);
    });

    it("refuses a peer that claims a member's address but signs with another key (impersonation)", async () => {
      const b = await node({ account: high });
      const r = raw(urlOf(b.t), { signer: outsider, claim: member.address });
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.unauthenticated);
      assert.equal(b.t.rejected["bad-auth"], 1);
      assert.deepEqual(b.t.connected(), []);
    });

    it("refuses an auth frame replayed from an earlier connection (replay)", async () => {
      const b = await node({ account: high });
      const honest = await authenticated(b.t, { signer: member });
      const captured = honest.authSent!;
      honest.ws.close();
      await waitFor(() => b.t.connected().length === 0, "honest peer to leave");

      // The attacker knows the member's address and its old signature, but not its key.
      const attacker = raw(urlOf(b.t), { signer: outsider, claim: member.address, replayAuth: captured });
      attacker.ws.on("open", () => setTimeout(() => attacker.ws.send(JSON.stringify(cosign)), 50));
      const { code } = await attacker.closed;
      assert.equal(attacker.authSent, captured);
      assert.equal(code, CLOSE_CODES.unauthenticated);
      assert.equal(b.t.rejected["bad-auth"], 1);
      assert.deepEqual(b.inbox, []);
      assert.deepEqual(b.t.connected(), []);
    });

    it("refuses a dialed peer that proves another address than the one dialed (impersonation at a known url)", async () => {
      const impostor = await node({ account: other });
      const a = await node({ account: low, peers: [{ address: high.address, url: urlOf(impostor.t) }] });
      await waitFor(() => a.t.rejected.forbidden >= 1, "the dialer to refuse the impostor");
      await sleep(50);
      assert.deepEqual(a.t.connected(), []);
      assert.equal(a.t.send(high.address, cosign), 0);
      assert.equal(a.t.send(other.address, cosign), 0);
      assert.deepEqual(impostor.inbox, []);
    });

    it("keeps only the newest of two connections from one address (duplicate session)", async () => {
      const b = await node({ account: high });
      const first = await authenticated(b.t, { signer: member });
      const second = await authenticated(b.t, { signer: member });
      const { code } = await first.closed;
      assert.equal(code, CLOSE_CODES.replaced);
      assert.deepEqual(b.t.connected(), [member.address]);
      assert.ok(b.t.send(member.address, answerError("to-second")) > 0);
      await waitFor(() => second.received.some((f) => f.requestId === "to-second"), "the newest connection to receive");
      second.ws.send(JSON.stringify(cosign));
      await waitFor(() => b.inbox.length === 1, "the newest connection to deliver");
      assert.equal(b.inbox[0]!.from, member.address);
    });
  });

  describe("frames", () => {
    it("closes with 1009 a connection that sends a frame over maxFrameBytes and delivers nothing (oversized frame)", async () => {
      const b = await node({ account: high, maxFrameBytes: 4096 });
      const r = await authenticated(b.t, { signer: member });
      r.ws.send(JSON.stringify(answerError("big", "x".repeat(10_000))));
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.tooBig);
      assert.equal(b.t.rejected.oversized, 1);
      assert.deepEqual(b.inbox, []);
      assert.deepEqual(b.t.connected(), []);
    });

    it("closes on the header of an oversized frame, before its payload arrives (memory exhaustion)", async () => {
      const b = await node({ account: high, maxFrameBytes: 4096 });
      const r = await authenticated(b.t, { signer: member });
      // A masked text frame announcing 64 MiB, and not one byte of it.
      const header = Buffer.alloc(14);
      header[0] = 0x81;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(64n << 20n, 2);
      header.writeUInt32BE(0x01020304, 10);
      (r.ws as unknown as { _socket: Socket })._socket.write(header);
      const { code } = await r.closed;
      assert.equal(code, CLOSE_CODES.tooBig);
      assert.equal(b.t.rejected.oversized, 1);
    });

    it("drops malformed frames, counts them and keeps the connection (malformed input)", async () => {
      const b = await node({ account: high });
      const r = await authenticated(b.t, { signer: member });
      for (const frame of ["not json", '{"kind":"nope"}', "[1,2]", "null", '"cosign"', '{"kind":"peer-auth","signature":"0x"}']) {
        r.ws.send(frame);
      }
      r.ws.send(Buffer.from(JSON.stringify(cosign)), { binary: true });
      r.ws.send(JSON.stringify(cosign));
      await waitFor(() => b.inbox.length === 1, "the valid message");
      await sleep(20);
      assert.equal(b.t.rejected.malformed, 7);
      assert.deepEqual(b.inbox, [{ from: member.address, message: cosign, bytes: JSON.stringify(cosign).length }]);
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
      const bytes = Buffer.byteLength(JSON.stringify(answerError("0", payload)));
      let accepted = 0;
      let maxBuffered = 0;
      for (let i = 0; i < 2000; i++) {
        const n = b.t.send(member.address, answerError(String(i), payload));
        maxBuffered = Math.max(maxBuffered, b.t.bufferedAmount(member.address));
        if (n === 0) break;
        assert.ok(n >= bytes);
        accepted++;
      }
      assert.ok(accepted < 2000, "send never dropped");
      assert.ok(maxBuffered <= maxQueueBytes, `buffered ${maxBuffered} > ${maxQueueBytes}`);
      for (let i = 0; i < 20; i++) assert.equal(b.t.send(member.address, answerError("more", payload)), 0);
      assert.equal(b.t.dropped.queueFull, 21);
      assert.ok(b.t.bufferedAmount(member.address) <= maxQueueBytes);

      // What was accepted is delivered intact and in order once the peer reads again.
      slow.ws.resume();
      const delivered = () => slow.received.filter((f) => f.kind === "answer-error");
      await waitFor(() => delivered().length === accepted, `${accepted} queued messages`);
      assert.deepEqual(delivered().map((f) => f.requestId), Array.from({ length: accepted }, (_, i) => String(i)));
    });
  });
});
