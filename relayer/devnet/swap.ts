import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { erc20Abi, formatUnits, parseAbi, parseEther, parseUnits, toHex, zeroAddress, zeroHash, type Address, type Hash, type Hex } from "viem";
import { gatewayAbi, registryAbi, Status, testTokenMintAbi } from "../chain/abis.js";
import type { Registration } from "../chain/registration.js";
import { connect, transact, type Connection } from "./connect.js";
import type { DevnetFile } from "./devnet.js";
import { DevnetError } from "./devnetError.js";
import { explainRevert } from "./explainRevert.js";
import { HARDHAT_ACCOUNT_0, HARDHAT_ACCOUNT_1_KEY, HARDHAT_ACCOUNT_2_KEY } from "./testAccounts.js";

/** What one side pays: `amount` base units (18 decimals) of the chain's test token or of its native coin. */
export type SwapAmount = { asset: "token" | "coin"; amount: bigint };

/**
 * One side of a swap: the chain, its Gateway, ViewRegistry and test token, the payer's key and what the payer gives there.
 * Without `registry` the Gateway's own is read.
 */
export type SwapSide = { rpcUrl: string; gateway: Address; registry?: Address; token: Address; payerKey: Hex; give: SwapAmount };

export type SwapOutcome = "released" | "refunded" | "cancelled" | "registered" | "committed" | "none";

export type SwapBalances = {
  /** The --from payer's balance of what it gives (on --from) and of what it gets (on --to); likewise for the --to payer. */
  fromPayer: { gives: bigint; gets: bigint };
  toPayer: { gives: bigint; gets: bigint };
};

/** One side of a swap once registered; `fees` is the native coin its payer spent on gas after `before` was read. */
export type SwapSideResult = { chainId: bigint; contractId: Hex; payer: Address; registration: Registration; outcome: SwapOutcome; fees: bigint };

export type SwapResult = {
  from: SwapSideResult;
  /** With `matched: false` the --to side is never registered: its outcome stays "none" and its fees 0. */
  to: SwapSideResult;
  before: SwapBalances;
  /** Absent with `wait: false`. */
  after?: SwapBalances;
};

export type RunSwapParameters = {
  from: SwapSide;
  to: SwapSide;
  /**
   * Each side expires this many blocks after its chain's current head (h1 on its chain, h2 of its mirror), and must be
   * registered within half of them (its registerBy, its mirror's mirrorBy): a side registered later is refused.
   */
  ttl: number;
  /** Poll recordOf on both chains until both contracts are final; default true. */
  wait?: boolean;
  /** Default a random 32 bytes, so that two equal swaps get different contract ids. */
  salt?: Hex;
  pollMs?: number;
  /**
   * Stop waiting once both chains are this many blocks past their side's expiry without both contracts final (the relayers
   * may be down); default 2 × ttl + 20.
   */
  graceBlocks?: number;
  log?: (line: string) => void;
  /** Called at every poll while waiting: each side's status and its chain's head against its expiry (for a progress line). */
  progress?: (sides: [SwapWaitState, SwapWaitState]) => void;
  /**
   * False: only the --from payer registers, as when the other user walks away; the relayers must then cancel the --from
   * contract once it has expired, and waiting ends when they have. Default true.
   */
  matched?: boolean;
  /**
   * A Gateway takes an expiry h2 of at most maxLifetime blocks past the newest view of the counterparty its registry accepted.
   * The relayers keep that view fresh (they post a newer one when it lags their view of the chain by more than their
   * refreshBlocks, by default maxLifetime / 4), so a ttl up to about 3/4 of maxLifetime always passes while they run. When a
   * side's registry lags too far behind for `ttl` (relayers just restarted after a quiet spell), the swap waits this long for
   * them to post a newer view, then fails before anything is registered; default 10 000 ms.
   */
  registryWaitMs?: number;
};

/** One side while `runSwap` waits: where its contract is, and its chain's head against the contract's expiry. */
export type SwapWaitState = { chainId: bigint; outcome: SwapOutcome; head: bigint; expiry: bigint };

const FINAL: readonly number[] = [Status.Released, Status.Refunded, Status.Cancelled];

/** Whether a contract with this status has ended (released, refunded or cancelled); undefined (not read) has not. */
export const isFinal = (status: number | undefined): boolean => status !== undefined && FINAL.includes(status);
const GAS_RESERVE = parseEther("1");
/** Who tops up a payer's coin: Hardhat's and Anvil's test account #0, unlocked on the node (eth_sendTransaction), which orders its nonces. */
const FAUCET = HARDHAT_ACCOUNT_0;

/**
 * An atomic swap between two chains over JSON-RPC: builds the two mirror registrations (as test/fixtures/swap.ts does, the
 * transaction hashes and contract ids from eth_call on each Gateway), mints the payers' test tokens where they lack them,
 * approves, registers both sides and, unless `wait: false`, polls both records until both are final.
 */
export async function runSwap({
  from,
  to,
  ttl,
  wait = true,
  salt = toHex(randomBytes(32)),
  pollMs = 250,
  graceBlocks = 2 * ttl + 20,
  log = () => {},
  progress = () => {},
  matched = true,
  registryWaitMs = 10_000,
}: RunSwapParameters): Promise<SwapResult> {
  if (!Number.isInteger(ttl) || ttl < 1) throw new DevnetError(`ttl must be a whole number of blocks ≥ 1, got ${ttl}`);
  const [x, y] = await Promise.all([connect({ rpcUrl: from.rpcUrl, key: from.payerKey }), connect({ rpcUrl: to.rpcUrl, key: to.payerKey })]);
  if (x.chainId === y.chainId) throw new DevnetError(`both sides are on chain ${x.chainId}: a swap needs two chains`);
  const payerX = x.wallet.account.address;
  const payerY = y.wallet.account.address;
  const assetOf = (side: SwapSide): Address => (side.give.asset === "token" ? side.token : zeroAddress);

  // The payer on x also needs a (read-only) view of what it gets on y, and vice versa.
  const balances = async (): Promise<SwapBalances> => {
    const [xg, xr, yg, yr] = await Promise.all([
      balanceOf(x, from, payerX),
      balanceOf(y, to, payerX),
      balanceOf(y, to, payerY),
      balanceOf(x, from, payerY),
    ]);
    return { fromPayer: { gives: xg, gets: xr }, toPayer: { gives: yg, gets: yr } };
  };

  await Promise.all([fund(x, from, log), fund(y, to, log)]);
  const before = await balances();
  // The approvals come before the terms: the registration window (half the ttl) starts with the heads the terms are
  // built from, and a busy chain may take many blocks to mine a transaction.
  const [approvedX, approvedY] = await Promise.all([approve(x, from, log), matched ? approve(y, to, log) : 0n]);

  // The expiries count from the heads once both registries would take them: a wait for the relayers must not eat the ttl.
  const lifetimeX = await lifetimeOf(x, from);
  const lifetimeY = matched ? await lifetimeOf(y, to) : undefined;
  const deadline = Date.now() + registryWaitMs;
  let headX: bigint, headY: bigint;
  for (let waited = false; ; waited = true) {
    [headX, headY] = await Promise.all([x.publicClient.getBlockNumber({ cacheTime: 0 }), y.publicClient.getBlockNumber({ cacheTime: 0 })]);
    const problems = (
      await Promise.all([
        lifetimeProblem({ c: x, lifetime: lifetimeX, counterparty: y.chainId, h1: headX + BigInt(ttl), h2: headY + BigInt(ttl) }),
        lifetimeY === undefined ? undefined : lifetimeProblem({ c: y, lifetime: lifetimeY, counterparty: x.chainId, h1: headY + BigInt(ttl), h2: headX + BigInt(ttl) }),
      ])
    ).filter((p) => p !== undefined);
    if (problems.length === 0) break;
    const [problem] = problems as [LifetimeProblem];
    if (problem.lagging === undefined) throw new DevnetError(problem.message);
    if (Date.now() >= deadline) {
      throw new DevnetError(
        `${problem.message}. The relayers of chain ${problem.lagging.on} post a newer view of chain ${problem.lagging.of} there when it lags by more than their refreshBlocks ` +
          `(by default maxLifetime / 4), and none did within ${registryWaitMs / 1000} s: are they running? (a devnet started with --no-relayers settles no swap); a shorter ttl gets through now`,
      );
    }
    if (!waited) log(`${problem.message}: waiting up to ${registryWaitMs / 1000} s for the relayers to post a newer view`);
    await sleep(pollMs);
  }
  const { regX, regY, idX, idY } = await mirrorRegistrations({
    x: { c: x, gateway: from.gateway, asset: assetOf(from), amount: from.give.amount, payer: payerX, head: headX },
    y: { c: y, gateway: to.gateway, asset: assetOf(to), amount: to.give.amount, payer: payerY, head: headY },
    ttl,
    salt,
  });
  const { h1: expiryX, registerBy: registerByX } = regX;
  const { h1: expiryY, registerBy: registerByY } = regY;

  // Both sides are tried (eth_call) before either is sent: a side its Gateway refuses (above the bond's cover, a frozen
  // counterparty) must not leave the other side's asset locked until it expires.
  const [gasX, gasY] = await Promise.all([tryRegister(x, from.gateway, regX), matched ? tryRegister(y, to.gateway, regY) : 0n]);
  const [feesX, feesY] = await Promise.all([register(x, from.gateway, regX, gasX).then((f) => f + approvedX), matched ? register(y, to.gateway, regY, gasY).then((f) => f + approvedY) : 0n]);
  log(`chain ${x.chainId}: registered contract ${idX} (registered by block ${registerByX}, expires at block ${expiryX})`);
  if (matched) log(`chain ${y.chainId}: registered contract ${idY} (registered by block ${registerByY}, expires at block ${expiryY})`);
  else log(`chain ${y.chainId}: contract ${idY} left unregistered on purpose`);

  const result: SwapResult = {
    from: { chainId: x.chainId, contractId: idX, payer: payerX, registration: regX, outcome: "registered", fees: feesX },
    to: { chainId: y.chainId, contractId: idY, payer: payerY, registration: regY, outcome: matched ? "registered" : "none", fees: feesY },
    before,
  };
  if (!wait) return result;

  let last: [number, number] = [Status.Registered, matched ? Status.Registered : Status.None];
  for (;;) {
    const [[sx], [sy], hx, hy] = await Promise.all([
      read(x, from.gateway, "recordOf", [idX]),
      read(y, to.gateway, "recordOf", [idY]),
      x.publicClient.getBlockNumber({ cacheTime: 0 }),
      y.publicClient.getBlockNumber({ cacheTime: 0 }),
    ]);
    progress([
      { chainId: x.chainId, outcome: outcomeOf(sx), head: hx, expiry: expiryX },
      { chainId: y.chainId, outcome: outcomeOf(sy), head: hy, expiry: expiryY },
    ]);
    if (sx !== last[0] || sy !== last[1]) {
      if (sx !== last[0]) log(`chain ${x.chainId}: contract ${idX.slice(0, 10)}… ${outcomeOf(sx)} at block ${hx}`);
      if (sy !== last[1]) log(`chain ${y.chainId}: contract ${idY.slice(0, 10)}… ${outcomeOf(sy)} at block ${hy}`);
      last = [sx, sy];
    }
    if (isFinal(sx) && (isFinal(sy) || !matched)) break;
    if (hx > expiryX + BigInt(graceBlocks) && hy > expiryY + BigInt(graceBlocks)) {
      log(`gave up waiting: both chains are ${graceBlocks} blocks past expiry (are the relayers running?)`);
      break;
    }
    await sleep(pollMs);
  }
  result.from.outcome = outcomeOf(last[0]);
  result.to.outcome = outcomeOf(last[1]);
  result.after = await balances();
  return result;
}

/** One side of a swap before its registration is bound to the other's: its chain, Gateway, what its payer gives, and its chain's head. */
export type SwapTerms = { c: Connection; gateway: Address; asset: Address; amount: bigint; payer: Address; head: bigint };

/**
 * The two mirror registrations of a swap whose payers give each other what `x` and `y` say: each side expires `ttl` blocks
 * after its chain's `head` and must be registered within half of them; each names the other's transaction hashes and
 * contract id, read from the Gateways (eth_call), so that each Gateway can check its mirror.
 */
export async function mirrorRegistrations({ x, y, ttl, salt }: { x: SwapTerms; y: SwapTerms; ttl: number; salt: Hex }): Promise<{ regX: Registration; regY: Registration; idX: Hex; idY: Hex }> {
  const expiryX = x.head + BigInt(ttl);
  const expiryY = y.head + BigInt(ttl);
  // Each side is registered within half its lifetime, or refused: the other user cannot hold a free option for long.
  const registerByX = x.head + BigInt(Math.max(1, Math.floor(ttl / 2)));
  const registerByY = y.head + BigInt(Math.max(1, Math.floor(ttl / 2)));
  const draft = (side: SwapTerms, other: SwapTerms, h1: bigint, h2: bigint, registerBy: bigint, mirrorBy: bigint): Registration => ({
    asset: side.asset,
    amount: side.amount,
    beneficiary: other.payer,
    refundTo: side.payer,
    salt,
    tx2: zeroHash,
    tx2r: zeroHash,
    counterparty: other.c.chainId,
    h1,
    h2,
    registerBy,
    mirrorBy,
  });
  const draftX = draft(x, y, expiryX, expiryY, registerByX, registerByY);
  const draftY = draft(y, x, expiryY, expiryX, registerByY, registerByX);
  const [[tx1, tx1r], [tx2, tx2r]] = await Promise.all([read(x.c, x.gateway, "txHashes", [draftX]), read(y.c, y.gateway, "txHashes", [draftY])]);
  const regX: Registration = { ...draftX, tx2, tx2r };
  const regY: Registration = { ...draftY, tx2: tx1, tx2r: tx1r };
  const [[idX, mirrorX], [idY, mirrorY]] = await Promise.all([read(x.c, x.gateway, "contractIds", [regX]), read(y.c, y.gateway, "contractIds", [regY])]);
  if (mirrorX !== idY || mirrorY !== idX) throw new DevnetError("the mirror contract ids of the two registrations disagree");
  return { regX, regY, idX, idY };
}

/** A Gateway status (Status) in words. */
export function outcomeOf(status: number): SwapOutcome {
  const names: Record<number, SwapOutcome> = {
    [Status.None]: "none",
    [Status.Registered]: "registered",
    [Status.Committed]: "committed",
    [Status.Released]: "released",
    [Status.Refunded]: "refunded",
    [Status.Cancelled]: "cancelled",
  };
  return names[status] ?? "none";
}

function read<F extends "txHashes" | "contractIds" | "recordOf">(c: Connection, gateway: Address, functionName: F, args: readonly unknown[]) {
  return c.publicClient.readContract({ address: gateway, abi: gatewayAbi, functionName, args } as never) as Promise<
    F extends "recordOf" ? readonly [number, bigint, bigint, bigint, bigint] : readonly [Hex, Hex]
  >;
}

/** A side's Gateway's maximum lifetime and its registry. */
type Lifetime = { maxLifetime: bigint; registry: Address };

async function lifetimeOf(c: Connection, side: SwapSide): Promise<Lifetime> {
  const [maxLifetime, registry] = await Promise.all([
    c.publicClient.readContract({ address: side.gateway, abi: gatewayAbi, functionName: "maxLifetime" }),
    side.registry ?? c.publicClient.readContract({ address: side.gateway, abi: registryOfAbi, functionName: "registry" }),
  ]);
  return { maxLifetime, registry };
}

/** Why the Gateway would refuse the expiries; `lagging` when its registry's view of the counterparty is too old (which the relayers mend). */
type LifetimeProblem = { message: string; lagging?: { on: bigint; of: bigint } };

/**
 * Why the Gateway of `c` would refuse expiries h1 (here) and h2 (on the counterparty), if it would: h1 ≤ head +
 * maxLifetime, and h2 ≤ the counterparty's newest accepted height + maxLifetime.
 */
async function lifetimeProblem({ c, lifetime: { maxLifetime, registry }, counterparty, h1, h2 }: { c: Connection; lifetime: Lifetime; counterparty: bigint; h1: bigint; h2: bigint }): Promise<LifetimeProblem | undefined> {
  const head = await c.publicClient.getBlockNumber({ cacheTime: 0 });
  if (h1 > head + maxLifetime + 1n) return { message: `chain ${c.chainId}'s Gateway takes registrations of at most ${maxLifetime} blocks: the ttl is too long` };
  const latest = await c.publicClient.readContract({ address: registry, abi: registryAbi, functionName: "latestHeight", args: [counterparty] });
  if (h2 <= latest + maxLifetime) return undefined;
  return {
    message: `chain ${c.chainId}'s registry knows chain ${counterparty} only up to block ${latest}: its Gateway refuses an expiry there past block ${latest + maxLifetime} (maximum lifetime ${maxLifetime} blocks), and this swap's is ${h2}`,
    lagging: { on: c.chainId, of: counterparty },
  };
}

const registryOfAbi = parseAbi(["function registry() view returns (address)"]);

/** The balance of `who` in what `side` gives on the chain of `c`. */
async function balanceOf(c: Connection, side: SwapSide, who: Address): Promise<bigint> {
  if (side.give.asset === "coin") return c.publicClient.getBalance({ address: who });
  return c.publicClient.readContract({ address: side.token, abi: erc20Abi, functionName: "balanceOf", args: [who] });
}

/**
 * Mints the payer's missing test tokens (TestToken.mint is open), and sends it native coin from the node's unlocked test
 * account #0 when it lacks it: a transfer mined in a block like any other. (Not hardhat_setBalance: it changes the newest
 * block's state without a block, so that until the next block every eth_getProof at that block disagrees with its
 * header's state root, and each check() answer proven there fails verification: one in ten at 3_1_3 of the bench.)
 */
async function fund(c: Connection, side: SwapSide, log: (line: string) => void): Promise<void> {
  const payer = c.wallet.account.address;
  const coins = await c.publicClient.getBalance({ address: payer });
  const needCoins = GAS_RESERVE + (side.give.asset === "coin" ? side.give.amount : 0n);
  if (coins < needCoins) {
    const value = needCoins + parseEther("10");
    await transact(c, `sending ${payer} coin from test account ${FAUCET}`, () =>
      c.publicClient.request({ method: "eth_sendTransaction" as never, params: [{ from: FAUCET, to: payer, value: toHex(value) }] as never }) as Promise<Hash>,
    );
    log(`chain ${c.chainId}: sent ${formatUnits(value, 18)} coin to ${payer} from test account #0`);
  }
  if (side.give.asset !== "token") return;
  const tokens = await c.publicClient.readContract({ address: side.token, abi: erc20Abi, functionName: "balanceOf", args: [payer] });
  if (tokens >= side.give.amount) return;
  await transact(c, "minting test tokens", () =>
    c.wallet.writeContract({ address: side.token, abi: testTokenMintAbi, functionName: "mint", args: [payer, side.give.amount - tokens] }),
  );
  log(`chain ${c.chainId}: minted ${formatUnits(side.give.amount - tokens, 18)} test tokens to ${payer}`);
}

/** The payer approves the Gateway for the token of its side (nothing for the native coin). Resolves with the gas fees paid. */
async function approve(c: Connection, side: SwapSide, log: (line: string) => void): Promise<bigint> {
  if (side.give.asset !== "token") return 0n;
  const approved = await transact(c, "approving the Gateway", () =>
    c.wallet.writeContract({ address: side.token, abi: erc20Abi, functionName: "approve", args: [side.gateway, side.give.amount] }),
  );
  log(`chain ${c.chainId}: approved the Gateway for ${formatUnits(side.give.amount, 18)} tokens`);
  return approved.gasUsed * approved.effectiveGasPrice;
}

/** The registration call of the payer's side (the native coin sent with it if that is what it gives). */
const registerCall = (c: Connection, gateway: Address, reg: Registration) =>
  ({ account: c.wallet.account, address: gateway, abi: gatewayAbi, functionName: "register", args: [reg], value: reg.asset === zeroAddress ? reg.amount : 0n }) as const;

/**
 * The node's gas estimate of the registration, which runs it on the chain's state; throws DevnetError, the Gateway's
 * refusal in words, when it would not take the registration now.
 */
export async function tryRegister(c: Connection, gateway: Address, reg: Registration): Promise<bigint> {
  try {
    return await c.publicClient.estimateContractGas(registerCall(c, gateway, reg));
  } catch (error) {
    const words = explainRevert(error, { chainId: c.chainId });
    throw new DevnetError(`registering the contract on chain ${c.chainId} failed: ${words ?? (error instanceof Error ? error.message : String(error))}`, { cause: error });
  }
}

/**
 * Gas a registration may need beyond the node's estimate, which is exact for the state it ran on. A slot written from
 * zero costs 17,100 more than one written over, and two slots of a registration can be zero when it is mined and not
 * when it was estimated (the estimate counted another registration still pending, which the block mines after it): the
 * Gateway's exposure word for the counterparty and, for a token, the Gateway's balance of it. An exposure epoch rolling
 * over costs about 200 more. Gas left unused is not paid for.
 */
export const REGISTER_GAS_HEADROOM = 40_000n;

/** Sends the payer's registration (approved before) with REGISTER_GAS_HEADROOM over `estimate` (tryRegister's). */
export function sendRegistration(c: Connection, gateway: Address, reg: Registration, estimate: bigint): Promise<Hash> {
  return c.wallet.writeContract({ ...registerCall(c, gateway, reg), gas: estimate + REGISTER_GAS_HEADROOM });
}

/** The payer registers its side. Resolves with the gas fees paid. */
async function register(c: Connection, gateway: Address, reg: Registration, estimate: bigint): Promise<bigint> {
  const registered = await transact(c, "registering the contract", () => sendRegistration(c, gateway, reg, estimate));
  return registered.gasUsed * registered.effectiveGasPrice;
}

/** "100token", "1.5coin" → base units (18 decimals) of the test token or the native coin. */
export function parseSwapAmount(text: string): SwapAmount {
  const match = /^([0-9]+(?:\.[0-9]+)?)(token|coin)$/.exec(text.trim());
  if (!match) throw new DevnetError(`${JSON.stringify(text)} is not <amount><token|coin>, e.g. 100token or 1.5coin`);
  const amount = parseUnits(match[1]!, 18);
  if (amount === 0n) throw new DevnetError(`${JSON.stringify(text)}: the amount must be positive`);
  return { asset: match[2] as "token" | "coin", amount };
}

export function formatSwapAmount({ asset, amount }: SwapAmount): string {
  return `${formatUnits(amount, 18)} ${asset}`;
}

/** Keys of the swap's two payers that a devnet.json may carry (`users: [{key}, …]`); Hardhat's test accounts #1 and #2 otherwise. */
export function devnetPayerKeys(file: DevnetFile): { from: Hex; to: Hex } {
  const users = (file as DevnetFile & { users?: { key: Hex }[] }).users;
  if (users !== undefined && users.length >= 2) return { from: users[0]!.key, to: users[1]!.key };
  return { from: HARDHAT_ACCOUNT_1_KEY, to: HARDHAT_ACCOUNT_2_KEY };
}

/** The two sides of a swap between chains `fromChainId` and `toChainId` of a devnet: URLs, Gateways and tokens from devnet.json. */
export function devnetSwapSides(file: DevnetFile, fromChainId: string, toChainId: string, give: SwapAmount, get: SwapAmount): { from: SwapSide; to: SwapSide } {
  const find = (id: string) => {
    const chain = file.chains.find((c) => c.chainId === id);
    if (chain === undefined) throw new DevnetError(`chain ${id} is not in the devnet (its chains: ${file.chains.map((c) => c.chainId).join(", ")})`);
    return chain;
  };
  if (fromChainId === toChainId) throw new DevnetError(`--from and --to are both ${fromChainId}: a swap needs two chains`);
  const a = find(fromChainId);
  const b = find(toChainId);
  const keys = devnetPayerKeys(file);
  return {
    from: { rpcUrl: a.url, gateway: a.gateway, registry: a.registry, token: a.token, payerKey: keys.from, give },
    to: { rpcUrl: b.url, gateway: b.gateway, registry: b.registry, token: b.token, payerKey: keys.to, give: get },
  };
}
