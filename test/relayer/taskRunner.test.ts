import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createPublicClient, custom, keccak256, parseEther, stringToHex, type Account, type Address, type Chain as ViemChain, type PublicClient, type Transport, type WalletClient } from "viem";
import { AcceptedViews } from "../../relayer/chain/acceptedView.js";
import { Status } from "../../relayer/chain/abis.js";
import { TxRefusedError, TxSender } from "../../relayer/chain/txSender.js";
import { RequestFailedError, type AskParameters, type RequestChannel } from "../../relayer/net/requestChannel.js";
import { SimulatedClock } from "../../relayer/sim/simulatedClock.js";
import { Store } from "../../relayer/store/store.js";
import { designatedFor, rankFor } from "../../relayer/tasks/stepSchedule.js";
import { TaskRunner, type TaskEvent } from "../../relayer/tasks/taskRunner.js";
import { TaskScanner } from "../../relayer/tasks/taskScanner.js";
import type { Committee } from "../../relayer/view/verifySignedView.js";
import { deploySystem, K, type Chain } from "../fixtures/system.js";
import { NATIVE, prepareSwap, type Swap } from "../fixtures/swap.js";
import { until } from "../fixtures/until.js";

/** A client of `chain` that counts the JSON-RPC calls made through it, by method. */
function countingClient(chain: Chain): { client: PublicClient; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const client = createPublicClient({
    transport: custom({
      request: ({ method, params }) => {
        calls.set(method, (calls.get(method) ?? 0) + 1);
        return chain.publicClient.request({ method, params } as never);
      },
    }),
  }) as PublicClient;
  return { client, calls };
}

/**
 * A request channel to the other chains that holds each check() for `answerMs` and then finds no answer (the mirrors are
 * never registered), counting how many requests are in flight at once, per chain and in all.
 */
function slowChannel(answerMs: number) {
  const inFlight = new Map<bigint, number>();
  const most = { total: 0, perChain: 0, asked: 0 };
  const channel = {
    async ask<T>({ chainId }: AskParameters<T>): Promise<T> {
      most.asked += 1;
      inFlight.set(chainId, (inFlight.get(chainId) ?? 0) + 1);
      most.perChain = Math.max(most.perChain, inFlight.get(chainId)!);
      most.total = Math.max(most.total, [...inFlight.values()].reduce((a, b) => a + b, 0));
      await sleep(answerMs);
      inFlight.set(chainId, inFlight.get(chainId)! - 1);
      throw new RequestFailedError(chainId, ["the mirror is not registered"]);
    },
  } as unknown as RequestChannel;
  return { channel, most };
}

/**
 * A request channel whose every answer is believed: it answers check() of each mirror with the status `mirror(chainId)`
 * says (registered in time, or not), at a height one above that chain's last (or minHeight), recording each request. `hold(chainId)` makes that
 * chain's answers wait until released.
 */
function scriptedChannel() {
  const asked: { chainId: bigint; minHeight: bigint; at: number }[] = [];
  const registered = new Set<bigint>();
  const held = new Map<bigint, { promise: Promise<void>; release: () => void }>();
  const heights = new Map<bigint, bigint>();
  const channel = {
    async ask<T>({ chainId, contractIds, minHeight }: AskParameters<T>): Promise<T> {
      asked.push({ chainId, minHeight, at: asked.length });
      await held.get(chainId)?.promise;
      const next = (heights.get(chainId) ?? 10n) + 1n;
      const height = next > minHeight ? next : minHeight;
      heights.set(chainId, height);
      const record = { status: registered.has(chainId) ? 1 : 0, registeredAt: registered.has(chainId) ? 1n : 0n, committedAt: 0n, finishedAt: 0n, valueGwei: 0n };
      const checked = { height, header: "0x", accBefore: "0x", accountProof: [], storageProofs: contractIds.map(() => []), post: undefined };
      return { checked, records: contractIds.map(() => record) } as T;
    },
  } as unknown as RequestChannel;
  return {
    channel,
    asked,
    registerMirrors: (chainId: bigint) => registered.add(chainId),
    hold: (chainId: bigint) => {
      let release = () => {};
      const promise = new Promise<void>((resolve) => (release = resolve));
      held.set(chainId, { promise, release: () => (held.delete(chainId), release()) });
      return () => held.get(chainId)?.release();
    },
  };
}

/** A transaction sender that lands every step at once and remembers what it sent. */
function landingSender(): { sender: TxSender; sent: { functionName: string; key: string }[] } {
  const sent: { functionName: string; key: string }[] = [];
  const sender = { send: async ({ functionName, key }: { functionName: string; key: string }) => (sent.push({ functionName, key }), "landed") } as unknown as TxSender;
  return { sender, sent };
}

/** A runner of `chain` for `self` in its committee of `members`, with a store of the chain's open tasks; `tick` runs one tick to its end. */
async function runnerOn(o: {
  chain: Chain;
  others: Chain[];
  self: Address;
  members: readonly Address[];
  channel: RequestChannel;
  sender: TxSender;
  clock: SimulatedClock;
  takeoverMs: number;
  retryMs: number;
}) {
  const a = o.chain;
  const store = new Store({ path: ":memory:" });
  await new TaskScanner({ client: a.publicClient, gateway: a.gateway.address, store }).scan(await a.publicClient.getBlockNumber());
  const committee = (chain: Chain): Committee => ({ gateway: chain.gateway.address, members: chain.committee.map((m) => m.address), threshold: 3, k: K });
  const events: TaskEvent[] = [];
  const runner = new TaskRunner({
    chainId: a.chainId,
    self: o.self,
    members: o.members,
    clock: o.clock,
    takeoverMs: o.takeoverMs,
    retryMs: o.retryMs,
    client: a.publicClient,
    gateway: a.gateway.address,
    registry: a.registry.address,
    sender: o.sender,
    channel: o.channel,
    committees: new Map(o.others.map((chain) => [chain.chainId, committee(chain)])),
    acceptedViews: new AcceptedViews({ client: a.publicClient, registry: a.registry.address }),
    onEvent: (event) => events.push(event),
    onVerifiedView: async () => {},
    store,
  });
  const tick = async () => {
    await runner.tick(await a.publicClient.getBlockNumber());
    await runner.idle();
  };
  return { runner, store, events, tick };
}

describe("TaskRunner", function () {
  this.timeout(300_000);

  it("attack: many 1-wei registrations with far expiries; a tick reads every open task's record in one call, not one call per task", async () => {
    const [a, b, c] = (await deploySystem({ networks: ["chainA", "chainB", "chainC"], q: 4 })) as [Chain, Chain, Chain];
    // The attacker (any user of A) registers 40 contracts of 1 wei with B and 8 with C, expiring as late as A allows, whose
    // mirrors it never registers: every tick of every node of A must look at each of them until they expire.
    const head = await a.publicClient.getBlockNumber();
    const dust = async (counterparty: Chain, n: number) => {
      for (let i = 0; i < n; i++) {
        const swap = await prepareSwap(
          { chain: a, payer: a.users.mallory, beneficiary: a.users.mallory.account.address, asset: NATIVE, amount: 1n, expiry: head + 900n },
          { chain: counterparty, payer: counterparty.users.mallory, beneficiary: a.users.mallory.account.address, asset: NATIVE, amount: 1n, expiry: (await counterparty.publicClient.getBlockNumber()) + 900n },
          keccak256(stringToHex(`dust ${counterparty.chainId} ${i}`)),
        );
        await a.gateway.write.register([swap.regX], { account: a.users.mallory.account, value: 1n });
      }
    };
    await dust(b, 40);
    await dust(c, 8);

    const store = new Store({ path: ":memory:" });
    const { client, calls } = countingClient(a);
    await new TaskScanner({ client, gateway: a.gateway.address, store }).scan(await a.publicClient.getBlockNumber());
    assert.equal(store.openTasks().length, 48);
    const committee = (chain: Chain): Committee => ({ gateway: chain.gateway.address, members: chain.committee.map((m) => m.address), threshold: 3, k: K });
    const clock = new SimulatedClock();
    const { channel, most } = slowChannel(200);
    const events: TaskEvent[] = [];
    const self = a.committee[0]!.address;
    const runner = new TaskRunner({
      chainId: a.chainId,
      self,
      members: [self], // a committee of one: every step is this node's
      clock,
      takeoverMs: 1_000,
      retryMs: 1_000,
      client,
      gateway: a.gateway.address,
      registry: a.registry.address,
      sender: {} as TxSender, // no step gets as far as a transaction: no mirror is ever registered
      channel,
      committees: new Map([b, c].map((chain) => [chain.chainId, committee(chain)])),
      acceptedViews: new AcceptedViews({ client, registry: a.registry.address }),
      onEvent: (event) => events.push(event),
      onVerifiedView: async () => {},
      store,
    });

    const tick = async () => {
      calls.clear();
      await runner.tick(await a.publicClient.getBlockNumber());
      await runner.idle();
      return Object.fromEntries(calls);
    };
    // 48 pre-commits due: batches of 16 (3 with B, 1 with C), one check() each once the counterparty had two retry pauses
    // to ask first.
    const seen = await tick();
    assert.equal(most.asked, 0);
    assert.deepEqual(seen, { eth_call: 1 }, "the records in one call");
    await clock.advance(2_000);
    const first = await tick();
    assert.equal(most.asked, 4);
    assert.deepEqual(first, { eth_call: 1 + 2 * 4, eth_getLogs: 2 }, "the records in one call; per batch, its records with the pool applied and the registry's counterparty entry; each accepted view once");
    await clock.advance(1_000); // past every batch's retry pause
    const second = await tick();
    assert.equal(most.asked, 8);
    assert.deepEqual(second, { eth_call: 1 + 2 * 4 }, "the accepted views are not read again");
    // The check() requests of one counterparty go one after another (each may move the registry's view the next connects
    // to); those of different counterparties side by side, so a slow or silent counterparty holds up no other's steps.
    assert.equal(most.perChain, 1);
    assert.equal(most.total, 2);
    assert.ok(events.every((e) => e.type === "step-failed" && e.step === "precommit"));
    store.close();
  });

  it("a member that takes over a step another member's transaction already carries (in the pool, not mined) neither asks nor sends it", async () => {
    const [a, b] = (await deploySystem({ networks: ["chainA", "chainB"], q: 3 })) as [Chain, Chain];
    const swap = await prepareSwap(
      { chain: a, payer: a.users.alice, beneficiary: a.users.bob.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await a.publicClient.getBlockNumber()) + 5n },
      { chain: b, payer: b.users.bob, beneficiary: a.users.alice.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await b.publicClient.getBlockNumber()) + 5n },
    );
    await a.gateway.write.register([swap.regX], { account: a.users.alice.account, value: swap.regX.amount });
    await a.conn.provider.request({ method: "hardhat_mine", params: ["0x10"] }); // past h1: the contract is due for cancel
    const members = a.committee.map((m) => m.address);
    const key = `${swap.idX}:cancel`;
    const [designated, next] = [0, 1].map((rank) => members.find((m) => rankFor(key, members, m) === rank)!) as [Address, Address];
    const clock = new SimulatedClock();
    const channel = scriptedChannel().channel;
    const timing = { chain: a, others: [b], members, channel, clock, takeoverMs: 10_000, retryMs: 100 };
    const wallet = a.users.carol as unknown as WalletClient<Transport, ViemChain, Account>;
    const first = await runnerOn({ ...timing, self: designated, sender: new TxSender({ publicClient: a.publicClient as PublicClient, walletClient: wallet, store: new Store({ path: ":memory:" }) }) });
    const { sender, sent } = landingSender();
    const second = await runnerOn({ ...timing, self: next, sender });

    await a.conn.provider.request({ method: "evm_setAutomine", params: [false] });
    try {
      await first.runner.tick(await a.publicClient.getBlockNumber()); // its cancel goes to the pool, and waits there
      const pool = async () => (await a.publicClient.getTransactionCount({ address: a.users.carol.account.address, blockTag: "pending" })) - (await a.publicClient.getTransactionCount({ address: a.users.carol.account.address }));
      await until("the designated member's cancel in the pool", async () => (await pool()) === 1);
      await second.tick(); // the next member sees the step due too, and waits for its turn
      await clock.advance(10_000); // the designated member is silent as far as the next one can tell: its turn comes
      await second.tick();
      assert.deepEqual(sent, [], "the next member sends no second cancel");
      await a.conn.provider.request({ method: "evm_mine", params: [] });
    } finally {
      await a.conn.provider.request({ method: "evm_setAutomine", params: [true] });
    }
    await first.runner.idle();
    assert.ok(first.events.some((e) => e.type === "step-sent" && e.step === "cancel" && e.outcome === "landed"));
    const [status] = await a.gateway.read.recordOf([swap.idX]);
    assert.equal(status, Status.Cancelled);
    await second.tick();
    assert.deepEqual(sent, [], "and none once it is mined");
    for (const { store } of [first, second]) store.close();
  });

  describe("the paper's check rule (section IV.B step 2)", () => {
    const TAKEOVER_MS = 10_000;
    const RETRY_MS = 100;
    let a: Chain, b: Chain, c: Chain;
    let swaps: Swap[];

    before(async () => {
      [a, b, c] = (await deploySystem({ networks: ["chainA", "chainB", "chainC"], q: 4 })) as [Chain, Chain, Chain];
      // Two contracts on A: one with B, one with C; their mirrors are never registered on chain (the scripted channel
      // says whether they are).
      swaps = [];
      for (const other of [b, c]) {
        const swap = await prepareSwap(
          { chain: a, payer: a.users.alice, beneficiary: a.users.bob.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await a.publicClient.getBlockNumber()) + 500n },
          { chain: other, payer: other.users.bob, beneficiary: a.users.alice.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await other.publicClient.getBlockNumber()) + 500n },
          keccak256(stringToHex(`rule ${other.chainId}`)),
        );
        await a.gateway.write.register([swap.regX], { account: a.users.alice.account, value: swap.regX.amount });
        swaps.push(swap);
      }
    });

    /** A runner of A for `self` in A's committee of `members`, with a store of A's open tasks. */
    const runnerOf = (self: Address, members: readonly Address[], channel: RequestChannel, sender: TxSender, clock: SimulatedClock) =>
      runnerOn({ chain: a, others: [b, c], self, members, channel, sender, clock, takeoverMs: TAKEOVER_MS, retryMs: RETRY_MS });

    /** A committee of one (every step is this node's, a full takeover round is takeoverMs), a scripted channel, a sender that lands. */
    async function soloRunner() {
      const clock = new SimulatedClock();
      const script = scriptedChannel();
      const { sender, sent } = landingSender();
      const self = a.committee[0]!.address;
      const toB = () => script.asked.filter((r) => r.chainId === b.chainId);
      return { clock, script, sent, toB, ...(await runnerOf(self, [self], script.channel, sender, clock)) };
    }

    it("a check that finds the mirror missing asks again when the counterparty asks, not on a timer; only a full takeover round is the fallback", async () => {
      const { runner, store, tick, clock, script, sent, toB } = await soloRunner();
      const idX = swaps[0]!.idX;

      await tick();
      assert.equal(toB().length, 0, "the first check gives B two retry pauses to ask first");
      await clock.advance(2 * RETRY_MS);
      await tick();
      assert.equal(toB().length, 1, "then A's node checks");
      // Before this rule the step was asked again after 100, 200, 400 … ms (up to 16 × retryMs): 7 more checks by now.
      for (let t = 0; t < 20; t++) {
        await clock.advance(TAKEOVER_MS / 25);
        await tick();
      }
      assert.equal(toB().length, 1, "no check while it waits for B's request");

      // attack: a node of C (not B's committee) names the contract in a request, to make A's node ask B again and again.
      runner.nudge(idX, c.committee[0]!.address);
      await tick();
      assert.equal(toB().length, 1, "a request from outside B's committee wakes nothing");

      await clock.advance(TAKEOVER_MS / 5);
      await tick();
      assert.equal(toB().length, 2, "the fallback: one check after a full takeover round");
      assert.equal(toB()[1]!.minHeight, 12n, "above the height of the answer that showed the mirror missing (11)");

      // B's node registered the mirror and checks A's contract: its request wakes the step at once.
      script.registerMirrors(b.chainId);
      runner.nudge(idX, b.committee[2]!.address);
      await tick();
      assert.equal(toB().length, 3);
      assert.equal(toB()[2]!.minHeight, 13n);
      assert.deepEqual(sent, [{ functionName: "precommit", key: `${idX}:precommit` }]);
      store.close();
    });

    it("a request that arrives while the check is out makes a miss go on at the retry pace", async () => {
      const { runner, store, tick, clock, script, sent, toB } = await soloRunner();
      await tick();
      await clock.advance(2 * RETRY_MS);
      const release = script.hold(b.chainId);
      const first = tick();
      await until("the check of B", () => toB().length === 1);
      // B's request crosses A's check: B registered its side after B's view the answer will carry.
      runner.nudge(swaps[0]!.idX, b.committee[1]!.address);
      release();
      await first;
      await clock.advance(RETRY_MS);
      script.registerMirrors(b.chainId);
      await tick();
      assert.equal(toB().length, 2, "asked again after retryMs, not after a takeover round");
      assert.equal(sent.length, 1);
      store.close();
    });

    it("a request that came before the node saw its contract makes the first check due at once", async () => {
      const { runner, store, tick, script, sent } = await soloRunner();
      // B's node registered the mirror and asked before this node's first tick; a node of C asked about A's contract with B too.
      runner.nudge(swaps[0]!.idX, b.committee[3]!.address);
      runner.nudge(swaps[1]!.idX, b.committee[3]!.address);
      script.registerMirrors(b.chainId);
      script.registerMirrors(c.chainId);
      await tick();
      assert.deepEqual(script.asked.map((r) => r.chainId), [b.chainId], "B's request counts for A's contract with B, not for the one with C");
      assert.deepEqual(sent.map((t) => t.key), [`${swaps[0]!.idX}:precommit`]);
      store.close();
    });

    /** A committee of one whose sender refuses the first `refusals` steps with `reason`, then lands them. */
    async function refusingRunner(reason: string, refusals: number) {
      const clock = new SimulatedClock();
      const script = scriptedChannel();
      const sent: string[] = [];
      let left = refusals;
      const sender = {
        send: async ({ key }: { key: string }) => {
          if (left-- > 0) throw new TxRefusedError(key, reason, undefined);
          sent.push(key);
          return "landed";
        },
      } as unknown as TxSender;
      const self = a.committee[0]!.address;
      script.registerMirrors(b.chainId);
      const runner = await runnerOf(self, [self], script.channel, sender, clock);
      /** Checks of B's mirror asked for after `pauses` retry pauses more (the first tick at once). */
      const askedAfter = async (pauses: number) => {
        await clock.advance(pauses * RETRY_MS);
        await runner.tick();
        return script.asked.filter((r) => r.chainId === b.chainId).length;
      };
      return { sent, askedAfter, store: runner.store };
    }

    for (const reason of ["ViewRegistryBridgeMismatch", "GatewayHeaderNotAccepted"]) {
      it(`a step refused with ${reason} (another node's view post overtook its answer) is checked and tried again after retryMs each time, not backed off`, async () => {
        const { sent, askedAfter, store } = await refusingRunner(reason, 3);
        await askedAfter(0);
        assert.equal(await askedAfter(2), 1);
        for (let attempt = 2; attempt <= 4; attempt++) {
          assert.equal(await askedAfter(1), attempt, `attempt ${attempt}, one retry pause after the last (doubled, it would wait ${2 ** (attempt - 1)} pauses)`);
        }
        assert.deepEqual(sent, [`${swaps[0]!.idX}:precommit`], "the fourth attempt, with a fresh answer, lands");
        store.close();
      });
    }

    it("a race that never ends (refused so every time) goes back to doubling pauses after 8 paced retries", async () => {
      const { sent, askedAfter, store } = await refusingRunner("ViewRegistryBridgeMismatch", 100);
      await askedAfter(0);
      assert.equal(await askedAfter(2), 1);
      for (let attempt = 2; attempt <= 10; attempt++) assert.equal(await askedAfter(1), attempt);
      assert.equal(await askedAfter(1), 10, "after the 9th refusal the pause doubles again");
      assert.equal(await askedAfter(1), 11);
      assert.deepEqual(sent, []);
      store.close();
    });

    it("a step refused for another reason backs off: the pause doubles after each attempt", async () => {
      const { sent, askedAfter, store } = await refusingRunner("GatewayWrongBeneficiary", 3);
      await askedAfter(0);
      assert.equal(await askedAfter(2), 1);
      assert.equal(await askedAfter(1), 2);
      assert.equal(await askedAfter(1), 2, "the pause after the second attempt is two retry pauses");
      assert.equal(await askedAfter(1), 3);
      assert.deepEqual(sent, []);
      store.close();
    });

    it("a nudge wakes the node that checked, whatever its rank; a member whose turn has not come keeps its turn", async () => {
      const members = a.committee.map((m) => m.address);
      const key = `${swaps[0]!.idX}:precommit`;
      const designated = designatedFor(key, members);
      const later = members.find((m) => rankFor(key, members, m) === 2)!;
      const clock = new SimulatedClock();
      const script = scriptedChannel();
      const { sender } = landingSender();
      const first = await runnerOf(designated, members, script.channel, sender, clock);
      const second = await runnerOf(later, members, script.channel, sender, clock);
      const toB = () => script.asked.filter((r) => r.chainId === b.chainId);
      await first.tick();
      await second.tick();
      await clock.advance(2 * RETRY_MS);
      await first.tick();
      await second.tick();
      assert.equal(toB().length, 1, "only the designated member checks");
      for (const { runner } of [first, second]) runner.nudge(swaps[0]!.idX, b.committee[0]!.address);
      await first.tick();
      await second.tick();
      assert.equal(toB().length, 2, "the designated member checks again; the rank-2 member, nudged too, does not duplicate it");
      await clock.advance(2 * TAKEOVER_MS);
      await second.tick();
      assert.equal(toB().length, 3, "the rank-2 member takes over at its time, as for a silent node");
      first.store.close();
      second.store.close();
    });

    it("one slow check holds up neither another counterparty's steps nor the next tick", async () => {
      const { runner, store, clock, script, sent } = await soloRunner();
      const release = script.hold(b.chainId); // B's nodes answer only much later
      const head = await a.publicClient.getBlockNumber();
      await runner.tick(head);
      await clock.advance(2 * RETRY_MS);
      await runner.tick(head);
      await until("both counterparties asked", () => script.asked.length === 2);
      assert.deepEqual(script.asked.map((r) => r.chainId).sort(), [b.chainId, c.chainId].sort(), "both counterparties asked at once");
      // C's node registered and asks about A's contract with C: A's node checks again and pre-commits while B's check is out.
      script.registerMirrors(c.chainId);
      runner.nudge(swaps[1]!.idX, c.committee[0]!.address);
      await runner.tick(head);
      await until("the pre-commit with C sent", () => sent.length === 1);
      assert.equal(script.asked.filter((r) => r.chainId === c.chainId).length, 2);
      assert.equal(script.asked.filter((r) => r.chainId === b.chainId).length, 1, "B's step is not asked twice while its check is out");
      assert.deepEqual(sent.map((s) => s.key), [`${swaps[1]!.idX}:precommit`]);
      release();
      await runner.idle();
      store.close();
    });

    it("a step carried in another's batch before its own first check was due is not parked by that check's miss: its own first check comes after its wait", async () => {
      const { store, tick, clock, script, sent, toB } = await soloRunner();
      await tick(); // the contract with B is due, its first check after two retry pauses
      // A second contract with B, registered a retry pause later: its first check comes one pause after the first one's.
      const later = await prepareSwap(
        { chain: a, payer: a.users.alice, beneficiary: a.users.bob.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await a.publicClient.getBlockNumber()) + 500n },
        { chain: b, payer: b.users.bob, beneficiary: a.users.alice.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await b.publicClient.getBlockNumber()) + 500n },
        keccak256(stringToHex("rule carried")),
      );
      await a.gateway.write.register([later.regX], { account: a.users.alice.account, value: later.regX.amount });
      await new TaskScanner({ client: a.publicClient, gateway: a.gateway.address, store }).scan(await a.publicClient.getBlockNumber());
      await clock.advance(RETRY_MS);
      await tick();
      await clock.advance(RETRY_MS);
      await tick();
      assert.equal(toB().length, 1, "the first contract's check carries both: B registered neither mirror yet");
      // B registers the second mirror and its node's request goes to another member: nothing wakes this node.
      script.registerMirrors(b.chainId);
      await clock.advance(RETRY_MS);
      await tick();
      assert.equal(toB().length, 2, "the second contract's own first check comes when its wait is over, not a takeover round later");
      assert.deepEqual(sent.map((s) => s.functionName), ["precommit"]);
      store.close();
    });
  });
});
