import type { Address, Hex } from "viem";

/**
 * Keys of the well-known test accounts that Hardhat and Anvil both fund at start (mnemonic "test test … junk"). Public
 * knowledge: never hold anything of value with them.
 */
/** Account #0 (0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266): deploys and owns the contracts of `fibc deploy` unless told otherwise. */
export const HARDHAT_ACCOUNT_0_KEY: Hex = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
export const HARDHAT_ACCOUNT_0: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/** Account #1 (0x70997970C51812dc3A010C7d01b50e0d17dc79C8): pays on the --from chain of `fibc swap` unless devnet.json names user keys. */
export const HARDHAT_ACCOUNT_1_KEY: Hex = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
/** Account #2 (0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC): pays on the --to chain of `fibc swap`. */
export const HARDHAT_ACCOUNT_2_KEY: Hex = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
/** Account #3 (0x90F79bf6EB2c4f870365E785982E1f101E93b906): sends fork evidence for `fibc evidence submit` and `fibc watch` unless told otherwise. */
export const HARDHAT_ACCOUNT_3_KEY: Hex = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
