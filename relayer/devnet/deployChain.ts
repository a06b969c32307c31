import { getAddress, type Abi, type Address, type Hex } from "viem";
import { loadArtifact, type Artifact } from "./artifacts.js";
import { connect, transact, type Connection } from "./connect.js";
import { DevnetError } from "./devnetError.js";

export type DeployChainParameters = {
  rpcUrl: string;
  /** Deploys the contracts and owns the registry and the Gateway; pays the gas. */
  ownerKey: Hex;
  /** Where artifacts/contracts lies (the repository root). */
  root: string;
  /** Share of a slashed bond paid to the reporter; default 10 %. */
  slashRewardBps?: bigint;
  /**
   * Share of a slashed bond kept for the compensation of the users the fork may have harmed, and the share of a bond that open
   * (and recently finished) contracts may be worth; default 40 %. Reward + pool ≤ 50 %: the rest is burned.
   */
  poolBps?: bigint;
  /** The Gateway's settings, in blocks of this chain (see GatewaySettings); default DEFAULT_GATEWAY_SETTINGS. */
  settings?: GatewaySettings;
  /** The test token's value in native-coin wei per unit; default 1:1 (1e18 per whole token). */
  tokenValue?: bigint;
};

/** The Gateway's constructor settings, in blocks. */
export type GatewaySettings = {
  /** A contract terminated at most this many blocks before its counterparty's freeze (or after it) may claim compensation. */
  compensationWindow: bigint;
  /** The longest a registration may run: h1 ≤ head + maxLifetime here, h2 ≤ the counterparty's accepted height + maxLifetime. */
  maxLifetime: bigint;
  /**
   * Blocks after a freeze during which claims are filed; compensation is paid after it. Longer than maxLifetime +
   * compensationWindow, so that every contract open at the freeze can end and claim within it.
   */
  claimPeriod: bigint;
};

/** The devnet's Gateway settings: a window of 100 blocks, registrations of at most 1000 blocks, claims for 1200 blocks. */
export const DEFAULT_GATEWAY_SETTINGS: GatewaySettings = { compensationWindow: 100n, maxLifetime: 1000n, claimPeriod: 1200n };

/** Throws DevnetError unless the Gateway would take `settings` (each positive, claimPeriod > maxLifetime + compensationWindow). */
export function assertGatewaySettings({ compensationWindow, maxLifetime, claimPeriod }: GatewaySettings): void {
  const max = 2n ** 64n - 1n;
  for (const [name, value] of Object.entries({ compensationWindow, maxLifetime, claimPeriod })) {
    if (value < 1n || value > max) throw new DevnetError(`${name} must be a whole number of blocks in 1..2^64 − 1, got ${value}`);
  }
  if (claimPeriod <= maxLifetime + compensationWindow) {
    throw new DevnetError(
      `claimPeriod (${claimPeriod}) must be longer than maxLifetime + compensationWindow (${maxLifetime} + ${compensationWindow}): ` +
        "every contract open at a freeze must be able to end and claim within the claim period",
    );
  }
}

/** A chain's contracts, as deployChain left them. */
export type DeployedChain = { chainId: bigint; owner: Address; registry: Address; gateway: Address; token: Address };

/** Deploys ViewRegistry, Gateway and TestToken on any EVM endpoint, names the Gateway to the registry and values the token. */
export async function deployChain({
  rpcUrl,
  ownerKey,
  root,
  slashRewardBps = 1_000n,
  poolBps = 4_000n,
  settings = DEFAULT_GATEWAY_SETTINGS,
  tokenValue = 10n ** 18n,
}: DeployChainParameters): Promise<DeployedChain> {
  assertGatewaySettings(settings);
  const [registryArtifact, gatewayArtifact, tokenArtifact] = await Promise.all(
    ["ViewRegistry", "Gateway", "TestToken"].map((name) => loadArtifact({ root, name })),
  );
  const connection = await connect({ rpcUrl, key: ownerKey });
  const owner = connection.wallet.account.address;
  const { chainId } = connection;
  const registry = await deploy(connection, registryArtifact!, [owner, slashRewardBps, poolBps]);
  const { compensationWindow, maxLifetime, claimPeriod } = settings;
  const gateway = await deploy(connection, gatewayArtifact!, [owner, registry, compensationWindow, maxLifetime, claimPeriod]);
  await call(connection, registryArtifact!.abi, registry, "setGateway", [gateway]);
  const token = await deploy(connection, tokenArtifact!, [`Token of ${chainId}`, `TK${chainId}`]);
  await call(connection, gatewayArtifact!.abi, gateway, "setAssetValue", [token, tokenValue]);
  return { chainId, owner, registry, gateway, token };
}

async function deploy(connection: Connection, artifact: Artifact, args: readonly unknown[]): Promise<Address> {
  const receipt = await transact(connection, `deploying ${artifact.contractName}`, () =>
    connection.wallet.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args }),
  );
  if (!receipt.contractAddress) throw new DevnetError(`deploying ${artifact.contractName} on chain ${connection.chainId} created no contract`);
  return getAddress(receipt.contractAddress);
}

/** Sends `functionName(args)` to `address` and waits until it is mined. */
export async function call(
  connection: Connection,
  abi: Abi,
  address: Address,
  functionName: string,
  args: readonly unknown[],
  value?: bigint,
): Promise<void> {
  await transact(connection, functionName, () =>
    connection.wallet.writeContract({ abi, address, functionName, args, ...(value === undefined ? {} : { value }) }),
  );
}
