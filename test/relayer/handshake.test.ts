import assert from "node:assert/strict";
import fc from "fast-check";
import { keccak256, recoverMessageAddress, toHex, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  FINISH_BYTES,
  HELLO_BYTES,
  REPLY_BYTES,
  acceptFinish,
  answerHello,
  answerReply,
  deriveKeys,
  initiatorHash,
  newEphemeral,
  sharedSecret,
  signTranscript,
  startHandshake,
  transcriptSigner,
  type HandshakeResult,
  type LinkKeys,
} from "../../relayer/net/handshake.js";
import { FrameOpener, FrameSealer } from "../../relayer/net/sealedFrames.js";

const account = (label: string) => privateKeyToAccount(keccak256(toHex(label)));
const initiator = account("hs-initiator");
const responder = account("hs-responder");
const outsider = account("hs-outsider");
const anyone = () => true;

function expectOk<T>(result: HandshakeResult<T>): T {
  if (!result.ok) assert.fail(`handshake refused: ${result.reason}`);
  return result;
}

/** Flips bit `bit` (mod the length) of a copy of `bytes`. */
function flip(bytes: Uint8Array, bit: number): Buffer {
  const copy = Buffer.from(bytes);
  const at = bit % (copy.length * 8);
  copy[at >> 3]! ^= 1 << (at & 7);
  return copy;
}

type Tamper = { message?: "hello" | "reply" | "finish"; bit?: number };

/** One whole handshake between `initiator` and `responder`, with one bit of one message flipped on the wire if asked. */
async function handshake({ message, bit = 0 }: Tamper = {}) {
  const wire = (which: Tamper["message"], bytes: Buffer) => (which === message ? flip(bytes, bit) : bytes);
  const started = startHandshake();
  const hello = wire("hello", started.hello);
  const answered = await answerHello({ hello, signer: responder });
  if (!answered.ok) return { ok: false, failedAt: "hello", reason: answered.reason } as const;
  const replied = await answerReply({ state: started.state, reply: wire("reply", answered.reply), signer: initiator, accept: anyone });
  if (!replied.ok) return { ok: false, failedAt: "reply", reason: replied.reason } as const;
  const finished = acceptFinish({ state: answered.state, finish: wire("finish", replied.finish), accept: anyone });
  if (!finished.ok) return { ok: false, failedAt: "finish", reason: finished.reason } as const;
  return { ok: true, initiator: { peer: replied.peer, keys: replied.keys }, responder: { peer: finished.peer, keys: finished.keys } } as const;
}

/** Whether a frame sealed with `from.send` opens with `to.receive`. */
function linked(from: LinkKeys, to: LinkKeys): boolean {
  const plaintext = Buffer.from("a message");
  return new FrameOpener(to.receive).open(new FrameSealer(from.send).seal(plaintext))?.equals(plaintext) ?? false;
}

describe("handshake", () => {
  describe("a whole handshake", () => {
    it("proves each side's address to the other and gives both the same key per direction", async () => {
      const result = await handshake();
      assert.ok(result.ok);
      assert.equal(result.initiator.peer, responder.address);
      assert.equal(result.responder.peer, initiator.address);
      assert.deepEqual(result.initiator.keys.send, result.responder.keys.receive);
      assert.deepEqual(result.initiator.keys.receive, result.responder.keys.send);
      assert.notDeepEqual(result.initiator.keys.send, result.initiator.keys.receive);
      assert.ok(linked(result.initiator.keys, result.responder.keys));
      assert.ok(linked(result.responder.keys, result.initiator.keys));
    });

    it("keys every connection differently, between the same two nodes (fresh ephemeral keys)", async () => {
      const first = await handshake();
      const second = await handshake();
      assert.ok(first.ok && second.ok);
      assert.notDeepEqual(first.initiator.keys.send, second.initiator.keys.send);
      assert.notDeepEqual(first.initiator.keys.receive, second.initiator.keys.receive);
      assert.equal(linked(first.initiator.keys, second.responder.keys), false);
    });

    it("has fixed-size messages", async () => {
      const started = startHandshake();
      const answered = expectOk(await answerHello({ hello: started.hello, signer: responder }));
      const replied = expectOk(await answerReply({ state: started.state, reply: answered.reply, signer: initiator, accept: anyone }));
      assert.deepEqual([started.hello.length, answered.reply.length, replied.finish.length], [HELLO_BYTES, REPLY_BYTES, FINISH_BYTES]);
    });

    it("attack: any one bit flipped in any handshake message makes the handshake fail (tampering on the path)", async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom<"hello" | "reply" | "finish">("hello", "reply", "finish"), fc.nat({ max: 8 * REPLY_BYTES }), async (message, bit) => {
          const result = await handshake({ message, bit });
          assert.ok(!result.ok, `a flip of bit ${bit} of the ${message} went unnoticed`);
          assert.ok(["unauthenticated", "bad-auth"].includes(result.reason));
        }),
        { numRuns: 120 },
      );
    });
  });

  describe("signatures", () => {
    it("recovers the signer of a transcript as viem does", async () => {
      const hash = Buffer.alloc(32, 7);
      const signature = await signTranscript({ signer: initiator, hash });
      assert.equal(transcriptSigner({ hash, signature: Buffer.from(signature.slice(2), "hex") }), initiator.address);
      assert.equal(await recoverMessageAddress({ message: { raw: hash }, signature }), initiator.address);
    });

    it("refuses a signature over another transcript (a signature moved to another connection)", async () => {
      const hash = Buffer.alloc(32, 7);
      const signature = Buffer.from((await signTranscript({ signer: initiator, hash })).slice(2), "hex");
      assert.notEqual(transcriptSigner({ hash: Buffer.alloc(32, 8), signature }), initiator.address);
      assert.equal(transcriptSigner({ hash, signature: signature.subarray(1) }), undefined);
      assert.equal(transcriptSigner({ hash, signature: Buffer.concat([signature.subarray(0, 64), Buffer.of(29)]) }), undefined);
    });

    it("attack: a finish message replayed from another connection is refused", async () => {
      const first = startHandshake();
      const firstAnswer = expectOk(await answerHello({ hello: first.hello, signer: responder }));
      const firstReply = expectOk(await answerReply({ state: first.state, reply: firstAnswer.reply, signer: initiator, accept: anyone }));
      const second = startHandshake();
      const secondAnswer = expectOk(await answerHello({ hello: second.hello, signer: responder }));
      assert.deepEqual(acceptFinish({ state: secondAnswer.state, finish: firstReply.finish, accept: anyone }), { ok: false, reason: "bad-auth" });
    });

    it("attack: a sealed identity signed over another transcript is refused even under the right handshake key (relayed signature)", async () => {
      const started = startHandshake();
      const answered = expectOk(await answerHello({ hello: started.hello, signer: responder }));
      // The attacker holds the finish key of this connection (it ran the exchange) but not the initiator's key:
      // it offers the initiator's signature of some other transcript.
      const otherTranscript = initiatorHash({ responderHash: Buffer.alloc(32, 1), initiator: initiator.address });
      const signature = await signTranscript({ signer: initiator, hash: otherTranscript });
      const finish = new FrameSealer(answered.state.finishKey).seal(Buffer.concat([Buffer.from(initiator.address.slice(2), "hex"), Buffer.from(signature.slice(2), "hex")]));
      assert.deepEqual(acceptFinish({ state: answered.state, finish, accept: anyone }), { ok: false, reason: "bad-auth" });
    });

    it("refuses an address claimed with another key's signature (impersonation) and one the caller does not accept", async () => {
      const impostor = { address: initiator.address, signMessage: outsider.signMessage };
      const started = startHandshake();
      const answered = expectOk(await answerHello({ hello: started.hello, signer: responder }));
      const replied = expectOk(await answerReply({ state: started.state, reply: answered.reply, signer: impostor, accept: anyone }));
      assert.deepEqual(acceptFinish({ state: answered.state, finish: replied.finish, accept: anyone }), { ok: false, reason: "bad-auth" });

      const seen: Address[] = [];
      const accept = (address: Address) => (seen.push(address), false);
      const again = startHandshake();
      const reply = expectOk(await answerHello({ hello: again.hello, signer: responder })).reply;
      assert.deepEqual(await answerReply({ state: again.state, reply, signer: initiator, accept }), { ok: false, reason: "forbidden" });
      assert.deepEqual(seen, [responder.address]);
    });
  });

  describe("keys", () => {
    it("derives one key per direction from the DH secret and the transcript, and other keys from another of either", () => {
      const a = newEphemeral();
      const b = newEphemeral();
      const secret = sharedSecret(a, b.publicKey)!;
      assert.deepEqual(secret, sharedSecret(b, a.publicKey));
      const salt = Buffer.alloc(32, 1);
      const keys = deriveKeys({ sharedSecret: secret, salt, purpose: "session" });
      assert.deepEqual(keys, deriveKeys({ sharedSecret: secret, salt, purpose: "session" }));
      const others = [
        deriveKeys({ sharedSecret: sharedSecret(newEphemeral(), b.publicKey)!, salt, purpose: "session" }),
        deriveKeys({ sharedSecret: secret, salt: Buffer.alloc(32, 2), purpose: "session" }),
        deriveKeys({ sharedSecret: secret, salt, purpose: "handshake" }),
      ];
      for (const other of others) {
        assert.notDeepEqual(other.initiatorToResponder, keys.initiatorToResponder);
        assert.notDeepEqual(other.responderToInitiator, keys.responderToInitiator);
      }
    });

    it("attack: a low-order public key (forcing a known shared secret) is refused", async () => {
      assert.equal(sharedSecret(newEphemeral(), Buffer.alloc(32)), undefined);
      const hello = Buffer.concat([Buffer.of(1), Buffer.alloc(32), Buffer.alloc(32, 9)]);
      assert.deepEqual(await answerHello({ hello, signer: responder }), { ok: false, reason: "bad-auth" });
    });
  });

  describe("sealed frames", () => {
    it("open once, in order, under their key only (replay, reordering, tampering, another key)", () => {
      const key = Buffer.alloc(32, 3);
      const sealer = new FrameSealer(key);
      const frames = ["one", "two", "three"].map((text) => sealer.seal(Buffer.from(text)));
      const replayed = new FrameOpener(key);
      assert.equal(replayed.open(frames[0]!)?.toString(), "one");
      assert.equal(replayed.open(frames[0]!), undefined);
      assert.equal(new FrameOpener(key).open(frames[1]!), undefined);
      assert.equal(new FrameOpener(key).open(flip(frames[0]!, 3)), undefined);
      assert.equal(new FrameOpener(Buffer.alloc(32, 4)).open(frames[0]!), undefined);
      const inOrder = new FrameOpener(key);
      assert.deepEqual(frames.map((f) => inOrder.open(f)?.toString()), ["one", "two", "three"]);
    });
  });
});
