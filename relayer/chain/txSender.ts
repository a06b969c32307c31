import {
  BaseError,
  ContractFunctionRevertedError,
  type Abi,
  type Account,
  type Address,
  type Chain,
  type ContractFunctionArgs,
  type ContractFunctionName,
  type Hex,
  type PublicClient,
  type WalletClient,
  type Transport,
} from "viem";
import type { Store } from "../store/store.js";
import { shortMessage } from "../util/shortMessage.js";
import { RelayerError } from "../util/relayerError.js";

/** What came of a step: this call landed it, or it was already done (by another node, or earlier by this one). */
export type SendOutcome = "landed" | "already-done";

export class TxRefusedError extends RelayerError {
  constructor(readonly key: string, readonly reason: string, cause: unknown) {
    super(`${key} would revert: ${reason}`, { cause });
  }
}

export class TxRevertedError extends RelayerError {
  constructor(readonly key: string, readonly hash: Hex) {
    super(`transaction for ${key} reverted (${hash})`);
  }
}

export type SendParameters<abi extends Abi, name extends ContractFunctionName<abi, "nonpayable">> = {
  /** Names the step: at most one transaction per key is ever in flight, and a restarted node finds it. */
  key: string;
  address: Address;
  abi: abi;
  functionName: name;
  args: ContractFunctionArgs<abi, "nonpayable", name>;
  /** Custom errors that mean another node already did this step: the step counts as done. */
  doneErrors: readonly string[];
};

/**
 * Sends a node's transactions in order, one submission at a time, without waiting for one to be mined before the
 * next goes out: a node runs the steps of several counterparties at once, and a step whose transaction queued behind
 * the others' receipts carried an answer that aged meanwhile (another node's post overtook it, or the next member took
 * over). The nonce is read from the chain (`pending`) for every transaction, so transactions sent from the same account
 * elsewhere, or before a restart, never wedge it. Every step is simulated first, by its gas estimate; a step that
 * another node already landed is success, not an error. A submission is two round trips of the chain node (the nonce,
 * the estimate and the fees asked together, then the transaction): at n = 10 on this machine a busy node took about
 * half a second per round trip, and the submissions of a node wait for each other.
 */
export class TxSender {
  readonly #publicClient: PublicClient;
  readonly #walletClient: WalletClient<Transport, Chain, Account>;
  readonly #store: Store;
  /** The submissions in order: each waits for the one before to be in the node's pool (not mined). */
  #queue: Promise<unknown> = Promise.resolve();

  constructor({ publicClient, walletClient, store }: { publicClient: PublicClient; walletClient: WalletClient<Transport, Chain, Account>; store: Store }) {
    this.#publicClient = publicClient;
    this.#walletClient = walletClient;
    this.#store = store;
  }

  async send<abi extends Abi, name extends ContractFunctionName<abi, "nonpayable">>(p: SendParameters<abi, name>): Promise<SendOutcome> {
    const submitted = this.#queue.then(() => this.#submit(p));
    this.#queue = submitted.catch(() => undefined);
    const { hash, outcome } = await submitted;
    if (hash === undefined) return outcome;
    const receipt = await this.#publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status === "success") return "landed";
    if ((await this.#simulate(p)) === "already-done") return "already-done";
    throw new TxRevertedError(p.key, hash);
  }

  /** Sends the step (its gas estimate simulates it): its transaction's hash, or its outcome when it needs no transaction. */
  async #submit<abi extends Abi, name extends ContractFunctionName<abi, "nonpayable">>(p: SendParameters<abi, name>): Promise<{ hash: Hex; outcome?: never } | { hash?: never; outcome: SendOutcome }> {
    const previous = this.#store.sent(p.key);
    if (previous !== undefined) {
      const receipt = await this.#publicClient.getTransactionReceipt({ hash: previous.hash }).catch(() => undefined);
      if (receipt?.status === "success") return { outcome: "already-done" };
      this.#store.forget(p.key); // reverted, dropped or never mined: decide again from the chain's state
    }
    const account = this.#walletClient.account;
    const call = callOf(account, p);
    // Asked together: one round trip of a busy chain node instead of four (writeContract asks for the block, then the
    // priority fee, then the estimate, one after another).
    let nonce: number, gas: bigint, block: { baseFeePerGas: bigint | null }, tip: bigint;
    try {
      [nonce, gas, block, tip] = await Promise.all([
        this.#publicClient.getTransactionCount({ address: account.address, blockTag: "pending" }),
        // prepare: false: for a local account viem would otherwise read the nonce and the fees a second time first.
        this.#publicClient.estimateContractGas({ ...(call as object), prepare: false } as never),
        this.#publicClient.getBlock({ blockTag: "latest" }),
        this.#publicClient.estimateMaxPriorityFeePerGas(),
      ]);
    } catch (error) {
      return { outcome: refused(p, error) };
    }
    // Twice the base fee: the transaction stays includable through five full blocks in a row (the base fee rises by at
    // most an eighth a block).
    const maxFeePerGas = 2n * (block.baseFeePerGas ?? 0n) + tip;
    let hash: Hex;
    try {
      // Every field given, so that viem asks the node nothing before it sends (not even eth_fillTransaction).
      const chain = this.#walletClient.chain;
      hash = await this.#walletClient.writeContract({ ...(call as object), chain, chainId: chain.id, nonce, gas, maxFeePerGas, maxPriorityFeePerGas: tip } as never);
    } catch (error) {
      return { outcome: refused(p, error) };
    }
    this.#store.recordSent({ key: p.key, hash, nonce, at: Date.now() });
    return { hash };
  }

  /** undefined when the step would go through; "already-done" when it is refused with one of its done-errors; else throws TxRefusedError. */
  async #simulate<abi extends Abi, name extends ContractFunctionName<abi, "nonpayable">>(p: SendParameters<abi, name>): Promise<SendOutcome | undefined> {
    try {
      await this.#publicClient.simulateContract(callOf(this.#walletClient.account, p));
      return undefined;
    } catch (error) {
      return refused(p, error);
    }
  }
}

function callOf<abi extends Abi, name extends ContractFunctionName<abi, "nonpayable">>(account: Account, p: SendParameters<abi, name>): never {
  return { account, address: p.address, abi: p.abi, functionName: p.functionName, args: p.args } as never;
}

/** Another node may land the same step at any moment: a refusal naming a done-error is success. */
function refused(p: { key: string; doneErrors: readonly string[] }, error: unknown): SendOutcome {
  const name = revertName(error);
  if (name !== undefined && p.doneErrors.includes(name)) return "already-done";
  throw new TxRefusedError(p.key, name ?? shortMessage(error), error);
}

/** The custom error a call reverted with, if any. */
export function revertName(error: unknown): string | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  return reverted instanceof ContractFunctionRevertedError ? reverted.data?.errorName : undefined;
}
