import { createPublicClient, decodeFunctionData, http, type Hex } from "viem";
import { gatewayAbi, registryAbi } from "../chain/abis.js";
import type { DevnetChain } from "./devnet.js";

/** Mean gas used by each contract function called on the devnet's Gateways and registries: `{ precommit: { calls, meanGas } }`. */
export type GasByStep = Record<string, { calls: number; meanGas: number }>;

/**
 * Reads every block of every chain back and groups the receipts of the transactions sent to a Gateway or a ViewRegistry by
 * the function called: what each step of the protocol cost on these chains, as mined, whoever sent it.
 */
export async function gasByStep(chains: readonly DevnetChain[]): Promise<GasByStep> {
  const totals = new Map<string, { calls: number; gas: bigint }>();
  for (const chain of chains) {
    const client = createPublicClient({ transport: http(chain.url) });
    const targets = new Map<string, typeof gatewayAbi | typeof registryAbi>([
      [chain.gateway.toLowerCase(), gatewayAbi],
      [chain.registry.toLowerCase(), registryAbi],
    ]);
    const head = await client.getBlockNumber({ cacheTime: 0 });
    for (let height = 0n; height <= head; height++) {
      const block = await client.getBlock({ blockNumber: height, includeTransactions: true });
      for (const tx of block.transactions) {
        const abi = tx.to ? targets.get(tx.to.toLowerCase()) : undefined;
        if (abi === undefined) continue;
        const step = functionName(abi, tx.input);
        if (step === undefined) continue;
        const { gasUsed, status } = await client.getTransactionReceipt({ hash: tx.hash });
        if (status !== "success") continue;
        const entry = totals.get(step) ?? { calls: 0, gas: 0n };
        entry.calls += 1;
        entry.gas += gasUsed;
        totals.set(step, entry);
      }
    }
  }
  const result: GasByStep = {};
  for (const [step, { calls, gas }] of [...totals].sort(([x], [y]) => x.localeCompare(y))) result[step] = { calls, meanGas: Number(gas / BigInt(calls)) };
  return result;
}

function functionName(abi: typeof gatewayAbi | typeof registryAbi, input: Hex): string | undefined {
  try {
    return decodeFunctionData({ abi, data: input }).functionName;
  } catch {
    return undefined; // a call the relayer ABIs do not name (setGateway, registerChain, …): not a protocol step
  }
}
