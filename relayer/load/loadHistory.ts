import { erc20Abi, type Address, type Hex } from "viem";
import { gatewayAbi, Status } from "../chain/abis.js";
import { isFinal, outcomeOf } from "../devnet/swap.js";
import type { LoadChain, LoadUser } from "./loadUsers.js";
import type { LoadSide, LoadSwap } from "./swapTraffic.js";

/** "31001:token", "31002:coin": one asset of one chain. */
export type AssetKey = `${string}:${"token" | "coin"}`;

/** What the load users and the Gateway hold of each asset at one moment. */
export type Holdings = Map<AssetKey, { users: Map<Address, bigint>; gateway: bigint }>;

/** Per chain id, the gas fees each user paid there (native coin). */
export type Fees = Map<string, Map<Address, bigint>>;


/** Reads what every user and every Gateway hold of every chain's native coin and test token. */
export async function readHoldings(chains: LoadChain[], users: LoadUser[]): Promise<Holdings> {
  const holdings: Holdings = new Map();
  for (const chain of chains) {
    const client = chain.reader.publicClient;
    const token = (who: Address) => client.readContract({ address: chain.token, abi: erc20Abi, functionName: "balanceOf", args: [who] });
    const coin = (who: Address) => client.getBalance({ address: who });
    for (const [asset, read] of [["coin", coin], ["token", token]] as const) {
      const amounts = await inChunks(users, (u) => read(u.address));
      holdings.set(`${chain.chainId}:${asset}`, { users: new Map(users.map((u, i) => [u.address, amounts[i]!])), gateway: await read(chain.gateway) });
    }
  }
  return holdings;
}

/** The gas fees of every transaction the users sent (from its receipt; a transaction never mined cost nothing). */
export async function readFees(chains: LoadChain[], users: LoadUser[]): Promise<Fees> {
  const fees: Fees = new Map();
  for (const chain of chains) {
    const perUser = new Map<Address, bigint>();
    for (const user of users) {
      const receipts = await inChunks(user.sent[chain.index]!, (hash) => chain.reader.publicClient.getTransactionReceipt({ hash }).catch(() => undefined));
      perUser.set(user.address, receipts.reduce((sum, r) => sum + (r === undefined ? 0n : r.gasUsed * r.effectiveGasPrice), 0n));
    }
    fees.set(chain.chainId.toString(), perUser);
  }
  return fees;
}

/**
 * Reads, from each Gateway, how every side of every swap stands now (recordOf: its status and the block it ended in). The
 * chain is the authority: a registration whose receipt never came may still have been mined.
 */
export async function readFinalStates(chains: LoadChain[], swaps: LoadSwap[]): Promise<void> {
  const sides = swaps.flatMap((s) => s.sides ?? []);
  await inChunks(sides, async (side) => {
    const chain = chains[side.chain]!;
    const [status, registeredAt, , finishedAt] = await chain.reader.publicClient.readContract({ address: chain.gateway, abi: gatewayAbi, functionName: "recordOf", args: [side.contractId] });
    side.status = status;
    if (status !== Status.None && side.registeredBlock === undefined) side.registeredBlock = registeredAt;
    if (isFinal(status)) side.finishedBlock = finishedAt;
  });
}

/** A swap's story, for a failure: what was offered and how each side went. */
export type SwapTimeline = { id: number; kind: LoadSwap["kind"]; offeredAt: string; error?: string; sides: SideTimeline[] };
type SideTimeline = { chainId: string; contractId: Hex; asset: string; amount: string; registeredBlock?: string; expiry: string; status: string; finishedBlock?: string; notRegistered?: string };

/** What the history says: the invariants (split, lostWei, misplacedWei must be empty or 0) and every swap that broke one. */
export type HistoryVerdict = {
  /** Swaps with one side released and the other not. */
  split: SwapTimeline[];
  /** Per asset: (users + Gateway before) − (users + Gateway after) − the users' fees. Anything but 0 was created or lost. */
  lostWei: Record<AssetKey, string>;
  /** Per asset: Σ over users of |what each holds − what the outcomes say it should|, and the Gateway's escrow against the open sides. */
  misplacedWei: Record<AssetKey, string>;
  /** Sides still open (registered, committed) at the end. */
  unended: SwapTimeline[];
  /** Sides that ended more than `graceBlocks` past their expiry. */
  endedLate: SwapTimeline[];
  /** Late registrations a Gateway would have taken after their registerBy. */
  lateAccepted: SwapTimeline[];
  ok: boolean;
};

/**
 * Checks the history of a load run against the chains: every swap's two sides agree (never one released and the other
 * refunded), and every wei of every asset is where the outcomes say — with each user (payers lose what they gave unless
 * refunded, beneficiaries gain what was released to them) or in the Gateway's escrow (sides still open) — and none was
 * created or lost.
 */
export function checkHistory({ swaps, before, after, fees, graceBlocks }: { swaps: LoadSwap[]; before: Holdings; after: Holdings; fees: Fees; graceBlocks: bigint }): HistoryVerdict {
  const split: SwapTimeline[] = [];
  const unended: SwapTimeline[] = [];
  const endedLate: SwapTimeline[] = [];
  const lateAccepted: SwapTimeline[] = [];
  const expected = new Map<AssetKey, { users: Map<Address, bigint>; gateway: bigint }>();
  const credit = (key: AssetKey, who: Address | "gateway", amount: bigint) => {
    const entry = expected.get(key) ?? { users: new Map<Address, bigint>(), gateway: 0n };
    if (who === "gateway") entry.gateway += amount;
    else entry.users.set(who, (entry.users.get(who) ?? 0n) + amount);
    expected.set(key, entry);
  };

  for (const swap of swaps) {
    if (swap.sides === undefined) continue;
    const [x, y] = swap.sides;
    const released = swap.sides.map((s) => s.status === Status.Released);
    if (released[0] !== released[1]) split.push(timeline(swap));
    if (swap.sides.some((s) => s.status === Status.Registered || s.status === Status.Committed)) unended.push(timeline(swap));
    if (swap.sides.some((s) => s.finishedBlock !== undefined && s.finishedBlock > s.expiry + graceBlocks)) endedLate.push(timeline(swap));
    if (y.notRegistered?.startsWith("LATE REGISTRATION ACCEPTED") || x.notRegistered?.startsWith("LATE REGISTRATION ACCEPTED")) lateAccepted.push(timeline(swap));
    for (const side of swap.sides) {
      const key: AssetKey = `${side.chainId}:${side.asset}`;
      if (side.status === Status.Released) {
        credit(key, side.payer, -side.amount);
        credit(key, side.beneficiary, side.amount);
      } else if (side.status === Status.Registered || side.status === Status.Committed) {
        credit(key, side.payer, -side.amount);
        credit(key, "gateway", side.amount);
      }
    }
  }

  const lostWei: Record<AssetKey, string> = {};
  const misplacedWei: Record<AssetKey, string> = {};
  for (const [key, was] of before) {
    const now = after.get(key)!;
    const chainId = key.split(":")[0]!;
    const feesOf = (who: Address) => (key.endsWith(":coin") ? (fees.get(chainId)?.get(who) ?? 0n) : 0n);
    let lost = was.gateway - now.gateway;
    let misplaced = 0n;
    for (const [who, had] of was.users) {
      const has = now.users.get(who)!;
      lost += had - has - feesOf(who);
      const should = had + (expected.get(key)?.users.get(who) ?? 0n) - feesOf(who);
      misplaced += abs(has - should);
    }
    misplaced += abs(now.gateway - was.gateway - (expected.get(key)?.gateway ?? 0n));
    lostWei[key] = lost.toString();
    misplacedWei[key] = misplaced.toString();
  }
  const ok =
    split.length === 0 && lateAccepted.length === 0 && Object.values(lostWei).every((v) => v === "0") && Object.values(misplacedWei).every((v) => v === "0");
  return { split, lostWei, misplacedWei, unended, endedLate, lateAccepted, ok };
}

export function timeline(swap: LoadSwap): SwapTimeline {
  const side = (s: LoadSide): SideTimeline => ({
    chainId: s.chainId,
    contractId: s.contractId,
    asset: s.asset,
    amount: s.amount.toString(),
    ...(s.registeredBlock === undefined ? {} : { registeredBlock: s.registeredBlock.toString() }),
    expiry: s.expiry.toString(),
    status: s.status === undefined ? "unknown" : outcomeOf(s.status),
    ...(s.finishedBlock === undefined ? {} : { finishedBlock: s.finishedBlock.toString() }),
    ...(s.notRegistered === undefined ? {} : { notRegistered: s.notRegistered }),
  });
  return {
    id: swap.id,
    kind: swap.kind,
    offeredAt: new Date(swap.offeredAtMs).toISOString(),
    ...(swap.error === undefined ? {} : { error: swap.error }),
    sides: (swap.sides ?? []).map(side),
  };
}

const abs = (x: bigint) => (x < 0n ? -x : x);

/** `f` over `items`, 32 at a time: a few thousand reads neither wait in line one by one nor flood the endpoint at once. */
async function inChunks<T, R>(items: readonly T[], f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += 32) out.push(...(await Promise.all(items.slice(i, i + 32).map(f))));
  return out;
}
