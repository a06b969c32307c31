import { createWalletClient, erc20Abi, http, keccak256, maxUint256, parseEther, stringToHex, type Address, type Hash, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { testTokenMintAbi } from "../chain/abis.js";
import { keepAliveFetch } from "../chain/keepAliveFetch.js";
import { connect, transact, type Connection } from "../devnet/connect.js";
import type { DevnetChain, DevnetMember } from "../devnet/devnet.js";

/** Native coin and test tokens each load user starts with on every chain: far more than its swaps give away. */
export const USER_COINS = parseEther("100");
export const USER_TOKENS = parseEther("1000");

/** A chain of a load run as its users see it: one endpoint, its Gateway and test token. */
export type LoadChain = { index: number; chainId: bigint; gateway: Address; token: Address; reader: Connection };

/** A user of a load run: the same key on every chain, one connection per chain, and the transactions it sent. */
export type LoadUser = {
  index: number;
  address: Address;
  /** Per chain (by index): a connection that sends as this user. */
  on: Connection[];
  /** Per chain: every transaction this user sent there during the run, for its fees at the end. */
  sent: Hash[][];
  /** Per chain: true while one of its registrations is on its way (one at a time, so its nonces never collide). */
  busy: boolean[];
};

/** Per-request timeout of the users' JSON-RPC: a stopped chain must not hold a user for long. */
const USER_RPC_TIMEOUT_MS = 8_000;

/**
 * `count` users of their own (keys derived from "load/user/<i>": public, devnet only), funded on every chain by the
 * devnet's owner with USER_COINS, each minting USER_TOKENS of the chain's test token and approving the Gateway for all its
 * tokens once, so that a swap side later costs its user one transaction.
 */
export async function prepareUsers({ chains, owner, count, log }: { chains: DevnetChain[]; owner: DevnetMember; count: number; log: (line: string) => void }): Promise<{ chains: LoadChain[]; users: LoadUser[] }> {
  const keys: Hex[] = Array.from({ length: count }, (_, i) => keccak256(stringToHex(`load/user/${i}`)));
  const loadChains = await Promise.all(
    chains.map(async (c, index) => {
      const reader = await connect({ rpcUrl: c.url, key: owner.key, timeoutMs: USER_RPC_TIMEOUT_MS });
      return { index, chainId: reader.chainId, gateway: c.gateway, token: c.token, reader };
    }),
  );
  const users: LoadUser[] = keys.map((key, index) => {
    const account = privateKeyToAccount(key);
    return {
      index,
      address: account.address,
      on: loadChains.map(({ reader }) => ({ ...reader, wallet: createWalletClient({ chain: reader.wallet.chain, transport: http(reader.rpcUrl, { fetchFn: keepAliveFetch, timeout: USER_RPC_TIMEOUT_MS, retryCount: 0 }), account }) })),
      sent: loadChains.map(() => []),
      busy: loadChains.map(() => false),
    };
  });
  await Promise.all(
    loadChains.map(async (chain) => {
      // The owner's transfers go out back to back with consecutive nonces and are mined together.
      const { reader } = chain;
      const nonce = await reader.publicClient.getTransactionCount({ address: owner.address, blockTag: "pending" });
      const hashes = await Promise.all(users.map((u, i) => reader.wallet.sendTransaction({ to: u.address, value: USER_COINS, nonce: nonce + i })));
      await Promise.all(hashes.map((hash) => reader.publicClient.waitForTransactionReceipt({ hash })));
      await Promise.all(
        users.map(async (u) => {
          const c = u.on[chain.index]!;
          // Before the run's first reading of the balances: their fees are not the run's.
          await transact(c, `minting test tokens for load user ${u.index}`, () => c.wallet.writeContract({ address: chain.token, abi: testTokenMintAbi, functionName: "mint", args: [u.address, USER_TOKENS] }));
          await transact(c, `approving the Gateway for load user ${u.index}`, () => c.wallet.writeContract({ address: chain.token, abi: erc20Abi, functionName: "approve", args: [chain.gateway, maxUint256] }));
        }),
      );
      log(`chain ${chain.chainId}: ${count} load users funded with ${USER_COINS / 10n ** 18n} coin and ${USER_TOKENS / 10n ** 18n} tokens each, the Gateway approved`);
    }),
  );
  return { chains: loadChains, users };
}
