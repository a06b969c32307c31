import { createPublicClient, http, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { buildView, type View } from "../view/view.js";
import { orderSignatures, signView } from "../view/signView.js";
import { aggregateViewSignatures, blsProofOfPossession, blsPublicKey, blsSecretKey, signViewBls } from "../view/blsScheme.js";
import { loadArtifact } from "./artifacts.js";
import { connect } from "./connect.js";
import { call } from "./deployChain.js";

/** A deployed chain as registration sees it. */
export type RegistrableChain = {
  rpcUrl: string;
  chainId: bigint;
  registry: Address;
  gateway: Address;
  /** Owner of this chain's registry: it registers the others here and posts their bonds. */
  ownerKey: Hex;
  /** This chain's committee: its genesis view is signed with every key. */
  committeeKeys: Hex[];
  /** The committee signs with BLS12-381, each member's BLS key derived from its key (blsSecretKey); default ECDSA. */
  bls?: boolean;
};

/** One chain registered on another. */
export type Registration = { on: bigint; chainId: bigint; genesisHeight: bigint; bond: bigint };

export type RegisterChainsParameters = {
  chains: RegistrableChain[];
  /** Window size of every chain's views. */
  k: number;
  /** Threshold = ceil(r·q). */
  r: { numerator: number; denominator: number };
  /** Native coin posted with each registration, as the registered chain's bond. */
  bond: bigint;
  /** Where artifacts/contracts lies (the repository root). */
  root: string;
  onRegistered?: (registration: Registration) => void;
};

/** Registers every chain on every other one, with a genesis view of its current head signed by its whole committee. */
export async function registerChains({ chains, k, r, bond, root, onRegistered }: RegisterChainsParameters): Promise<Registration[]> {
  const { abi } = await loadArtifact({ root, name: "ViewRegistry" });
  const genesis = new Map<bigint, { view: View; signatures: Hex[] }>();
  for (const chain of chains) {
    const view = buildView({ chainId: chain.chainId, k, blockHashes: await blockHashes(chain.rpcUrl) });
    const signatures = chain.bls
      ? [aggregateViewSignatures(new Map(membersOf(chain).map((m, i) => [i, signViewBls(blsSecretKey(m.key), view, chain.gateway)])))]
      : orderSignatures(await Promise.all(chain.committeeKeys.map((key) => signView(privateKeyToAccount(key), view, chain.gateway))));
    genesis.set(chain.chainId, { view, signatures });
  }
  const perChain = await Promise.all(
    chains.map(async (local) => {
      const connection = await connect({ rpcUrl: local.rpcUrl, key: local.ownerKey });
      const registrations: Registration[] = [];
      for (const remote of chains) {
        if (remote === local) continue;
        const { view, signatures } = genesis.get(remote.chainId)!;
        const members = membersOf(remote);
        const registration = {
          chainId: remote.chainId,
          gateway: remote.gateway,
          committee: members.map((m) => m.address),
          rNumerator: r.numerator,
          rDenominator: r.denominator,
          k: BigInt(k),
        };
        if (remote.bls) {
          // Each member's key enters the registry with its proof of possession (anyone may send it: here the owner).
          const keys = members.map((m) => blsPublicKey(blsSecretKey(m.key)));
          for (const [i, m] of members.entries()) await call(connection, abi, local.registry, "proveBlsKey", [keys[i]!, blsProofOfPossession(blsSecretKey(m.key))]);
          await call(connection, abi, local.registry, "registerBlsChain", [registration, keys, view, signatures], bond);
        } else {
          await call(connection, abi, local.registry, "registerChain", [registration, view, signatures], bond);
        }
        const registered = { on: local.chainId, chainId: remote.chainId, genesisHeight: view.height, bond };
        onRegistered?.(registered);
        registrations.push(registered);
      }
      return registrations;
    }),
  );
  return perChain.flat();
}

/** A chain's committee in the registry's order (ascending address), with each member's key. */
function membersOf(chain: RegistrableChain): { address: Address; key: Hex }[] {
  return chain.committeeKeys.map((key) => ({ address: privateKeyToAccount(key).address, key })).sort((a, b) => ascending(a.address, b.address));
}

/** Block hashes of heights 0..head, as Algorithm 1 folds them. */
async function blockHashes(rpcUrl: string): Promise<Hex[]> {
  const client = createPublicClient({ transport: http(rpcUrl) });
  const head = await client.getBlockNumber({ cacheTime: 0 });
  const hashes: Hex[] = [];
  for (let height = 0n; height <= head; height++) hashes.push((await client.getBlock({ blockNumber: height })).hash);
  return hashes;
}

function ascending(a: Address, b: Address): number {
  return BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0;
}
