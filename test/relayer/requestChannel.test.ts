import assert from "node:assert/strict";
import { getAddress, hexToString, keccak256, stringToHex, type Address } from "viem";
import { MemoryHub, MemoryTransport, type Link } from "../../relayer/net/memoryTransport.js";
import { MAX_CONTRACTS_PER_REQUEST, MAX_REASON_LENGTH, type Answer, type Message, type Reply, type Request } from "../../relayer/net/message.js";
import { decodeMessage } from "../../relayer/net/messageSchema.js";
import { CHANNEL_LIMITS, fanout, RequestChannel, RequestFailedError, type RemoteSystem, type RequestChannelOptions } from "../../relayer/net/requestChannel.js";
import { SimulatedClock } from "../../relayer/sim/simulatedClock.js";

const CHAIN_B = 1002n;
const CONTRACT_IDS = [keccak256(stringToHex("ctx2")), keccak256(stringToHex("ctx2'"))];
const TIMEOUT_MS = 5_000;
const address = (n: number): Address => getAddress(`0x${n.toString(16).padStart(40, "0")}`);
/** The requesting node, on chain A. */
const REQUESTER = address(0xa1);
/** Nodes of chain B's committee. */
const membersOf = (q: number): Address[] => Array.from({ length: q }, (_, i) => address(0xb00 + i));
const systemOf = (q: number): RemoteSystem => ({ members: membersOf(q), rNumerator: 2, rDenominator: 3 });

/** A request id as RequestChannel.ask makes them (16 bytes in hex), named by `tag` for the test. */
const idOf = (tag: string): string => keccak256(stringToHex(tag)).slice(2, 34);

/** An answer of node `tag` (carried in the header's bytes); a verifier below treats tag "forged" as a proof that does not check out. */
function answerTo(request: Request, tag: string): Answer {
  return { kind: "answer", requestId: request.requestId, height: "12", proof: { header: stringToHex(tag), accountProof: [], storageProofs: request.contractIds.map(() => []) } };
}

/** What `verify` returns for an answer that checks out. */
type Verified = { from: Address; tag: string };
async function verifyAnswer(answer: Answer, from: Address): Promise<Verified> {
  const tag = hexToString(answer.proof.header);
  if (tag === "forged") throw new Error("storage proof does not match the state root\nstack…");
  return { from, tag };
}

type Refusal = { from: Address; reason: string; detail?: string };

/** Tracks a promise's outcome without leaving its rejection unhandled. */
function track<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

/** A request channel whose `send` only records what it was given. */
function handWired(options: Partial<RequestChannelOptions> = {}) {
  const clock = new SimulatedClock();
  const sent: { to: Address; message: Message }[] = [];
  const refused: Refusal[] = [];
  const served: { request: Request; from: Address }[] = [];
  const channel = new RequestChannel({
    clock,
    timeoutMs: TIMEOUT_MS,
    systems: new Map([[CHAIN_B, systemOf(4)]]),
    send: (to, message) => {
      sent.push({ to, message });
      return 100;
    },
    serve: async (request, from) => {
      served.push({ request, from });
      return answerTo(request, "honest");
    },
    maxRequestsPerSecond: 100,
    onRefused: (from, reason, detail) => refused.push(detail === undefined ? { from, reason } : { from, reason, detail }),
    ...options,
  });
  return { clock, channel, sent, refused, served };
}

const requestFrom = (tag: string): Request => ({
  kind: "request",
  requestId: idOf(tag),
  chainId: CHAIN_B.toString(),
  contractIds: CONTRACT_IDS,
  knownHeight: "10",
  minHeight: "12",
});

/**
 * A requester on chain A and chain B's q nodes, each with a RequestChannel over a MemoryTransport on one hub. Every
 * delivery is decoded first, as a node's WsTransport does, so that a message of the channel a peer's decoder refused
 * would go missing. `serveAs(member)` decides how each node of B answers.
 */
async function network({ q, latencyMs = 10, serveAs }: { q: number; latencyMs?: number | ((link: Link) => number); serveAs: (member: Address, request: Request) => Reply | undefined }) {
  const clock = new SimulatedClock();
  const hub = new MemoryHub({ clock, latencyMs });
  const refused: Refusal[] = [];
  const served: Address[] = [];
  const node = async (self: Address, serve: RequestChannelOptions["serve"], systems: ReadonlyMap<bigint, RemoteSystem>) => {
    const transport = new MemoryTransport({ hub, address: self });
    const channel = new RequestChannel({
      clock,
      timeoutMs: TIMEOUT_MS,
      systems,
      send: (to, message) => transport.send(to, message),
      serve,
      maxRequestsPerSecond: 100,
      onRefused: (from, reason, detail) => refused.push(detail === undefined ? { from, reason } : { from, reason, detail }),
    });
    transport.onMessage(({ from, message }) => {
      const decoded = decodeMessage(message);
      if (decoded.ok) void channel.handle(from, decoded.message);
    });
    await transport.start();
    return channel;
  };
  const requester = await node(REQUESTER, () => Promise.reject(new Error("chain A serves nothing here")), new Map([[CHAIN_B, systemOf(q)]]));
  for (const member of membersOf(q)) {
    await node(
      member,
      (request) => {
        served.push(member);
        const reply = serveAs(member, request);
        // A node that does not reply keeps the request forever: the requester's timeout decides.
        return reply === undefined ? new Promise<Reply>(() => {}) : Promise.resolve(reply);
      },
      new Map(),
    );
  }
  const ask = () => requester.ask({ chainId: CHAIN_B, contractIds: CONTRACT_IDS, knownHeight: 10n, minHeight: 12n, verify: verifyAnswer });
  return { clock, hub, requester, ask, refused, served };
}

describe("RequestChannel", () => {
  describe("fanout", () => {
    it("is (1 − r)·q + 1 nodes with r = 2/3: 2 of 4, 3 of 7, 4 of 10", () => {
      assert.deepEqual([4, 7, 10].map((q) => fanout(systemOf(q))), [2, 3, 4]);
    });

    it("reaches at least one honest node when the other q − ceil(r·q) are faulty, and never exceeds q", () => {
      for (let q = 1; q <= 40; q++) {
        const n = fanout(systemOf(q));
        const faulty = q - Math.ceil((2 * q) / 3);
        assert.ok(n > faulty && n <= q, `q = ${q}: fanout ${n}, faulty ${faulty}`);
      }
    });
  });

  describe("ask", () => {
    for (const q of [4, 7, 10]) {
      it(`sends the request to exactly fanout distinct nodes of a committee of ${q}`, async () => {
        const { clock, ask, served } = await network({ q, serveAs: (member, request) => answerTo(request, member) });
        const outcome = track(ask());
        await clock.runUntilIdle();
        assert.equal(served.length, fanout(systemOf(q)));
        assert.equal(new Set(served).size, served.length, "distinct nodes");
        assert.ok(served.every((member) => membersOf(q).includes(member)));
        assert.ok(outcome.settled && outcome.error === undefined);
        assert.ok(served.includes((outcome.value as Verified).from));
      });
    }

    it("asks about several contracts in one request, with atHeight only when given", async () => {
      const { clock, channel, sent } = handWired();
      track(channel.ask({ chainId: CHAIN_B, contractIds: CONTRACT_IDS, knownHeight: 10n, minHeight: 12n, verify: verifyAnswer }));
      track(channel.ask({ chainId: CHAIN_B, contractIds: CONTRACT_IDS.slice(0, 1), knownHeight: 30n, minHeight: 30n, atHeight: 30n, verify: verifyAnswer }));
      await clock.advance(0);
      assert.equal(sent.length, 4, "each request to fanout = 2 nodes");
      const [newest, , accepted] = sent.map((s) => s.message as Request);
      assert.deepEqual({ ...newest!, requestId: "" }, { kind: "request", requestId: "", chainId: "1002", contractIds: CONTRACT_IDS, knownHeight: "10", minHeight: "12" });
      assert.ok(!("atHeight" in newest!), "no atHeight field unless asked");
      assert.deepEqual({ ...accepted!, requestId: "" }, { kind: "request", requestId: "", chainId: "1002", contractIds: CONTRACT_IDS.slice(0, 1), knownHeight: "30", minHeight: "30", atHeight: "30" });
      for (const { message } of sent) assert.deepEqual(decodeMessage(message), { ok: true, message }, "a peer's decoder takes it as it is");
      assert.notEqual(newest!.requestId, accepted!.requestId);
    });

    it(`refuses to ask about no contract for no newer view (a refresh asks above knownHeight) or about more than ${MAX_CONTRACTS_PER_REQUEST}, and sends nothing`, async () => {
      const { channel, sent } = handWired();
      const ids = (n: number) => Array.from({ length: n }, (_, i) => keccak256(stringToHex(`ctx ${i}`)));
      await assert.rejects(channel.ask({ chainId: CHAIN_B, contractIds: [], knownHeight: 0n, minHeight: 0n, verify: verifyAnswer }), RangeError);
      await assert.rejects(channel.ask({ chainId: CHAIN_B, contractIds: ids(MAX_CONTRACTS_PER_REQUEST + 1), knownHeight: 0n, minHeight: 0n, verify: verifyAnswer }), RangeError);
      assert.equal(sent.length, 0);
      track(channel.ask({ chainId: CHAIN_B, contractIds: ids(MAX_CONTRACTS_PER_REQUEST), knownHeight: 0n, minHeight: 0n, verify: verifyAnswer }));
      assert.equal(sent.length, 2);
    });

    it(`refuses to ask while ${CHANNEL_LIMITS.pending} requests wait for their answers, and asks again once they ended`, async () => {
      const { clock, channel, sent } = handWired();
      const ask = () => track(channel.ask({ chainId: CHAIN_B, contractIds: CONTRACT_IDS, knownHeight: 10n, minHeight: 12n, verify: verifyAnswer }));
      for (let i = 0; i < CHANNEL_LIMITS.pending; i++) ask();
      assert.equal(channel.held.pending, CHANNEL_LIMITS.pending);
      const refused = ask();
      await clock.advance(0);
      assert.ok(refused.error instanceof RequestFailedError, String(refused.error));
      assert.match(refused.error.message, /waiting for answers/);
      assert.equal(sent.length, 2 * CHANNEL_LIMITS.pending, "nothing sent for it");
      await clock.advance(TIMEOUT_MS);
      assert.equal(channel.held.pending, 0, "every request timed out");
      ask();
      assert.equal(channel.held.pending, 1);
    });

    it("spreads successive requests over the committee", async () => {
      const { clock, ask, served } = await network({ q: 7, serveAs: (member, request) => answerTo(request, member) });
      for (let i = 0; i < 7; i++) {
        track(ask());
        await clock.runUntilIdle();
      }
      assert.deepEqual(new Set(served), new Set(membersOf(7)));
    });

    it("resolves with the first answer that verifies and ignores a faster forged one (forged-proof attack)", async () => {
      const [forger, honest] = membersOf(4) as [Address, Address];
      const { clock, ask, refused, served } = await network({
        q: 4,
        latencyMs: ({ from, to }) => (from === forger || to === forger ? 1 : 20),
        serveAs: (member, request) => answerTo(request, member === forger ? "forged" : "honest"),
      });
      const outcome = track(ask());
      await clock.advance(5);
      assert.equal(outcome.settled, false, "the forged answer arrived first and was not believed");
      await clock.runUntilIdle();
      assert.deepEqual(new Set(served), new Set([forger, honest]));
      assert.deepEqual(outcome.value, { from: honest, tag: "honest" });
      assert.deepEqual(refused, [{ from: forger, reason: "answer failed verification", detail: "storage proof does not match the state root" }]);
    });

    it("rejects with every reason once all asked nodes answered and none verified", async () => {
      const [forger] = membersOf(4) as [Address];
      const { clock, ask } = await network({
        q: 4,
        serveAs: (member, request) => (member === forger ? answerTo(request, "forged") : { kind: "answer-error", requestId: request.requestId, reason: "view below minHeight" }),
      });
      const outcome = track(ask());
      await clock.advance(100);
      assert.ok(outcome.error instanceof RequestFailedError, String(outcome.error));
      assert.equal(outcome.error.chainId, CHAIN_B);
      assert.equal(outcome.error.reasons.length, 2);
      assert.ok(outcome.error.reasons.some((r) => r.includes("storage proof does not match")));
      assert.ok(outcome.error.reasons.some((r) => r.includes("view below minHeight")));
    });

    it("rejects with RequestFailedError when no asked node answers within timeoutMs (withholding nodes)", async () => {
      const { clock, ask, refused, hub, served } = await network({ q: 7, serveAs: () => undefined });
      const outcome = track(ask());
      await clock.advance(TIMEOUT_MS - 1);
      assert.equal(outcome.settled, false);
      assert.equal(served.length, 3);
      await clock.advance(1);
      assert.ok(outcome.error instanceof RequestFailedError, String(outcome.error));
      assert.deepEqual(outcome.error.reasons, []);
      assert.match(outcome.error.message, /no node answered in time/);
      assert.equal(refused.length, 0);
      assert.equal(hub.dropped, 0);
    });

    it("refuses an answer that arrives after the timeout (late answer)", async () => {
      const { clock, channel, sent, refused } = handWired();
      const outcome = track(channel.ask({ chainId: CHAIN_B, contractIds: CONTRACT_IDS, knownHeight: 0n, minHeight: 0n, verify: verifyAnswer }));
      await clock.advance(TIMEOUT_MS);
      assert.ok(outcome.error instanceof RequestFailedError);
      const { to, message } = sent[0]!;
      await channel.handle(to, answerTo(message as Request, "late"));
      assert.deepEqual(refused, [{ from: to, reason: "unexpected answer" }]);
    });

    it("rejects at once when no node of the chain is connected, and for a chain it does not know", async () => {
      const { channel, clock } = handWired({ send: () => 0 });
      const unconnected = track(channel.ask({ chainId: CHAIN_B, contractIds: CONTRACT_IDS, knownHeight: 0n, minHeight: 0n, verify: verifyAnswer }));
      const unknown = track(channel.ask({ chainId: 4242n, contractIds: CONTRACT_IDS, knownHeight: 0n, minHeight: 0n, verify: verifyAnswer }));
      await clock.advance(0);
      assert.ok(unconnected.error instanceof RequestFailedError);
      assert.match(unconnected.error.message, /no node of the chain is connected/);
      assert.ok(unknown.error instanceof RequestFailedError);
      assert.equal(unknown.error.chainId, 4242n);
      assert.equal(clock.pending, 0, "no timer left behind");
    });
  });

  describe("handle (answers)", () => {
    it("refuses an answer from a node that was not asked, even with the right requestId (answer injection)", async () => {
      const { clock, channel, sent, refused } = handWired();
      const outcome = track(channel.ask({ chainId: CHAIN_B, contractIds: CONTRACT_IDS, knownHeight: 10n, minHeight: 12n, verify: verifyAnswer }));
      assert.equal(sent.length, 2);
      const request = sent[0]!.message as Request;
      const asked = sent.map((s) => s.to);
      const intruder = membersOf(4).find((m) => !asked.includes(m))!;
      const stranger = address(0xbad);

      await channel.handle(intruder, answerTo(request, "injected"));
      await channel.handle(stranger, answerTo(request, "injected"));
      await clock.advance(0);
      assert.equal(outcome.settled, false, "neither injected answer was believed");
      assert.deepEqual(refused, [
        { from: intruder, reason: "unexpected answer" },
        { from: stranger, reason: "unexpected answer" },
      ]);

      await channel.handle(asked[1]!, answerTo(request, "honest"));
      await clock.advance(0);
      assert.deepEqual(outcome.value, { from: asked[1], tag: "honest" });
      assert.equal(clock.pending, 0, "the timeout is cancelled");
    });

    it("refuses a second answer from the same asked node and answers to requests never made (duplicate answer)", async () => {
      const { clock, channel, sent, refused } = handWired();
      const outcome = track(channel.ask({ chainId: CHAIN_B, contractIds: CONTRACT_IDS, knownHeight: 10n, minHeight: 12n, verify: verifyAnswer }));
      const request = sent[0]!.message as Request;
      const target = sent[0]!.to;
      await channel.handle(target, answerTo(request, "forged"));
      await channel.handle(target, answerTo(request, "honest"));
      await channel.handle(target, answerTo({ ...request, requestId: idOf("never asked") }, "honest"));
      await clock.advance(0);
      assert.equal(outcome.settled, false);
      assert.deepEqual(
        refused.map((r) => r.reason),
        ["answer failed verification", "unexpected answer", "unexpected answer"],
      );
    });
  });

  describe("handle (requests)", () => {
    it("attack: replayed request — served once, its replay from the same peer refused", async () => {
      const { clock, channel, sent, refused, served } = handWired();
      const peer = address(0xa2);
      const request = requestFrom("r-1");
      await channel.handle(peer, request);
      await channel.handle(peer, request);
      await clock.advance(60_000);
      await channel.handle(peer, request);
      assert.equal(served.length, 1, "served once");
      assert.deepEqual(sent, [{ to: peer, message: answerTo(request, "honest") }]);
      assert.deepEqual(refused, [
        { from: peer, reason: "replayed request" },
        { from: peer, reason: "replayed request" },
      ]);
    });

    it("attack: 1 MB request ids — refused at decode, nothing kept, and another peer still served", async () => {
      const { channel, sent, served } = handWired();
      const attacker = address(0xe1);
      const honest = address(0xa2);
      /** A frame as a transport hands it over: parsed, decoded, and only then given to the channel. */
      const deliver = async (from: Address, frame: string) => {
        const decoded = decodeMessage(JSON.parse(frame));
        if (decoded.ok) await channel.handle(from, decoded.message);
        return decoded;
      };
      const legit = requestFrom("legit");
      const ids: unknown[] = ["f".repeat(1_000_000), "x".repeat(300_000), "r-1", idOf("upper").toUpperCase(), idOf("short").slice(1), `${idOf("long")}0`, "", 42, null, ["a"]];
      for (let round = 0; round < 10; round++) {
        for (const requestId of ids) {
          const decoded = await deliver(attacker, JSON.stringify({ ...legit, requestId }));
          assert.equal(decoded.ok, false);
          if (!decoded.ok) assert.match(decoded.reason, /^requestId: expected 16 bytes in lower-case hex$/);
        }
      }
      assert.deepEqual(channel.held, { pending: 0, remembered: 0, peers: 0 }, "nothing recorded for any of them");
      assert.deepEqual([served, sent], [[], []]);

      assert.equal((await deliver(honest, JSON.stringify(legit))).ok, true);
      assert.deepEqual(served, [{ request: legit, from: honest }]);
      assert.deepEqual(channel.held, { pending: 0, remembered: 1, peers: 1 });
    });

    it(`keeps at most ${CHANNEL_LIMITS.replayEntries} served request ids and the rates of ${CHANNEL_LIMITS.peers} peers, however many flood it`, async () => {
      const { channel, served, refused } = handWired({ maxRequestsPerSecond: 1_000_000 });
      const peers = Array.from({ length: CHANNEL_LIMITS.peers + 76 }, (_, i) => address(0x10000 + i));
      for (const [p, peer] of peers.entries()) {
        for (let i = 0; i < 20; i++) await channel.handle(peer, requestFrom(`${p}/${i}`));
      }
      assert.equal(served.length, 20 * peers.length);
      assert.deepEqual(channel.held, { pending: 0, remembered: CHANNEL_LIMITS.replayEntries, peers: CHANNEL_LIMITS.peers });
      // The least recent id is forgotten: its replay is served again (and still counts against its peer's rate).
      await channel.handle(peers.at(-1)!, requestFrom(`${peers.length - 1}/19`));
      assert.deepEqual(refused, [{ from: peers.at(-1), reason: "replayed request" }]);
      await channel.handle(peers[0]!, requestFrom("0/0"));
      assert.equal(served.length, 20 * peers.length + 1);
    });

    it("records nothing for a rate-limited request: sent again in the next second, it is served, not refused as a replay", async () => {
      const { clock, channel, served, refused } = handWired({ maxRequestsPerSecond: 1 });
      const peer = address(0xa2);
      await channel.handle(peer, requestFrom("first"));
      await channel.handle(peer, requestFrom("second"));
      assert.deepEqual(refused, [{ from: peer, reason: "rate limited" }]);
      assert.deepEqual(channel.held, { pending: 0, remembered: 1, peers: 1 }, "only the served request is remembered");
      await clock.advance(1000);
      await channel.handle(peer, requestFrom("second"));
      assert.deepEqual(served.map((s) => s.request.requestId), [idOf("first"), idOf("second")]);
      assert.equal(refused.length, 1);
    });

    it("serves the same requestId from another peer: replays are tracked per peer", async () => {
      const { channel, served } = handWired();
      await channel.handle(address(0xa2), requestFrom("r-1"));
      await channel.handle(address(0xa3), requestFrom("r-1"));
      assert.equal(served.length, 2);
    });

    it("answers requests above maxRequestsPerSecond with an error and counts them (request flooding)", async () => {
      const { clock, channel, sent, refused, served } = handWired({ maxRequestsPerSecond: 3 });
      const flooder = address(0xf1);
      const other = address(0xf2);
      await Promise.all(Array.from({ length: 5 }, (_, i) => channel.handle(flooder, requestFrom(`flood-${i}`))));
      assert.equal(served.length, 3);
      const toFlooder = sent.filter((s) => s.to === flooder).map((s) => s.message);
      assert.equal(toFlooder.filter((m) => m.kind === "answer").length, 3);
      assert.deepEqual(
        toFlooder.filter((m) => m.kind === "answer-error"),
        [
          { kind: "answer-error", requestId: idOf("flood-3"), reason: "rate limited" },
          { kind: "answer-error", requestId: idOf("flood-4"), reason: "rate limited" },
        ],
      );
      assert.deepEqual(refused, [
        { from: flooder, reason: "rate limited" },
        { from: flooder, reason: "rate limited" },
      ]);

      await channel.handle(other, requestFrom("other-0"));
      assert.equal(served.length, 4, "the limit is per peer");

      await clock.advance(999);
      await channel.handle(flooder, requestFrom("flood-5"));
      assert.equal(served.length, 4, "still inside the same second");
      await clock.advance(1);
      await channel.handle(flooder, requestFrom("flood-6"));
      assert.equal(served.length, 5, "a new second, a new allowance");
      assert.equal(refused.length, 3);
    });

    it("answers with an error when serving fails, and keeps serving", async () => {
      let fail = true;
      const { channel, sent } = handWired({
        serve: async (request) => {
          if (fail) throw new Error("eth_getProof failed: upstream timeout");
          return answerTo(request, "honest");
        },
      });
      const peer = address(0xa2);
      await channel.handle(peer, requestFrom("r-1"));
      fail = false;
      await channel.handle(peer, requestFrom("r-2"));
      assert.deepEqual(
        sent.map((s) => s.message),
        [{ kind: "answer-error", requestId: idOf("r-1"), reason: "eth_getProof failed: upstream timeout" }, answerTo(requestFrom("r-2"), "honest")],
      );
    });

    it(`answers with one line of at most ${MAX_REASON_LENGTH} characters, which the requester's decoder takes, whatever the failure said`, async () => {
      let failure: () => Promise<Reply> = async () => {
        throw new Error(`${"x".repeat(500)}\n    at serveCheck (stack)`);
      };
      const { channel, sent } = handWired({ serve: (request) => failure().then((reply) => ({ ...reply, requestId: request.requestId })) });
      const peer = address(0xa2);
      await channel.handle(peer, requestFrom("r-1"));
      failure = async () => ({ kind: "answer-error", requestId: "", reason: `tab\there, bell\u0007, ${"y".repeat(300)}` });
      await channel.handle(peer, requestFrom("r-2"));
      assert.equal(sent.length, 2);
      for (const { message } of sent) {
        assert.equal(message.kind, "answer-error");
        assert.deepEqual(decodeMessage(message), { ok: true, message });
      }
      assert.deepEqual(sent.map((s) => (s.message as { reason: string }).reason), ["x".repeat(MAX_REASON_LENGTH), `tab?here, bell?, ${"y".repeat(MAX_REASON_LENGTH - 17)}`]);
    });
  });
});
