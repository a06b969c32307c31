import { createPublicClient, http, isAddress, type Address, type PublicClient } from "viem";
import { readDevnetFile } from "../devnet/devnet.js";
import { RelayerError } from "../util/relayerError.js";

/** A chain as an evidence reader or sender sees it: a JSON-RPC endpoint and the ViewRegistry there. */
export type ChainEndpoint = { url: string; registry: Address };

/** A chain endpoint whose chain id is known (from devnet.json, or asked of the endpoint). */
export type Target = ChainEndpoint & { chainId: bigint };

export class EndpointListError extends RelayerError {}

/** Every chain of the devnet in `dir`: its URL and registry, from devnet.json. Throws DevnetError when there is none. */
export async function devnetTargets(dir: string): Promise<Target[]> {
  const file = await readDevnetFile(dir);
  return file.chains.map((c) => ({ chainId: BigInt(c.chainId), url: c.url, registry: c.registry }));
}

/** Endpoints given as `--rpc <url>` and `--registry <address>`, paired in order. Throws EndpointListError on a mismatch or a malformed value. */
export function pairEndpoints(urls: readonly string[], registries: readonly string[]): ChainEndpoint[] {
  if (urls.length === 0) throw new EndpointListError("no endpoint: give --dir <devnet dir>, or --rpc <url> --registry <address> for each chain");
  if (urls.length !== registries.length) throw new EndpointListError(`${urls.length} --rpc and ${registries.length} --registry: give one registry address per endpoint, in the same order`);
  return urls.map((url, i) => {
    if (!/^https?:\/\/\S+$/.test(url)) throw new EndpointListError(`--rpc ${JSON.stringify(url)} is not an http(s) URL`);
    const registry = registries[i]!;
    if (!isAddress(registry, { strict: false })) throw new EndpointListError(`--registry ${JSON.stringify(registry)} is not an address`);
    return { url, registry: registry as Address };
  });
}

/**
 * A client of `url` that gives up quickly: a down endpoint is reported, not waited for (one retry, 5 s), and receipts are
 * polled every 200 ms, a devnet block or less.
 */
export function endpointClient(url: string): PublicClient {
  return createPublicClient({ transport: http(url, { retryCount: 1, timeout: 5_000 }), pollingInterval: 200 }) as PublicClient;
}
