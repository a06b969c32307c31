import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { createPublicClient, custom, keccak256, stringToHex, type PublicClient } from "viem";
import { AcceptedViews } from "../../relayer/chain/acceptedView.js";
import type { TxSender } from "../../relayer/chain/txSender.js";
import { RequestFailedError, type AskParameters, type RequestChannel } from "../../relayer/net/requestChannel.js";
import { SimulatedClock } from "../../relayer/sim/simulatedClock.js";
import { Store } from "../../relayer/store/store.js";
import { TaskRunner, type TaskEvent } from "../../relayer/tasks/taskRunner.js";
import { TaskScanner } from "../../relayer/tasks/taskScanner.js";
import type { Committee } from "../../relayer/view/verifySignedView.js";
import { deploySystem, K, type Chain } from "../fixtures/system.js";
import { NATIVE, prepareSwap } from "../fixtures/swap.js";

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
      return Object.fromEntries(calls);
    };
    // 48 pre-commits due: batches of 16 (3 with B, 1 with C), one check() each.
    const first = await tick();
    assert.equal(most.asked, 4);
    assert.deepEqual(first, { eth_call: 1 + 4, eth_getLogs: 2 }, "the records in one call, the registry's counterparty entry per batch, each accepted view once");
    await clock.advance(1_000); // past every batch's retry pause
    const second = await tick();
    assert.equal(most.asked, 8);
    assert.deepEqual(second, { eth_call: 1 + 4 }, "the accepted views are not read again");
    // The check() requests of one counterparty go one after another (each may move the registry's view the next connects
    // to); those of different counterparties side by side, so a slow or silent counterparty holds up no other's steps.
    assert.equal(most.perChain, 1);
    assert.equal(most.total, 2);
    assert.ok(events.every((e) => e.type === "step-failed" && e.step === "precommit"));
    store.close();
  });
});
