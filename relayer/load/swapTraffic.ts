import { setTimeout as sleep } from "node:timers/promises";
import { parseUnits, toHex, zeroAddress, type Address, type Hash, type Hex } from "viem";
import type { Registration } from "../chain/registration.js";
import { mirrorRegistrations, sendRegistration, tryRegister } from "../devnet/swap.js";
import { shortMessage } from "../util/shortMessage.js";
import type { LoadChain, LoadUser } from "./loadUsers.js";

/**
 * What a swap of a load run is meant to do: `matched`, both users register in time (it must settle); `unmatched`, the
 * second user walks away (the first side must be cancelled); `late`, the second user comes after its registerBy, which
 * its Gateway must refuse (the first side must be cancelled).
 */
export type LoadSwapKind = "matched" | "unmatched" | "late";

/** One side of a load swap, as offered and then as the chain says it went. */
export type LoadSide = {
  chain: number;
  chainId: string;
  contractId: Hex;
  payer: Address;
  beneficiary: Address;
  asset: "token" | "coin";
  amount: bigint;
  registerBy: bigint;
  expiry: bigint;
  /** Block of its registration's receipt; absent while (or when never) registered. */
  registeredBlock?: bigint;
  /** When the load generator saw that receipt (ms since the epoch). */
  registeredAtMs?: number;
  /** Why it was not registered: the Gateway's refusal in words, or the endpoint's failure. */
  notRegistered?: string;
  /** Its status at the end (Status), the block it reached it in (recordOf's finishedAt), and when the generator first saw it. */
  status?: number;
  finishedBlock?: bigint;
  finishedAtMs?: number;
};

export type LoadSwap = { id: number; kind: LoadSwapKind; offeredAtMs: number; sides: [LoadSide, LoadSide] | undefined; error?: string };

export type SwapTrafficParameters = {
  chains: LoadChain[];
  users: LoadUser[];
  /** Each side expires this many blocks after its chain's head when offered, and must be registered within half of them. */
  ttl: number;
  /** Draws every choice (chains, users, assets, amounts, kinds), so that a run is replayed from its seed. */
  random: () => number;
};

/** Shares of the swaps offered unmatched and late: both must end cancelled, never split. */
const UNMATCHED_SHARE = 0.05;
const LATE_SHARE = 0.05;

/** How long a swap waits for a free user on its chains before it gives up (the chain's users are all registering). */
const USER_WAIT_MS = 30_000;
/** How long a registration's receipt is awaited: longer than any stall of a chain that chaos injects. */
const RECEIPT_TIMEOUT_MS = 60_000;

/**
 * Offers atomic swaps between the chains of a load run, each between two of its users, and keeps the record of every
 * swap: what was offered, what was registered where, and (filled in by the outcome watcher) how each side ended.
 */
export class SwapTraffic {
  readonly swaps: LoadSwap[] = [];
  readonly #p: SwapTrafficParameters;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(p: SwapTrafficParameters) {
    if (p.chains.length < 2) throw new Error("a load run needs two chains or more");
    this.#p = p;
  }

  /** Offers one swap now; its registrations go on in the background (see `settled`). */
  offer(): LoadSwap {
    const draw = this.#p.random();
    const kind: LoadSwapKind = draw < UNMATCHED_SHARE ? "unmatched" : draw < UNMATCHED_SHARE + LATE_SHARE ? "late" : "matched";
    const swap: LoadSwap = { id: this.swaps.length, kind, offeredAtMs: Date.now(), sides: undefined };
    this.swaps.push(swap);
    const run = this.#run(swap).catch((error: unknown) => {
      swap.error = shortMessage(error);
    });
    this.#inFlight.add(run);
    void run.finally(() => this.#inFlight.delete(run));
    return swap;
  }

  /** Resolves once every offered swap has registered (or failed to register) all it will. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  async #run(swap: LoadSwap): Promise<void> {
    const { chains, ttl, random } = this.#p;
    const x = chains[Math.floor(random() * chains.length)]!;
    const others = chains.filter((c) => c !== x);
    const y = others[Math.floor(random() * others.length)]!;
    const [giveX, giveY] = [amount(random), amount(random)];
    const a = await this.#claim(x, undefined);
    const b = await this.#claim(y, a);
    try {
      const [headX, headY] = await Promise.all([x.reader.publicClient.getBlockNumber({ cacheTime: 0 }), y.reader.publicClient.getBlockNumber({ cacheTime: 0 })]);
      const salt = toHex(BigInt(Math.floor(random() * 2 ** 48)) * 2n ** 64n + BigInt(swap.id), { size: 32 });
      const { regX, regY, idX, idY } = await mirrorRegistrations({
        x: { c: a.on[x.index]!, gateway: x.gateway, asset: giveX.asset === "token" ? x.token : zeroAddress, amount: giveX.amount, payer: a.address, head: headX },
        y: { c: b.on[y.index]!, gateway: y.gateway, asset: giveY.asset === "token" ? y.token : zeroAddress, amount: giveY.amount, payer: b.address, head: headY },
        ttl,
        salt,
      });
      const side = (chain: LoadChain, reg: Registration, contractId: Hex, give: Give): LoadSide => ({
        chain: chain.index,
        chainId: chain.chainId.toString(),
        contractId,
        payer: reg.refundTo,
        beneficiary: reg.beneficiary,
        asset: give.asset,
        amount: give.amount,
        registerBy: reg.registerBy,
        expiry: reg.h1,
        });
      const sides: [LoadSide, LoadSide] = [side(x, regX, idX, giveX), side(y, regY, idY, giveY)];
      swap.sides = sides;
      if (swap.kind === "matched") {
        await Promise.all([register(a, x, regX, sides[0]), register(b, y, regY, sides[1])]);
        return;
      }
      await register(a, x, regX, sides[0]);
      b.busy[y.index] = false;
      if (swap.kind === "unmatched") {
        sides[1].notRegistered = "left unregistered on purpose (the user walked away)";
        return;
      }
      // Late: the second user comes once its chain is past the side's registerBy, which its Gateway must refuse.
      while ((await y.reader.publicClient.getBlockNumber({ cacheTime: 0 })) <= regY.registerBy) await sleep(250);
      const refusal = await tryRegister(b.on[y.index]!, y.gateway, regY).then(
        () => undefined,
        (error: unknown) => shortMessage(error),
      );
      sides[1].notRegistered = refusal === undefined ? "LATE REGISTRATION ACCEPTED: the Gateway would have taken it after its registerBy" : `refused, as it must be: ${refusal}`;
    } finally {
      a.busy[x.index] = false;
      b.busy[y.index] = false;
    }
  }

  /** A user free on `chain` (not `besides`), marked busy there; waits while all are busy. */
  async #claim(chain: LoadChain, besides: LoadUser | undefined): Promise<LoadUser> {
    const deadline = Date.now() + USER_WAIT_MS;
    for (;;) {
      const free = this.#p.users.filter((u) => !u.busy[chain.index] && u !== besides);
      if (free.length > 0) {
        const user = free[Math.floor(this.#p.random() * free.length)]!;
        user.busy[chain.index] = true;
        return user;
      }
      if (Date.now() > deadline) throw new Error(`every load user of chain ${chain.chainId} was busy for ${USER_WAIT_MS / 1000} s`);
      await sleep(50);
    }
  }
}

type Give = { asset: "token" | "coin"; amount: bigint };

/** A random payment: the test token or the native coin, 0.001 to 1 of it. */
function amount(random: () => number): Give {
  return { asset: random() < 0.5 ? "token" : "coin", amount: parseUnits((0.001 + random() * 0.999).toFixed(6), 18) };
}

/**
 * `user` registers `reg` on `chain` (tried by eth_call first, so a refusal costs nothing and is said in words), and
 * `side` records the block of its receipt or why it was not registered. The hash is kept even when no receipt comes
 * (the chain stopped): the fees are read at the end.
 */
async function register(user: LoadUser, chain: LoadChain, reg: Registration, side: LoadSide): Promise<void> {
  const c = user.on[chain.index]!;
  let estimate: bigint;
  try {
    estimate = await tryRegister(c, chain.gateway, reg);
  } catch (error) {
    side.notRegistered = `refused: ${shortMessage(error)}`;
    return;
  }
  let hash: Hash;
  try {
    hash = await sendRegistration(c, chain.gateway, reg, estimate);
  } catch (error) {
    side.notRegistered = `not sent: ${shortMessage(error)}`;
    return;
  }
  user.sent[chain.index]!.push(hash);
  try {
    const receipt = await c.publicClient.waitForTransactionReceipt({ hash, timeout: RECEIPT_TIMEOUT_MS });
    if (receipt.status === "success") {
      side.registeredBlock = receipt.blockNumber;
      side.registeredAtMs = Date.now();
    } else side.notRegistered = `its registration ${hash} reverted`;
  } catch (error) {
    side.notRegistered = `no receipt for ${hash}: ${shortMessage(error)}`;
  }
}
