import { setTimeout as sleep } from "node:timers/promises";
import { createPublicClient, erc20Abi, http, keccak256, parseEther, parseEventLogs, stringToHex, toHex, zeroAddress, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ForkAttack } from "../attack/forkAttack.js";
import { gatewayAbi, registryAbi } from "../chain/abis.js";
import { checkRegistries } from "../evidence/checkRegistries.js";
import { describeFork } from "../evidence/forkFinder.js";
import { connect, transact, type Connection } from "./connect.js";
import type { GatewaySettings } from "./deployChain.js";
import { Devnet, type DevnetChain, type DevnetFile } from "./devnet.js";
import { DevnetError } from "./devnetError.js";
import { messagesSent } from "./relayerProcess.js";
import { gasByStep, type GasByStep } from "./gasByStep.js";
import { runSwap, type SwapResult, type SwapSide, type SwapWaitState } from "./swap.js";

export type StoryParameters = {
  /** Number of chains, at least 3: the misbehaving chain shows its second branch to one honest chain, and the overlay must carry it to another. */
  chains: number;
  validatorsPerChain: number;
  blockMs: number;
  k: number;
  /** Where the devnet lives (devnet.json, logs). */
  dir: string;
  basePort: number;
  /** Blocks from registration to expiry of every contract; at most the Gateways' maxLifetime. */
  ttl: number;
  /**
   * The Gateways' settings. The story waits out the claim period after the freeze (it mines those blocks at once), so short
   * ones keep it short: DEMO_GATEWAY_SETTINGS.
   */
  gateway?: GatewaySettings;
  /**
   * Indices of the chains whose committees sign with BLS12-381 aggregates; default the last chain, so that swaps cross both
   * schemes. Never chain 1: its committee forks with the attack tool, which signs with ECDSA keys.
   */
  blsChains?: readonly number[];
  /** The devnet to run the story on; its `stop()` is the caller's to call on Ctrl-C. */
  devnet: Devnet;
  log: (line: string) => void;
  /** Called at every poll of a swap the story waits for, with its name ("swap 31001 ↔ 31002", "unmatched …", "b1 swap …"): a progress line's data. */
  progress?: (swap: string, sides: [SwapWaitState, SwapWaitState]) => void;
};

export type StoryReport = {
  chains: number[];
  /** How each chain's committee signs its views, by chain id. */
  schemes: Record<string, "ECDSA" | "BLS">;
  validatorsPerChain: number;
  swaps: { settled: number; refunded: number; failed: number };
  /** Messages the relayers sent while the swaps ran, per contract transaction (each side of a swap, and the unmatched contract). */
  messagesPerTask: { requests: number; answers: number; gossip: number };
  /** Every message kind the relayers sent during the swaps: count and bytes. */
  messages: Record<string, { count: number; bytes: number }>;
  /** Mean gas of each contract call made during the story, read back from the chains' receipts. */
  gas: GasByStep;
  fork: {
    chain: number;
    detectedAfterBlocks: number;
    frozenOn: number[];
    /** Wei, summed over the honest chains' ChainFrozen events: the bonds slashed, and their split (reward + pool + burned = slashed). */
    slashed: string;
    reward: string;
    pool: string;
    burned: string;
    /** Blocks of the first chain from the release of the robbed user's contract to the freeze there (≤ the compensation window). */
    releasedBeforeFreeze: number;
    /** The claim filed for the robbed user (CompensationFiled's value) and what withdrawCompensation paid after the claim period. */
    compensationFiled: string;
    compensationPaid: string;
    /** What the robbed user's balance gained from it. */
    compensated: string;
  };
  /** Every swap user's balances moved by exactly what their contracts' outcomes say (less their gas), and no honest Gateway holds anything back. */
  balancesConserved: boolean;
  /** Per-user balance mismatches, when balancesConserved is false. */
  balanceErrors: string[];
  durationSeconds: number;
};

const POLL_MS = 250;

/**
 * Short Gateway settings for the story (at 500 ms blocks): registrations of at most 120 blocks, a compensation window of 80 (the
 * fork is caught well within it), and a claim period of 210 blocks (longer than both), which the story mines through at the end.
 */
export const DEMO_GATEWAY_SETTINGS: GatewaySettings = { compensationWindow: 80n, maxLifetime: 120n, claimPeriod: 210n };

/**
 * The whole story of the README's first command, on a devnet of real processes: start the chains, deploy and register, start
 * q relayer processes per chain; a swap between every pair of chains (ERC-20 against native coin, alternating) and one
 * contract nobody matches; then the second chain's committee signs two branches, the relayers of the honest chains gossip
 * the evidence, and the chain is frozen and slashed everywhere; the user it harmed files a claim on the slashed bond and is
 * paid once the claim period is over.
 */
export async function runStory(p: StoryParameters): Promise<StoryReport> {
  if (p.chains < 3) throw new DevnetError(`the story needs at least 3 chains (the fork is shown to one and must reach another), got ${p.chains}`);
  const started = Date.now();
  const { log } = p;
  log(`step 1/5: ${p.chains} chains as hardhat node processes; ViewRegistry, Gateway and a token deployed on each; every chain registers the others with a bond`);
  log(`step 2/5: ${p.validatorsPerChain} relayer processes per chain, connected over WebSockets`);
  const settings = p.gateway ?? DEMO_GATEWAY_SETTINGS;
  if (BigInt(p.ttl) > settings.maxLifetime) throw new DevnetError(`the ttl (${p.ttl} blocks) is longer than the Gateways' maximum lifetime (${settings.maxLifetime})`);
  const blsChains = p.blsChains ?? [p.chains - 1];
  if (blsChains.includes(1)) throw new DevnetError("chain 1 forks with the attack tool, which signs with ECDSA keys: it cannot sign with BLS in the story");
  const file = await p.devnet.up({ chains: p.chains, validatorsPerChain: p.validatorsPerChain, basePort: p.basePort, k: p.k, blockMs: p.blockMs, dir: p.dir, gateway: settings, blsChains });
  const chains = file.chains;
  log(`  committees: ${chains.map((ch) => `chain ${ch.chainId} ${ch.scheme ?? "ECDSA"}`).join(", ")}`);

  log("step 3/5: users register swaps between every pair of chains, and one contract nobody matches");
  const pairs: [DevnetChain, DevnetChain][] = [];
  for (let i = 0; i < chains.length; i++) for (let j = i + 1; j < chains.length; j++) pairs.push([chains[i]!, chains[j]!]);
  const runs = pairs.map(([x, y], n) =>
    runSwap({
      ...sides(x, y, `swap/${n}`, n % 2 === 0 ? "token" : "coin"),
      ttl: p.ttl,
      pollMs: POLL_MS,
      log: (line) => log(`  [swap ${x.chainId} ↔ ${y.chainId}] ${line}`),
      progress: (s) => p.progress?.(`swap ${x.chainId} ↔ ${y.chainId}`, s),
    }),
  );
  const [a, b, c] = chains as [DevnetChain, DevnetChain, DevnetChain];
  const unmatchedRun = runSwap({
    ...sides(a, b, "unmatched", "token"),
    ttl: p.ttl,
    pollMs: POLL_MS,
    matched: false,
    log: (line) => log(`  [unmatched ${a.chainId} → ${b.chainId}] ${line}`),
    progress: (s) => p.progress?.(`unmatched ${a.chainId} → ${b.chainId}`, s),
  });
  log(`step 4/5: the relayers pre-commit and terminate each swap, and cancel the unmatched contract once it expires (ttl ${p.ttl} blocks)`);
  const results = await Promise.all(runs);
  const unmatched = await unmatchedRun;
  const settled = results.filter((r) => r.from.outcome === "released" && r.to.outcome === "released").length;
  const refunded = unmatched.from.outcome === "cancelled" ? 1 : 0;
  log(`  ${settled} of ${results.length} swaps settled on both chains; the unmatched contract ${refunded ? "was cancelled and its payer refunded" : `ended ${unmatched.from.outcome}`}`);
  const messages = await messagesSent(file.relayers);

  log(`step 5/5: chain ${b.chainId}'s committee turns: it signs two branches`);
  const fork = await forkStory(p, file, settings, a, b, c);

  const balanceErrors = [...results, unmatched].flatMap(balanceMismatches);
  for (const chain of chains) {
    if (chain === b) continue;
    const held = await escrowHeld(chain);
    if (held !== undefined) balanceErrors.push(held);
  }
  const tasks = results.length * 2 + 1;
  const sum = (...kinds: string[]) => kinds.reduce((total, kind) => total + (messages[kind]?.count ?? 0), 0);
  log("reading the gas of every contract call back from the chains");
  const report: StoryReport = {
    chains: chains.map((ch) => Number(ch.chainId)),
    schemes: Object.fromEntries(chains.map((ch) => [ch.chainId, ch.scheme ?? "ECDSA"])),
    validatorsPerChain: p.validatorsPerChain,
    swaps: { settled, refunded, failed: results.length - settled + (1 - refunded) },
    messagesPerTask: {
      requests: round(sum("request") / tasks),
      answers: round(sum("answer", "answer-error") / tasks),
      gossip: round(sum("view-update", "view-pull", "evidence") / tasks),
    },
    messages,
    gas: await gasByStep(chains),
    fork,
    balancesConserved: balanceErrors.length === 0,
    balanceErrors,
    durationSeconds: Math.round((Date.now() - started) / 1000),
  };
  return report;
}

/**
 * Section VI.B on the devnet: b1 carries a swap with `a`, b2 erases it and is shown to `c` only; the overlay must freeze `b`
 * on both, and the user b2 robbed on `a` files a claim on b's slashed bond there and is paid once the claim period is over.
 */
async function forkStory(
  p: StoryParameters,
  file: DevnetFile,
  settings: GatewaySettings,
  a: DevnetChain,
  b: DevnetChain,
  c: DevnetChain,
): Promise<StoryReport["fork"]> {
  const { log } = p;
  const victim = await connect({ rpcUrl: c.url, key: file.owner.key });
  const onB = await connect({ rpcUrl: b.url, key: file.owner.key });
  const onA = await connect({ rpcUrl: a.url, key: file.owner.key });
  const attack = await ForkAttack.begin({
    client: onB.publicClient,
    chainId: BigInt(b.chainId),
    gateway: b.gateway,
    k: file.k,
    colluders: b.committee.map((m) => privateKeyToAccount(m.key)),
  });
  log(`  snapshot of chain ${b.chainId} at block ${attack.forkHeight}: branch b1 starts`);
  // The payer on a gives coin for b's tokens: b2 will erase the tokens, so the payer is the user the fork harms.
  const b1 = await runSwap({ ...sides(a, b, "fork/b1", "coin"), ttl: p.ttl, pollMs: POLL_MS, log: (line) => log(`  [b1 swap ${a.chainId} ↔ ${b.chainId}] ${line}`), progress: (s) => p.progress?.(`b1 swap ${a.chainId} ↔ ${b.chainId}`, s) });
  if (b1.from.outcome !== "released" || b1.to.outcome !== "released") throw new DevnetError(`the swap on branch b1 did not settle (${b1.from.outcome} / ${b1.to.outcome})`);
  const [, , , releasedAt] = await onA.publicClient.readContract({ address: a.gateway, abi: gatewayAbi, functionName: "recordOf", args: [b1.from.contractId] });
  const b1Top = await readRegistry(onA, a.registry, "latestHeight", b.chainId);
  const silenced = await p.devnet.stopRelayersOf(b.chainId);
  await attack.switchToSecondBranch();
  log(`  chain ${b.chainId}'s ${silenced} relayers fall silent; the chain is rewound to block ${attack.forkHeight} and goes on along b2, where that swap never happened; its committee mines b2 past b1's last view (block ${b1Top}) at once`);
  await attack.mineTo(b1Top + 5n);

  // b2's views from just past the fork, bridged from the newest view of B that C accepted: next to b1's views, where the
  // overlay compares them.
  const shownAt = await victim.publicClient.getBlockNumber({ cacheTime: 0 });
  const known = await readRegistry(victim, c.registry, "latestHeight", b.chainId);
  const views = await attack.signedViews({ after: known, from: attack.forkHeight + 1n, to: await onB.publicClient.getBlockNumber({ cacheTime: 0 }) });
  let posted = 0;
  let frozenByPost = false;
  for (const { view, signatures, bridge } of views) {
    try {
      const receipt = await transact(victim, "posting b2's view", () =>
        victim.wallet.writeContract({ address: c.registry, abi: registryAbi, functionName: "submitView", args: [view, signatures, bridge] }),
      );
      posted++;
      // C had accepted b1 past the fork: b2's view conflicts with it and is evidence by itself.
      frozenByPost = parseEventLogs({ abi: registryAbi, eventName: "ChainFrozen", logs: receipt.logs }).length > 0;
      if (frozenByPost) break;
    } catch (error) {
      // The overlay can be faster than the attacker: once C has frozen B, the rest of b2 is refused, as it should be.
      if (error instanceof DevnetError && error.message.includes("ViewRegistryChainFrozen")) break;
      throw error;
    }
  }
  const refused = frozenByPost
    ? ` (the last one conflicts with b1's view C had accepted: C froze B on it)`
    : posted < views.length
      ? ` (the other ${views.length - posted} refused: B was already frozen there)`
      : "";
  log(`  b2 shown to chain ${c.chainId} only: ${posted} of ${views.length} signed views posted to its registry from block ${shownAt}${refused}`);

  const honest = file.chains.filter((ch) => ch !== b);
  const connections = new Map<DevnetChain, Connection>([[a, onA], [c, victim]]);
  const connectionOf = async (ch: DevnetChain) => connections.get(ch) ?? connections.set(ch, await connect({ rpcUrl: ch.url, key: file.owner.key })).get(ch)!;
  const frozenOn: number[] = [];
  // Generous: the fork tests see a freeze within about a dozen blocks.
  const deadline = Date.now() + 200 * p.blockMs;
  while (frozenOn.length < honest.length && Date.now() < deadline) {
    for (const ch of honest) {
      if (frozenOn.includes(Number(ch.chainId))) continue;
      if (await readRegistry(await connectionOf(ch), ch.registry, "isFrozen", b.chainId)) {
        frozenOn.push(Number(ch.chainId));
        log(`  chain ${ch.chainId} froze chain ${b.chainId} on the gossiped fork evidence`);
      }
    }
    await sleep(POLL_MS);
  }
  // What anyone can see with no validator key (`fibc evidence check`, `fibc watch`): the registries' events alone hold the fork.
  const seen = (await checkRegistries(file.chains.map((ch) => ({ url: ch.url, registry: ch.registry })))).forks.find((f) => f.chainId === BigInt(b.chainId));
  if (seen !== undefined) log(`  \`fibc evidence check --dir ${p.dir}\` finds it in the registries' events: ${describeFork(seen)}`);
  const detectedAfterBlocks = frozenOn.includes(Number(c.chainId)) ? Number((await readRegistry(victim, c.registry, "frozenAt", b.chainId)) - shownAt) : -1;

  const split = { slashed: 0n, reward: 0n, pool: 0n, burned: 0n };
  for (const ch of honest) {
    const connection = await connectionOf(ch);
    const logs = await connection.publicClient.getContractEvents({ address: ch.registry, abi: registryAbi, eventName: "ChainFrozen", args: { chainId: BigInt(b.chainId) }, fromBlock: 0n });
    for (const { args } of logs) {
      split.slashed += args.slashed ?? 0n;
      split.reward += args.reward ?? 0n;
      split.pool += args.pool ?? 0n;
      split.burned += args.burned ?? 0n;
    }
  }
  log(`  slashed ${fmt(split.slashed)} coin of chain ${b.chainId}'s bonds: ${fmt(split.reward)} to the reporters, ${fmt(split.pool)} kept for the harmed users, ${fmt(split.burned)} burned`);

  const compensation = { releasedBeforeFreeze: -1, filed: 0n, paid: 0n, compensated: 0n };
  if (frozenOn.includes(Number(a.chainId))) {
    const frozenAt = await readRegistry(onA, a.registry, "frozenAt", b.chainId);
    compensation.releasedBeforeFreeze = Number(frozenAt - releasedAt);
    // Anyone may file and collect the claim; the Gateway pays the claimant: the refundTo of a released contract, the payer b2 robbed.
    const filed = await transact(onA, "claiming compensation", () =>
      onA.wallet.writeContract({ address: a.gateway, abi: gatewayAbi, functionName: "claimCompensation", args: [b1.from.registration] }),
    );
    compensation.filed = parseEventLogs({ abi: gatewayAbi, eventName: "CompensationFiled", logs: filed.logs })[0]?.args.value ?? 0n;
    log(`  chain ${a.chainId}: a claim of ${fmt(compensation.filed)} coin filed for the payer of b1's swap, released ${compensation.releasedBeforeFreeze} blocks before the freeze (window ${settings.compensationWindow})`);
    const endsAt = frozenAt + settings.claimPeriod;
    const head = await onA.publicClient.getBlockNumber({ cacheTime: 0 });
    if (head <= endsAt) {
      await onA.publicClient.request({ method: "hardhat_mine" as never, params: [toHex(endsAt - head)] as never });
      log(`  chain ${a.chainId} mines the ${endsAt - head} blocks left of the claim period (${settings.claimPeriod} blocks from the freeze) at once`);
    }
    const before = await onA.publicClient.getBalance({ address: b1.from.payer });
    const paid = await transact(onA, "withdrawing compensation", () =>
      onA.wallet.writeContract({ address: a.gateway, abi: gatewayAbi, functionName: "withdrawCompensation", args: [b1.from.registration] }),
    );
    compensation.paid = parseEventLogs({ abi: gatewayAbi, eventName: "CompensationPaid", logs: paid.logs })[0]?.args.paid ?? 0n;
    compensation.compensated = (await onA.publicClient.getBalance({ address: b1.from.payer })) - before;
    log(`  the claim period over, the payer of b1's swap on chain ${a.chainId} was paid ${fmt(compensation.compensated)} coin from chain ${b.chainId}'s slashed bond`);
  }
  return {
    chain: Number(b.chainId),
    detectedAfterBlocks,
    frozenOn,
    slashed: split.slashed.toString(),
    reward: split.reward.toString(),
    pool: split.pool.toString(),
    burned: split.burned.toString(),
    releasedBeforeFreeze: compensation.releasedBeforeFreeze,
    compensationFiled: compensation.filed.toString(),
    compensationPaid: compensation.paid.toString(),
    compensated: compensation.compensated.toString(),
  };
}

/** A swap between x and y with payers of its own (keys derived from `label`), so that every user's balance tells one swap's story. */
function sides(x: DevnetChain, y: DevnetChain, label: string, xGives: "token" | "coin"): { from: SwapSide; to: SwapSide } {
  const token = { asset: "token" as const, amount: parseEther("100") };
  const coin = { asset: "coin" as const, amount: parseEther("1") };
  const key = (side: string): Hex => keccak256(stringToHex(`story/${label}/${side}`));
  return {
    from: { rpcUrl: x.url, gateway: x.gateway, registry: x.registry, token: x.token, payerKey: key("from"), give: xGives === "token" ? token : coin },
    to: { rpcUrl: y.url, gateway: y.gateway, registry: y.registry, token: y.token, payerKey: key("to"), give: xGives === "token" ? coin : token },
  };
}

/** What the payers' four balances should have become, by the two contracts' outcomes; one line per balance that differs. */
function balanceMismatches(r: SwapResult): string[] {
  if (r.after === undefined) return [`swap ${r.from.contractId}: never finished, no final balances`];
  const paidOut = (outcome: string, amount: bigint) => (outcome === "released" ? amount : 0n);
  const gx = r.from.registration;
  const gy = r.to.registration;
  const coinFees = (reg: typeof gx, fees: bigint) => (reg.asset === zeroAddress ? fees : 0n);
  const expected = {
    fromGives: r.before.fromPayer.gives - paidOut(r.from.outcome, gx.amount) - coinFees(gx, r.from.fees),
    fromGets: r.before.fromPayer.gets + paidOut(r.to.outcome, gy.amount),
    toGives: r.before.toPayer.gives - paidOut(r.to.outcome, gy.amount) - coinFees(gy, r.to.fees),
    toGets: r.before.toPayer.gets + paidOut(r.from.outcome, gx.amount),
  };
  const actual = { fromGives: r.after.fromPayer.gives, fromGets: r.after.fromPayer.gets, toGives: r.after.toPayer.gives, toGets: r.after.toPayer.gets };
  return (Object.keys(expected) as (keyof typeof expected)[])
    .filter((key) => expected[key] !== actual[key])
    .map((key) => `swap ${r.from.chainId}→${r.to.chainId} ${r.from.contractId.slice(0, 10)}…: ${key} is ${actual[key]}, expected ${expected[key]}`);
}

/** Undefined when the chain's Gateway holds neither tokens nor coin, i.e. every contract on it has ended. */
async function escrowHeld(chain: DevnetChain): Promise<string | undefined> {
  const publicClient = createPublicClient({ transport: http(chain.url) });
  const [coin, token] = await Promise.all([
    publicClient.getBalance({ address: chain.gateway }),
    publicClient.readContract({ address: chain.token, abi: erc20Abi, functionName: "balanceOf", args: [chain.gateway] }),
  ]);
  return coin === 0n && token === 0n ? undefined : `chain ${chain.chainId}: its Gateway still holds ${coin} wei and ${token} token units`;
}

function readRegistry<F extends "latestHeight" | "isFrozen" | "frozenAt">(c: Connection, registry: Address, functionName: F, chainId: string) {
  return c.publicClient.readContract({ address: registry, abi: registryAbi, functionName, args: [BigInt(chainId)] } as never) as Promise<F extends "isFrozen" ? boolean : bigint>;
}

const round = (x: number) => Math.round(x * 10) / 10;
const fmt = (wei: bigint) => (Number(wei) / 1e18).toLocaleString("en-US", { maximumFractionDigits: 6 });
