/**
 * The whole story on this machine: three chains, four relayer nodes per chain over WebSockets, an
 * atomic swap between every pair of chains (ERC-20 for native coin) and one left unmatched, settled
 * by the relayers alone. Run with `npm run demo`; writes demo-report.json.
 *
 * The chains run inside this process (Hardhat's EDR), each behind its own JSON-RPC endpoint on
 * loopback; the relayer nodes talk to them and to each other only over sockets.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { keccak256, parseEther, stringToHex, type Hex } from "viem";
import { deploySystem, type Chain } from "../test/fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg, type Swap } from "../test/fixtures/swap.js";
import { RelayerNetwork } from "../test/fixtures/relayerNetwork.js";

const REPORT = fileURLToPath(new URL("../demo-report.json", import.meta.url));
const TTL = 60n;
const names = ["chainA", "chainB", "chainC"];
const started = Date.now();
const say = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);

async function status(chain: Chain, id: Hex): Promise<number> {
  return (await chain.gateway.read.recordOf([id]))[0];
}

say(`step 1/4: starting ${names.length} chains and deploying ViewRegistry, Gateway and a token on each`);
const chains = await deploySystem({ networks: names, q: 4 });
say(`step 2/4: every chain registered on every other with a bond; starting 4 relayer nodes per chain`);
const network = new RelayerNetwork(chains);
const shutdown = async () => {
  await network.stop();
};
process.once("SIGINT", () => void shutdown().then(() => process.exit(130)));
await network.start();

say("step 3/4: users register swaps (100 tokens for 1 coin) between every pair of chains, and one nobody matches");
const swaps: Swap[] = [];
for (const [i, x] of chains.entries()) {
  for (const y of chains.slice(i + 1)) {
    const alice = x.users.alice;
    await x.token.write.mint([alice.account.address, 1000n]);
    const swap = await prepareSwap(
      { chain: x, payer: alice, beneficiary: x.users.bob.account.address, asset: x.token.address, amount: 100n, expiry: (await x.publicClient.getBlockNumber()) + TTL },
      { chain: y, payer: y.users.bob, beneficiary: alice.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await y.publicClient.getBlockNumber()) + TTL },
      keccak256(stringToHex(`demo-${x.chainId}-${y.chainId}`)),
    );
    await registerLeg(swap.x, swap.regX);
    await registerLeg(swap.y, swap.regY);
    say(`  swap ${x.chainId} ↔ ${y.chainId} registered on both chains (contract ${swap.idX.slice(0, 10)}… / ${swap.idY.slice(0, 10)}…)`);
    swaps.push(swap);
  }
}
const [a, b] = chains as [Chain, Chain];
await a.token.write.mint([a.users.carol.account.address, 1000n]);
const unmatched = await prepareSwap(
  { chain: a, payer: a.users.carol, beneficiary: a.users.bob.account.address, asset: a.token.address, amount: 50n, expiry: (await a.publicClient.getBlockNumber()) + TTL },
  { chain: b, payer: b.users.bob, beneficiary: a.users.carol.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await b.publicClient.getBlockNumber()) + TTL },
  keccak256(stringToHex("demo-unmatched")),
);
await registerLeg(unmatched.x, unmatched.regX);
say(`  unmatched contract ${unmatched.idX.slice(0, 10)}… registered on ${a.chainId} only: it must come back at expiry (block ${unmatched.regX.h1})`);

say("step 4/4: waiting for the relayers to pre-commit, terminate and cancel");
const settled = new Set<Hex>();
let refunded = false;
const deadline = Date.now() + 5 * 60_000;
while (Date.now() < deadline && (settled.size < swaps.length || !refunded)) {
  for (const s of swaps) {
    if (settled.has(s.idX)) continue;
    if ((await status(s.x.chain, s.idX)) === 3 && (await status(s.y.chain, s.idY)) === 3) {
      settled.add(s.idX);
      say(`  swap ${s.x.chain.chainId} ↔ ${s.y.chain.chainId} settled: both users paid (blocks ${await s.x.chain.publicClient.getBlockNumber()} / ${await s.y.chain.publicClient.getBlockNumber()})`);
    }
  }
  if (!refunded && (await status(a, unmatched.idX)) === 5) {
    refunded = true;
    say(`  unmatched contract cancelled on ${a.chainId}: carol has her 50 tokens back`);
  }
  await new Promise((r) => setTimeout(r, 500));
}

const sent = network.messagesSent();
const sides = swaps.length * 2;
const report = {
  chains: chains.map((c) => Number(c.chainId)),
  validatorsPerChain: 4,
  swaps: { settled: settled.size, refunded: refunded ? 1 : 0, failed: swaps.length - settled.size },
  messagesPerTask: {
    requests: (sent.request?.count ?? 0) / sides,
    answers: ((sent.answer?.count ?? 0) + (sent["answer-error"]?.count ?? 0)) / sides,
    cosignatures: (sent.cosign?.count ?? 0) / sides,
  },
  messages: sent,
  balancesConserved: (await a.token.read.balanceOf([a.gateway.address])) === 0n,
  durationSeconds: Math.round((Date.now() - started) / 1000),
};
await shutdown();
await writeFile(REPORT, `${JSON.stringify(report, null, 2)}\n`);
say(`done: ${report.swaps.settled} swaps settled, ${report.swaps.refunded} refunded, ${report.swaps.failed} failed; ${report.messagesPerTask.requests.toFixed(1)} requests per task side`);
say(`report written to ${REPORT}`);
process.exit(report.swaps.failed === 0 && refunded ? 0 : 1);
