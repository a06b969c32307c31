import assert from "node:assert/strict";
import { getAddress, keccak256, parseEther, stringToHex, type Hex } from "viem";
import { ForkAttack } from "../../relayer/attack/forkAttack.js";
import type { Message } from "../../relayer/net/message.js";
import type { Transport } from "../../relayer/net/transport.js";
import { deploySystem, K, type Chain } from "../fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg } from "../fixtures/swap.js";
import { RelayerNetwork } from "../fixtures/relayerNetwork.js";
import { CLAIM_PERIOD, mine, NO_POST, recordProof } from "../fixtures/system.js";

const Status = { None: 0, Registered: 1, Committed: 2, Released: 3, Refunded: 4, Cancelled: 5 } as const;
const TTL = 60n;

async function statusOf(chain: Chain, id: Hex): Promise<number> {
  return (await chain.gateway.read.recordOf([id]))[0];
}

async function frozenEvents(chain: Chain, target: bigint): Promise<number> {
  const logs = await chain.publicClient.getContractEvents({ address: chain.registry.address, abi: chain.registry.abi, eventName: "ChainFrozen", fromBlock: 0n });
  return logs.filter((l) => (l.args as { chainId: bigint }).chainId === target).length;
}

describe("Fork attack (the paper's Proposition 4)", function () {
  this.timeout(300_000);
  let network: RelayerNetwork | undefined;
  afterEach(async () => {
    await network?.stop();
    network = undefined;
  });

  it("catches B signing two branches: C refuses its task on b2, every chain freezes B once, A's harmed user is compensated", async () => {
    const [a, b, c] = (await deploySystem({ networks: ["chainA", "chainB", "chainC"], q: 4 })) as [Chain, Chain, Chain];
    network = new RelayerNetwork([a, b, c], { gossip: { sendRate: 0.3, pacemakerBlocks: 10 } });
    await network.start();
    const alice = a.users.alice.account.address;
    const bob = b.users.bob.account.address;

    // Branch b1: Alice pays 1 coin on A to Bob, Bob pays 100 tokens on B to Alice; the relayers settle it.
    const attack = await ForkAttack.begin({ client: b.publicClient, chainId: b.chainId, gateway: b.gateway.address, k: K, colluders: b.committee });
    await b.token.write.mint([bob, 1000n]);
    const swap = await prepareSwap(
      { chain: a, payer: a.users.alice, beneficiary: bob, asset: NATIVE, amount: parseEther("1"), expiry: (await a.publicClient.getBlockNumber()) + TTL },
      { chain: b, payer: b.users.bob, beneficiary: alice, asset: b.token.address, amount: 100n, expiry: (await b.publicClient.getBlockNumber()) + TTL },
      keccak256(stringToHex("b1")),
    );
    await registerLeg(swap.x, swap.regX);
    await registerLeg(swap.y, swap.regY);
    await network!.until("the swap released on A and on b1", async () => (await statusOf(a, swap.idX)) === Status.Released && (await statusOf(b, swap.idY)) === Status.Released);
    assert.equal(await b.token.read.balanceOf([alice]), 100n, "on b1 Alice got her tokens");
    const b1Seen = await a.registry.read.latestHeight([b.chainId]);

    // B's committee turns: its nodes go silent, B is rewound to the fork and goes on along b2, where the task with A never happened.
    await network.stopChain(b.chainId);
    await attack.switchToSecondBranch();
    assert.equal(await statusOf(b, swap.idY), Status.None, "b2 has no trace of Bob's side");
    assert.equal(await b.token.read.balanceOf([alice]), 0n, "on b2 Alice has nothing");
    await network!.until("b2 growing past what A saw of b1", async () => (await b.publicClient.getBlockNumber({ cacheTime: 0 })) > b1Seen + 4n);

    // b2 is shown to C only, with a task on b2: Carol pays 100 tokens on C for 1 coin of Bob's on b2.
    const carol = c.users.carol;
    await c.token.write.mint([carol.account.address, 1000n]);
    const onB2 = await prepareSwap(
      { chain: c, payer: carol, beneficiary: c.users.bob.account.address, asset: c.token.address, amount: 100n, expiry: (await c.publicClient.getBlockNumber()) + TTL },
      { chain: b, payer: b.users.bob, beneficiary: carol.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await b.publicClient.getBlockNumber()) + TTL },
      keccak256(stringToHex("b2")),
    );
    await registerLeg(onB2.x, onB2.regX);
    await registerLeg(onB2.y, onB2.regY);
    const shownFrom = await c.publicClient.getBlockNumber();
    const views = await attack.signedViews({ after: await c.registry.read.latestHeight([b.chainId]), to: await b.publicClient.getBlockNumber({ cacheTime: 0 }) });
    for (const { view, signatures, bridge } of views) await c.registry.write.submitView([view, signatures, bridge]);
    const proof = await recordProof(b, c, onB2.idY);
    await c.gateway.write.precommit([NO_POST, proof.at, [onB2.regX], proof.storageProofs]).catch(() => undefined); // may already be refused

    // The overlay carries A's b1 views and C's b2 views to each other: evidence, and B frozen everywhere.
    await network!.until("B frozen on A and on C", async () => (await a.registry.read.isFrozen([b.chainId])) && (await c.registry.read.isFrozen([b.chainId])));
    const detectedAfter = (await c.registry.read.frozenAt([b.chainId])) - shownFrom;
    console.log(`      fork detected on C ${detectedAfter} blocks after b2 was shown to it`);
    assert.equal(await frozenEvents(a, b.chainId), 1, "evidence from several nodes slashes once on A");
    assert.equal(await frozenEvents(c, b.chainId), 1, "evidence from several nodes slashes once on C");

    // C refuses to finish its task on b2: Carol's tokens come back.
    await network!.until("C's task with B ended without paying B's side", async () => [Status.Refunded, Status.Cancelled].includes(await statusOf(c, onB2.idX) as 4 | 5));
    assert.equal(await c.token.read.balanceOf([carol.account.address]), 1000n);

    // Alice paid on A for tokens that b2 rewrote away: a claim on B's slashed bond on A is filed for her (anyone may file it),
    // and once the claim period is over she is paid from it.
    await network.stop();
    network = undefined;
    await a.gateway.write.claimCompensation([swap.regX], { account: a.users.carol.account });
    const [filed] = await a.publicClient.getContractEvents({ address: a.gateway.address, abi: a.gateway.abi, eventName: "CompensationFiled", fromBlock: 0n });
    assert.deepEqual(filed?.args, { contractId: swap.idX, claimant: getAddress(alice), value: parseEther("1") });
    const endsAt = (await a.registry.read.frozenAt([b.chainId])) + CLAIM_PERIOD;
    await mine(a, Number(endsAt - (await a.publicClient.getBlockNumber())) + 1);
    const before = await a.publicClient.getBalance({ address: alice });
    await a.gateway.write.withdrawCompensation([swap.regX], { account: a.users.carol.account });
    assert.equal(await a.publicClient.getBalance({ address: alice }), before + parseEther("1"));
  });

  it("notices a fork shown to an isolated chain once an honest path returns, within the pacemaker's bound", async () => {
    const [a, b, c] = (await deploySystem({ networks: ["chainA", "chainB", "chainC"], q: 4 })) as [Chain, Chain, Chain];
    const PACEMAKER = 10;
    let isolated = true;
    const gossip = new Set<Message["kind"]>(["view-update", "view-pull", "evidence"]);
    // C's nodes neither send nor take gossip while isolated (the attacker cut their overlay links).
    const cut = (inner: Transport): Transport => ({
      self: inner.self,
      start: () => inner.start(),
      stop: () => inner.stop(),
      connected: () => inner.connected(),
      onMessage: (handler) => inner.onMessage((d) => (isolated && gossip.has(d.message.kind) ? undefined : handler(d))),
      send: (to, message) => (isolated && gossip.has(message.kind) ? 0 : inner.send(to, message)),
    });
    network = new RelayerNetwork([a, b, c], {
      gossip: { sendRate: 0.3, pacemakerBlocks: PACEMAKER },
      wrapTransport: (transport, config) => (config.chainId === c.chainId ? cut(transport) : transport),
    });
    await network.start();
    const attack = await ForkAttack.begin({ client: b.publicClient, chainId: b.chainId, gateway: b.gateway.address, k: K, colluders: b.committee });
    // b1 spreads to A through the overlay (B's nodes push their certified views).
    const nodesOfA = [...network.nodes.values()].filter((n) => n.config.chainId === a.chainId);
    await network!.until("A's nodes holding B's views", async () => nodesOfA.every((n) => (n.viewList.newest(b.chainId)?.view.height ?? 0n) > attack.forkHeight + 2n));
    await network.stopChain(b.chainId);
    await attack.switchToSecondBranch();
    await network!.until("b2 past the fork", async () => (await b.publicClient.getBlockNumber({ cacheTime: 0 })) > attack.forkHeight + BigInt(K));
    const views = await attack.signedViews({ after: await c.registry.read.latestHeight([b.chainId]), to: await b.publicClient.getBlockNumber({ cacheTime: 0 }) });
    for (const { view, signatures, bridge } of views) await c.registry.write.submitView([view, signatures, bridge]);

    // While C is cut off, nobody can tell: B stays unfrozen everywhere.
    await new Promise((r) => setTimeout(r, 5_000));
    assert.equal(await c.registry.read.isFrozen([b.chainId]), false);
    assert.equal(await a.registry.read.isFrozen([b.chainId]), false);

    isolated = false;
    const reconnectedAt = await c.publicClient.getBlockNumber();
    await network!.until("B frozen on C and A once C's overlay links return", async () => (await c.registry.read.isFrozen([b.chainId])) && (await a.registry.read.isFrozen([b.chainId])));
    const hiddenFor = (await c.registry.read.frozenAt([b.chainId])) - reconnectedAt;
    console.log(`      fork noticed ${hiddenFor} blocks after C's overlay links returned (pacemaker: ${PACEMAKER} blocks)`);
    // B's views stopped changing, so only the pacemaker carries them: each node's full list reaches every
    // other system within (n − 1)·pacemaker blocks; a few more blocks for the evidence transaction.
    assert.ok(hiddenFor <= 2n * BigInt(PACEMAKER) + 4n, `hidden for ${hiddenFor} blocks`);
  });
});
