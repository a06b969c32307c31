import {
  BaseError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type Chain,
  type Hash,
  type Hex,
  type PrivateKeyAccount,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { DevnetError } from "./devnetError.js";
import { explainRevert } from "./explainRevert.js";
import { keepAliveFetch } from "../chain/keepAliveFetch.js";

/** A JSON-RPC endpoint and an account that sends transactions there. */
export type Connection = {
  chainId: bigint;
  rpcUrl: string;
  publicClient: PublicClient<Transport, Chain>;
  wallet: WalletClient<Transport, Chain, PrivateKeyAccount>;
};

/**
 * Connects `key` to the endpoint at `rpcUrl`, whatever chain it serves. With `timeoutMs`, each request gives up after that
 * long and is not retried (viem's default: 10 s and three retries), for callers that must not hang on a stopped chain.
 */
export async function connect({ rpcUrl, key, timeoutMs }: { rpcUrl: string; key: Hex; timeoutMs?: number }): Promise<Connection> {
  // A swap polls both of its records every pollMs while it waits: kept-alive connections make each call cheap (keepAliveFetch).
  const transport = http(rpcUrl, { fetchFn: keepAliveFetch, ...(timeoutMs === undefined ? {} : { timeout: timeoutMs, retryCount: 0 }) });
  let id: number;
  try {
    id = await createPublicClient({ transport }).getChainId();
  } catch (error) {
    throw new DevnetError(`no JSON-RPC answer from ${rpcUrl}`, { cause: error });
  }
  const chain = defineChain({
    id,
    name: `chain ${id}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  return {
    chainId: BigInt(id),
    rpcUrl,
    publicClient: createPublicClient({ chain, transport, pollingInterval: 100 }),
    wallet: createWalletClient({ chain, transport, account: privateKeyToAccount(key) }),
  };
}

/** Sends a transaction and waits until it is mined; throws DevnetError naming `what` when sending fails or it reverts. */
export async function transact(connection: Connection, what: string, send: () => Promise<Hash>): Promise<TransactionReceipt> {
  let hash: Hash;
  try {
    hash = await send();
  } catch (error) {
    // A revert reads as the contract's error and what it means for the user, never as raw hex.
    const reason = explainRevert(error, { chainId: connection.chainId }) ?? (error instanceof BaseError ? error.details || error.shortMessage : String(error));
    throw new DevnetError(`${what} on chain ${connection.chainId} failed: ${reason}`, { cause: error });
  }
  const receipt = await connection.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") {
    // It passed the node's gas estimate and reverted once mined (the chain moved on meanwhile, e.g. past a deadline): the
    // same call replayed on the state it ran against says why.
    const why = await revertReason(connection, hash, receipt);
    throw new DevnetError(`${what} reverted on chain ${connection.chainId} (transaction ${hash})${why === undefined ? "" : `: ${why}`}`);
  }
  return receipt;
}

/**
 * Why the mined transaction `hash` reverted, in words: its call replayed on its block's state without a gas limit, whose
 * revert says why. When that passes, it ran out of gas if it used at least 63/64 of its limit (an out-of-gas in a call
 * it made keeps a 64th back): the state changed after the estimate. Undefined when it cannot be replayed.
 */
async function revertReason(connection: Connection, hash: Hash, receipt: TransactionReceipt): Promise<string | undefined> {
  let tx: Awaited<ReturnType<Connection["publicClient"]["getTransaction"]>>;
  try {
    tx = await connection.publicClient.getTransaction({ hash });
  } catch {
    return undefined;
  }
  try {
    await connection.publicClient.call({ account: tx.from, ...(tx.to === null ? {} : { to: tx.to }), data: tx.input, value: tx.value, blockNumber: receipt.blockNumber });
  } catch (error) {
    return explainRevert(error, { chainId: connection.chainId }) ?? (error instanceof BaseError ? error.shortMessage : String(error));
  }
  if (receipt.gasUsed * 64n >= tx.gas * 63n) return `it ran out of gas: its limit of ${tx.gas} was short in the block it was mined in (it used ${receipt.gasUsed})`;
  return "replayed on the state after its block it passes: what refused it changed within that block";
}
