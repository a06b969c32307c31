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
  /** Blocks before a freeze within which a released contract may claim compensation; default 200. */
  compensationWindow?: bigint;
  /** The test token's value in native-coin wei per unit; default 1:1 (1e18 per whole token). */
  tokenValue?: bigint;
};

/** A chain's contracts, as deployChain left them. */
export type DeployedChain = { chainId: bigint; owner: Address; registry: Address; gateway: Address; token: Address };

/** Deploys ViewRegistry, Gateway and TestToken on any EVM endpoint, names the Gateway to the registry and values the token. */
export async function deployChain({
  rpcUrl,
  ownerKey,
  root,
  slashRewardBps = 1_000n,
  compensationWindow = 200n,
  tokenValue = 10n ** 18n,
}: DeployChainParameters): Promise<DeployedChain> {
  const [registryArtifact, gatewayArtifact, tokenArtifact] = await Promise.all(
    ["ViewRegistry", "Gateway", "TestToken"].map((name) => loadArtifact({ root, name })),
  );
  const connection = await connect({ rpcUrl, key: ownerKey });
  const owner = connection.wallet.account.address;
  const { chainId } = connection;
  const registry = await deploy(connection, registryArtifact!, [owner, slashRewardBps]);
  const gateway = await deploy(connection, gatewayArtifact!, [owner, registry, compensationWindow]);
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
