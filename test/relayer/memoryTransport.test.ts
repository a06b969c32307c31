import assert from "node:assert/strict";
import fc from "fast-check";
import { getAddress, type Address } from "viem";
import type { Message } from "../../relayer/net/message.js";
import type { Delivery } from "../../relayer/net/transport.js";
import { jsonCopy } from "../../relayer/net/jsonCopy.js";
import { MemoryHub, MemoryTransport } from "../../relayer/net/memoryTransport.js";
import { SimulatedClock, SimulatedClockRunawayError } from "../../relayer/sim/simulatedClock.js";

const A = getAddress("0x00000000000000000000000000000000000000a1");
const B = getAddress("0x00000000000000000000000000000000000000b2");
const C = getAddress("0x00000000000000000000000000000000000000c3");
const msg = (requestId: string): Message => ({ kind: "answer-error", requestId, reason: "not yet" });
const ids = (inbox: Delivery[]) => inbox.map((d) => (d.message as { requestId: string }).requestId);

async function network(latencyMs: number | ((link: { from: Address; to: Address }) => number) = 0) {
  const clock = new SimulatedClock();
  const hub = new MemoryHub({ clock, latencyMs });
  const nodes = await Promise.all(
    [A, B, C].map(async (address) => {
      const t = new MemoryTransport({ hub, address });
      const inbox: Delivery[] = [];
      t.onMessage((d) => inbox.push(d));
      await t.start();
      return { t, inbox };
    }),
  );
  const [a, b, c] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
  return { clock, hub, a, b, c };
}

describe("MemoryTransport", () => {
  describe("send", () => {
    it("delivers in send order after the configured latency, with the sender and the JSON size", async () => {
      const { clock, a, b } = await network(10);
      const sizes = ["1", "2", "3"].map((id) => a.t.send(B, msg(id)));
      assert.deepEqual(sizes, ["1", "2", "3"].map((id) => Buffer.byteLength(JSON.stringify(msg(id)))));
      assert.deepEqual(b.inbox, [], "delivered synchronously");
      await clock.advance(9);
      assert.deepEqual(b.inbox, [], "delivered before the latency");
      await clock.advance(1);
      assert.deepEqual(ids(b.inbox), ["1", "2", "3"]);
      assert.deepEqual(b.inbox[0], { from: A, message: msg("1"), bytes: sizes[0], text: JSON.stringify(msg("1")) });
      assert.deepEqual(a.inbox, []);
    });

    it("delivers a copy, so the sender cannot change a message after sending it (aliasing)", async () => {
      const { clock, a, b } = await network();
      const m = msg("original");
      a.t.send(B, m);
      (m as { requestId: string }).requestId = "changed";
      await clock.runUntilIdle();
      assert.deepEqual(ids(b.inbox), ["original"]);
      assert.notEqual(b.inbox[0]!.message, m);
    });

    it("gives the receivers of one message in one turn one frozen copy, and a message changed in a later turn its new content", async () => {
      const { clock, a, b, c } = await network();
      const m = msg("to-both");
      a.t.send(B, m);
      a.t.send(C, m);
      await clock.runUntilIdle();
      const [atB, atC] = [b.inbox[0]!.message, c.inbox[0]!.message];
      assert.equal(atB, atC, "one copy for both receivers");
      assert.throws(() => ((atB as { requestId: string }).requestId = "rewritten"), TypeError, "a receiver cannot change it for the other");
      assert.equal(b.inbox[0]!.text, JSON.stringify(m));

      // The same object, changed after the turn it was sent in, is written out again.
      await Promise.resolve();
      (m as { requestId: string }).requestId = "changed later";
      a.t.send(B, m);
      await clock.runUntilIdle();
      assert.deepEqual(ids(b.inbox), ["to-both", "changed later"]);
      assert.equal(b.inbox[1]!.text, JSON.stringify(m));
    });

    it("orders deliveries across links by arrival time under per-link latency", async () => {
      const { clock, a, b, c } = await network(({ from }) => (from === A ? 30 : 5));
      a.t.send(C, msg("from-a"));
      b.t.send(C, msg("from-b"));
      await clock.advance(5);
      assert.deepEqual(ids(c.inbox), ["from-b"]);
      await clock.advance(25);
      assert.deepEqual(ids(c.inbox), ["from-b", "from-a"]);
      assert.equal(clock.now(), 30);
    });

    it("returns 0 for a peer not on the hub, itself or a stopped peer, and delivers nothing", async () => {
      const { clock, hub, a, b } = await network();
      const stranger = getAddress("0x00000000000000000000000000000000000000d4");
      assert.equal(a.t.send(stranger, msg("x")), 0);
      assert.equal(a.t.send(A, msg("self")), 0);
      await b.t.stop();
      assert.equal(a.t.send(B, msg("stopped")), 0);
      assert.deepEqual(a.t.connected(), [C]);
      await clock.runUntilIdle();
      assert.deepEqual(b.inbox, []);
      assert.deepEqual(a.inbox, []);
      assert.equal(hub.dropped, 3);
    });
  });

  describe("setLinkDown", () => {
    it("drops messages sent over a cut link and those in flight when it is cut (partition)", async () => {
      const { clock, hub, a, b, c } = await network(10);
      a.t.send(B, msg("in-flight"));
      a.t.send(C, msg("other-link"));
      hub.setLinkDown(B, A, true);
      assert.equal(a.t.send(B, msg("a-to-b")), 0);
      assert.equal(b.t.send(A, msg("b-to-a")), 0);
      assert.deepEqual(a.t.connected(), [C]);
      await clock.advance(10);
      assert.deepEqual(b.inbox, []);
      assert.deepEqual(a.inbox, []);
      assert.deepEqual(ids(c.inbox), ["other-link"], "an unrelated link was cut");

      hub.setLinkDown(A, B, false);
      assert.ok(a.t.send(B, msg("healed")) > 0);
      await clock.advance(10);
      assert.deepEqual(ids(b.inbox), ["healed"]);
      assert.deepEqual(a.t.connected(), [B, C]);
    });
  });
});

describe("jsonCopy", () => {
  it("gives what a peer parses from the JSON frame, frozen, for any JSON-like value with undefined fields, −0, NaN and __proto__ keys", () => {
    const value = fc.anything({ key: fc.oneof(fc.string(), fc.constant("__proto__")), maxDepth: 4, values: [fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined)] });
    fc.assert(
      fc.property(value, (v) => {
        const copy = jsonCopy(v);
        assert.deepStrictEqual(copy, v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
        if (typeof v === "object" && v !== null) {
          assert.notEqual(copy, v, "a copy, not the value");
          assert.ok(Object.isFrozen(copy), "frozen, so that receivers can share it");
        }
      }),
      { numRuns: 500, seed: 20240613 },
    );
  });
});

describe("SimulatedClock", () => {
  it("runs timers in due-time order, and in scheduling order when due together", async () => {
    const clock = new SimulatedClock();
    const ran: string[] = [];
    clock.setTimeout(() => ran.push(`c@${clock.now()}`), 30);
    clock.setTimeout(() => ran.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => ran.push(`b1@${clock.now()}`), 20);
    clock.setTimeout(() => ran.push(`b2@${clock.now()}`), 20);
    await clock.advance(25);
    assert.deepEqual(ran, ["a@10", "b1@20", "b2@20"]);
    assert.equal(clock.now(), 25);
    await clock.advance(5);
    assert.deepEqual(ran, ["a@10", "b1@20", "b2@20", "c@30"]);
  });

  it("does not run a cancelled timer", async () => {
    const clock = new SimulatedClock();
    let ran = false;
    const cancel = clock.setTimeout(() => (ran = true), 5);
    cancel();
    await clock.advance(10);
    assert.equal(ran, false);
    assert.equal(clock.pending, 0);
  });

  it("resumes a sleeper at the time it woke, before later timers", async () => {
    const clock = new SimulatedClock({ start: 1000 });
    const log: string[] = [];
    void (async () => {
      await clock.sleep(10);
      log.push(`woke@${clock.now()}`);
      clock.setTimeout(() => log.push(`chained@${clock.now()}`), 5);
    })();
    clock.setTimeout(() => log.push(`late@${clock.now()}`), 12);
    await clock.advance(100);
    assert.deepEqual(log, ["woke@1010", "late@1012", "chained@1015"]);
  });

  it("runUntilIdle runs chained timers and stops a timer that reschedules itself forever (runaway)", async () => {
    const clock = new SimulatedClock();
    let n = 0;
    const tick = () => {
      if (++n < 5) clock.setTimeout(tick, 100);
    };
    clock.setTimeout(tick, 100);
    await clock.runUntilIdle();
    assert.equal(n, 5);
    assert.equal(clock.now(), 500);

    const forever = () => void clock.setTimeout(forever, 1);
    forever();
    await assert.rejects(clock.runUntilIdle({ maxTimers: 50 }), SimulatedClockRunawayError);
  });
});
