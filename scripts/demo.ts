/**
 * The whole story on this machine: three chains, four relayer nodes per chain over WebSockets, an
 * atomic swap between every pair of chains (ERC-20 for native coin) and one left unmatched, settled by
 * the relayers alone; then chain B's committee signs two branches and shows the second to C only, and
 * the gossip overlay gets B frozen and slashed everywhere and the harmed user compensated.
 * Run with `npm run demo`; writes demo-report.json.
 *
 * The chains run inside this process (Hardhat's EDR), each behind its own JSON-RPC endpoint on
 * loopback; the relayer nodes talk to them and to each other only over sockets.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { keccak256, parseEther, stringToHex, type Hex } from "viem";
import { ForkAttack } from "../relayer/attack/forkAttack.js";
import { deploySystem, K, type Chain } from "../test/fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg, type Swap } from "../test/fixtures/swap.js";
import { RelayerNetwork } from "../test/fixtures/relayerNetwork.js";

const REPORT = fileURLToPath(new URL("../demo-report.json", import.meta.url));
const TTL = 60n;
const Status = { Released: 3, Refunded: 4, Cancelled: 5 } as const;
const started = Date.now();
const say = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);

async function status(chain: Chain, id: Hex): Promise<number> {
  return (await chain.gateway.read.recordOf([id]))[0];
}

/** x's payer sends `amountX` of its asset to y's payer and gets `amountY` back on y. */
async function swapOf(x: Chain, y: Chain, salt: string, tokenOnX = true): Promise<Swap> {
  const payerX = x.users.alice;
  const payerY = y.users.bob;
  if (tokenOnX) await x.token.write.mint([payerX.account.address, 1000n]);
  else await y.token.write.mint([payerY.account.address, 1000n]);
  return prepareSwap(
    { chain: x, payer: payerX, beneficiary: payerY.account.address, asset: tokenOnX ? x.token.address : NATIVE, amount: tokenOnX ? 100n : parseEther("1"), expiry: (await x.publicClient.getBlockNumber()) + TTL },
    { chain: y, payer: payerY, beneficiary: payerX.account.address, asset: tokenOnX ? NATIVE : y.token.address, amount: tokenOnX ? parseEther("1") : 100n, expiry: (await y.publicClient.getBlockNumber()) + TTL },
    keccak256(stringToHex(salt)),
  );
}

const released = async (s: Swap) => (await status(s.x.chain, s.idX)) === Status.Released && (await status(s.y.chain, s.idY)) === Status.Released;

say("step 1/5: starting 3 chains and deploying ViewRegistry, Gateway and a token on each; every chain registers the others with a bond");
const chains = await deploySystem({ networks: ["chainA", "chainB", "chainC"], q: 4 });
const [a, b, c] = chains as [Chain, Chain, Chain];
say("step 2/5: starting 4 relayer nodes per chain, connected over WebSockets");
const network = new RelayerNetwork(chains);
process.once("SIGINT", () => void network.stop().then(() => process.exit(130)));
await network.start();

try {
  say("step 3/5: users register swaps (100 tokens for 1 coin) between every pair of chains, and one nobody matches");
  const swaps: Swap[] = [];
  for (const [x, y] of [[a, b], [a, c], [b, c]] as const) {
    const swap = await swapOf(x, y, `demo-${x.chainId}-${y.chainId}`);
    await registerLeg(swap.x, swap.regX);
    await registerLeg(swap.y, swap.regY);
    say(`  swap ${x.chainId} ↔ ${y.chainId} registered on both chains (contracts ${swap.idX.slice(0, 10)}… / ${swap.idY.slice(0, 10)}…)`);
    swaps.push(swap);
  }
  await a.token.write.mint([a.users.carol.account.address, 1000n]);
  const unmatched = await prepareSwap(
    { chain: a, payer: a.users.carol, beneficiary: a.users.bob.account.address, asset: a.token.address, amount: 50n, expiry: (await a.publicClient.getBlockNumber()) + TTL },
    { chain: b, payer: b.users.bob, beneficiary: a.users.carol.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await b.publicClient.getBlockNumber()) + TTL },
    keccak256(stringToHex("demo-unmatched")),
  );
  await registerLeg(unmatched.x, unmatched.regX);
  say(`  contract ${unmatched.idX.slice(0, 10)}… registered on ${a.chainId} only: it must come back after block ${unmatched.regX.h1}`);

  say("step 4/5: the relayers pre-commit, terminate and cancel");
  const settled = new Set<Hex>();
  let refunded = false;
  await network.until("the swaps to settle", async () => {
    for (const s of swaps) {
      if (!settled.has(s.idX) && (await released(s))) {
        settled.add(s.idX);
        say(`  swap ${s.x.chain.chainId} ↔ ${s.y.chain.chainId} settled: both users paid`);
      }
    }
    if (!refunded && (await status(a, unmatched.idX)) === Status.Cancelled) {
      refunded = true;
      say(`  unmatched contract cancelled on ${a.chainId}: carol has her 50 tokens back`);
    }
    return settled.size === swaps.length && refunded;
  });
  const sent = network.messagesSent();

  say(`step 5/5: chain ${b.chainId}'s committee turns: it signs two branches`);
  const attack = await ForkAttack.begin({ client: b.publicClient, chainId: b.chainId, gateway: b.gateway.address, k: K, colluders: b.committee });
  const b1 = await swapOf(a, b, "demo-b1", false); // Alice pays 1 coin on A for 100 tokens on B
  await registerLeg(b1.x, b1.regX);
  await registerLeg(b1.y, b1.regY);
  say(`  branch b1 (from block ${attack.forkHeight}): a swap with ${a.chainId}, settled by the relayers…`);
  await network.until("the b1 swap to settle", () => released(b1));
  const b1Top = await a.registry.read.latestHeight([b.chainId]);
  await network.stopChain(b.chainId);
  await attack.switchToSecondBranch();
  say(`  ${b.chainId}'s nodes fall silent; the chain is rewound to block ${attack.forkHeight} and goes on along b2, where that swap never happened`);
  await network.until("b2 to outgrow b1", async () => (await b.publicClient.getBlockNumber({ cacheTime: 0 })) > b1Top + 4n);
  const shownAt = await c.publicClient.getBlockNumber();
  const views = await attack.signedViews({ after: await c.registry.read.latestHeight([b.chainId]), to: await b.publicClient.getBlockNumber({ cacheTime: 0 }) });
  for (const { view, signatures } of views) await c.registry.write.submitView([view, signatures]);
  say(`  b2 shown to ${c.chainId} only: ${views.length} signed views posted to its registry (block ${shownAt})`);
  await network.until("the overlay to catch the fork", async () => (await a.registry.read.isFrozen([b.chainId])) && (await c.registry.read.isFrozen([b.chainId])));
  const detectedAfterBlocks = Number((await c.registry.read.frozenAt([b.chainId])) - shownAt);
  say(`  fork evidence gossiped: ${b.chainId} frozen and slashed on ${a.chainId} and ${c.chainId} (${detectedAfterBlocks} blocks after b2 was shown)`);
  const alice = a.users.alice.account.address;
  const before = await a.publicClient.getBalance({ address: alice });
  await a.gateway.write.claimCompensation([b1.idX], { account: a.users.carol.account });
  const compensated = (await a.publicClient.getBalance({ address: alice })) - before;
  say(`  alice paid 1 coin on ${a.chainId} for tokens b2 erased: compensated ${Number(compensated) / 1e18} coin from ${b.chainId}'s slashed bond`);

  const frozenOn: Chain[] = [];
  let slashed = 0n;
  for (const ch of [a, c]) {
    if (!(await ch.registry.read.isFrozen([b.chainId]))) continue;
    frozenOn.push(ch);
    const [log] = await ch.publicClient.getContractEvents({ address: ch.registry.address, abi: ch.registry.abi, eventName: "ChainFrozen", fromBlock: 0n });
    slashed += (log?.args as { slashed?: bigint } | undefined)?.slashed ?? 0n;
  }
  const escrowEmpty = async (ch: Chain) =>
    (await ch.token.read.balanceOf([ch.gateway.address])) === 0n && (await ch.publicClient.getBalance({ address: ch.gateway.address })) === 0n;
  const sides = swaps.length * 2;
  const report = {
    chains: chains.map((ch) => Number(ch.chainId)),
    validatorsPerChain: 4,
    swaps: { settled: settled.size, refunded: refunded ? 1 : 0, failed: swaps.length - settled.size },
    messagesPerTask: {
      requests: (sent.request?.count ?? 0) / sides,
      answers: ((sent.answer?.count ?? 0) + (sent["answer-error"]?.count ?? 0)) / sides,
      gossip: ((sent["view-update"]?.count ?? 0) + (sent["view-pull"]?.count ?? 0) + (sent.evidence?.count ?? 0)) / sides,
    },
    messages: sent,
    fork: {
      chain: Number(b.chainId),
      detectedAfterBlocks,
      frozenOn: frozenOn.map((ch) => Number(ch.chainId)),
      slashed: slashed.toString(),
      compensated: compensated.toString(),
    },
    // Every contract on the honest chains ended: their Gateways hold nothing back.
    balancesConserved: (await escrowEmpty(a)) && (await escrowEmpty(c)),
    durationSeconds: Math.round((Date.now() - started) / 1000),
  };
  await writeFile(REPORT, `${JSON.stringify(report, null, 2)}\n`);
  say(`done: ${report.swaps.settled} swaps settled, ${report.swaps.refunded} refunded, ${report.swaps.failed} failed; fork caught after ${detectedAfterBlocks} blocks`);
  say(`report written to ${REPORT}`);
} finally {
  await network.stop();
}
process.exit(0);
