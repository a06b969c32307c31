import { createPublicClient, http, type Address, type Hex, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { registryAbi } from "../chain/abis.js";
import { orderSignatures, signView } from "../view/signView.js";
import { foldAcc, type View } from "../view/view.js";
import { connect, transact, type Connection } from "./connect.js";
import type { DevnetFile } from "./devnet.js";
import { DevnetError } from "./devnetError.js";

export type PostHeadViewParameters = {
  /** The chain whose registry is brought up to date; `key` pays the gas. */
  on: { rpcUrl: string; registry: Address; key: Hex };
  /** The chain it learns about, and its committee's keys (a devnet holds them all). */
  of: { rpcUrl: string; chainId: bigint; gateway: Address; committeeKeys: readonly Hex[] };
  /** Window size of the chain's views. */
  k: number;
};

/**
 * Posts a view of `of` at its head, signed by its whole committee, to the registry of `on`, bridged from the newest view
 * that registry accepted (one transaction, however far behind it is). What a relayer does before a step that needs a newer
 * view; a devnet tool does it when a registry has fallen too far behind for a registration (the Gateway's maximum
 * lifetime counts from the counterparty's accepted height). Returns the height posted, or undefined when the registry is
 * less than a window behind the head.
 */
export async function postHeadView({ on, of, k }: PostHeadViewParameters): Promise<bigint | undefined> {
  const poster = await connect({ rpcUrl: on.rpcUrl, key: on.key });
  const client = createPublicClient({ transport: http(of.rpcUrl) });
  // A relayer may post a view between our read of the registry and our transaction: the bridge no longer fits, so read again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await postOnce(poster, client, of, k, on.registry);
    } catch (error) {
      if (attempt === 3 || !(error instanceof DevnetError && error.message.includes("ViewRegistryBridgeMismatch"))) throw error;
    }
  }
}

async function postOnce(poster: Connection, client: PublicClient, of: PostHeadViewParameters["of"], k: number, registry: Address): Promise<bigint | undefined> {
  const on = { registry };
  const latest = await poster.publicClient.readContract({ address: on.registry, abi: registryAbi, functionName: "latestHeight", args: [of.chainId] });
  const head = await client.getBlockNumber({ cacheTime: 0 });
  // The window of the new view starts past `latest`, so its acc is the stored word folded over the blocks in between.
  if (head < latest + BigInt(k)) return undefined;
  const stored = await poster.publicClient.readContract({ address: on.registry, abi: registryAbi, functionName: "accThrough", args: [of.chainId, latest] });
  const hashes: Hex[] = [];
  for (let height = latest + 1n; height <= head; height++) hashes.push((await client.getBlock({ blockNumber: height })).hash);
  const bridge = hashes.slice(0, hashes.length - k);
  const view: View = { chainId: of.chainId, height: head, acc: foldAcc(stored, bridge), hashes: hashes.slice(hashes.length - k) };
  const signatures = orderSignatures(await Promise.all(of.committeeKeys.map((key) => signView(privateKeyToAccount(key), view, of.gateway))));
  await transact(poster, `posting chain ${of.chainId}'s view at height ${head}`, () =>
    poster.wallet.writeContract({ address: on.registry, abi: registryAbi, functionName: "submitView", args: [view, signatures, bridge] }),
  );
  return head;
}

/**
 * A `refresh` for runSwap on a devnet: posts the head view of chain `of` to the registry of chain `on`, signed with the
 * committee keys devnet.json holds and paid by its owner. Calls for one chain run one after the other (one owner nonce; a
 * second call for the same registry finds it up to date and posts nothing).
 */
export function devnetRefresh(file: DevnetFile, log: (line: string) => void = () => {}): (on: bigint, of: bigint) => Promise<void> {
  const queues = new Map<bigint, Promise<unknown>>();
  return (on, of) => {
    const run = (queues.get(on) ?? Promise.resolve()).catch(() => undefined).then(() => post(on, of));
    queues.set(on, run);
    return run;
  };
  async function post(on: bigint, of: bigint): Promise<void> {
    const find = (id: bigint) => {
      const chain = file.chains.find((c) => c.chainId === id.toString());
      if (chain === undefined) throw new DevnetError(`chain ${id} is not in the devnet`);
      return chain;
    };
    const local = find(on);
    const remote = find(of);
    const height = await postHeadView({
      on: { rpcUrl: local.url, registry: local.registry, key: file.owner.key },
      of: { rpcUrl: remote.url, chainId: of, gateway: remote.gateway, committeeKeys: remote.committee.map((m) => m.key) },
      k: file.k,
    });
    if (height !== undefined) log(`chain ${on}: posted chain ${of}'s view at height ${height}, signed by its committee's devnet keys`);
  }
}
