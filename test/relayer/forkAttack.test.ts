import assert from "node:assert/strict";
import { getAddress, keccak256, parseEther, stringToHex, type Hex } from "viem";
import { ForkAttack } from "../../relayer/attack/forkAttack.js";
import { registryAbi } from "../../relayer/chain/abis.js";
import type { Message } from "../../relayer/net/message.js";
import type { Transport } from "../../relayer/net/transport.js";
import { BOND, deploySystem, K, SLASH_REWARD_BPS, sign, viewOf, type Chain } from "../fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg } from "../fixtures/swap.js";
import { RelayerNetwork } from "../fixtures/relayerNetwork.js";
import { CLAIM_PERIOD, mine, NO_POST, recordProof } from "../fixtures/system.js";
import { flipByte } from "../fixtures/tamper.js";

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

  it("attack: a forked committee answers below the registry's accepted view; the answer is fork evidence, and B ends frozen on A and C", async () => {
    const [a, b, c] = (await deploySystem({ networks: ["chainA", "chainB", "chainC"], q: 4 })) as [Chain, Chain, Chain];
    // B's whole committee is forked: each of its nodes answers A's check() requests with a view of another branch of B,
    // signed by the committee, one height below the view A's registry accepted, where the registry's one word cannot show
    // the conflict. Such an answer is only "too old" to a node that compares it with that word: every answer of the forked
    // committee would fail so, and the fork stay hidden.
    const forge = (inner: Transport): Transport => {
      const known = new Map<string, bigint>(); // requestId → the asker's known height
      return {
        self: inner.self,
        start: () => inner.start(),
        stop: () => inner.stop(),
        connected: () => inner.connected(),
        onMessage: (handler) =>
          inner.onMessage((delivery) => {
            if (delivery.message.kind === "request") known.set(delivery.message.requestId, BigInt(delivery.message.knownHeight));
            handler(delivery);
          }),
        send: (to, message: Message) => {
          if (message.kind !== "answer" && message.kind !== "answer-error") return inner.send(to, message);
          const { requestId } = message;
          const knownHeight = known.get(requestId);
          if (knownHeight === undefined || knownHeight === 0n) return inner.send(to, message);
          void (async () => {
            const honest = await viewOf(b, K, knownHeight - 1n);
            const forked = { ...honest, hashes: honest.hashes.map((h, i, all) => (i === all.length - 1 ? flipByte(h, 0) : h)) };
            const view = { view: { chainId: forked.chainId.toString(), height: forked.height.toString(), acc: forked.acc, hashes: forked.hashes }, signatures: await sign(b, forked) };
            inner.send(to, { kind: "answer", requestId, height: forked.height.toString(), proof: { header: "0x", accountProof: [], storageProofs: [[]] }, view, bridge: [] });
          })();
          return 1;
        },
      };
    };
    network = new RelayerNetwork([a, b, c], { wrapTransport: (transport, config) => (config.chainId === b.chainId ? forge(transport) : transport) });
    await network.start();
    const known = await a.registry.read.latestHeight([b.chainId]);
    // B's nodes gossip their (honest) newest views: A's view lists move on past the view A's registry accepted, so they
    // hold nothing near the forked answer that could show the conflict either.
    const nodesOfA = [...network.nodes.values()].filter((n) => n.config.chainId === a.chainId);
    await network.until("A's view lists holding only views of B above the accepted view's window", async () =>
      nodesOfA.every((n) => n.viewList.newest(b.chainId) !== undefined && n.viewList.after(b.chainId, -1n).every((s) => s.view.height > known + BigInt(K))),
    );

    // A contract on A with B: A's nodes ask B's about its mirror.
    const swap = await prepareSwap(
      { chain: a, payer: a.users.alice, beneficiary: a.users.bob.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await a.publicClient.getBlockNumber()) + TTL },
      { chain: b, payer: b.users.bob, beneficiary: a.users.alice.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await b.publicClient.getBlockNumber()) + TTL },
      keccak256(stringToHex("below")),
    );
    await registerLeg(swap.x, swap.regX);
    await network.until("B frozen on A and on C", async () => (await a.registry.read.isFrozen([b.chainId])) && (await c.registry.read.isFrozen([b.chainId])));

    // On A, by the two signed views: the registry's accepted one and the forked answer below it.
    const [proven] = await a.publicClient.getContractEvents({ address: a.registry.address, abi: registryAbi, eventName: "ForkProven", fromBlock: 0n });
    assert.deepEqual([proven?.args.a?.height, proven?.args.b?.height], [known, known - 1n]);
    assert.equal(await frozenEvents(a, b.chainId), 1);
    assert.equal(await frozenEvents(c, b.chainId), 1, "the overlay carried the evidence to C");

    // One of A's nodes reported it and took the reward: its balance grew by the reward less the transaction's fee.
    const [frozen] = await a.publicClient.getContractEvents({ address: a.registry.address, abi: registryAbi, eventName: "ChainFrozen", fromBlock: 0n });
    const { reporter, reward } = frozen!.args;
    assert.ok(nodesOfA.map((n) => n.address.toLowerCase()).includes(reporter!.toLowerCase()), "one of A's nodes reported the fork");
    assert.equal(reward, (BOND * SLASH_REWARD_BPS) / 10_000n);
    const receipt = await a.publicClient.getTransactionReceipt({ hash: frozen!.transactionHash });
    const [before, after] = await Promise.all([frozen!.blockNumber - 1n, frozen!.blockNumber].map((blockNumber) => a.publicClient.getBalance({ address: reporter!, blockNumber })));
    assert.equal(after! - before!, reward! - receipt.gasUsed * receipt.effectiveGasPrice);
    assert.ok(network.logs.some((line) => line.includes(`conflicts with the view accepted here at ${known}`)), "caught in a check() answer");
  });
});
