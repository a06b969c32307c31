import { createPublicClient, decodeFunctionData, http, type Hex } from "viem";
import { gatewayAbi, registryAbi } from "../chain/abis.js";
import type { DevnetChain } from "./devnet.js";

/**
 * Mean gas used by each contract function called on the devnet's Gateways and registries: `{ precommit: { calls, meanGas,
 * contracts } }`. A precommit or terminate that posted a view of the counterparty in the same transaction (where most views
 * reach a registry now) counts as `precommit+view` / `terminate+view`; `contracts` is how many contracts their batches held.
 */
export type GasByStep = Record<string, { calls: number; meanGas: number; contracts?: number }>;

/**
 * Reads every block of every chain back and groups the receipts of the transactions sent to a Gateway or a ViewRegistry by
 * the function called: what each step of the protocol cost on these chains, as mined, whoever sent it. Reverted ones are left out.
 */
export async function gasByStep(chains: readonly DevnetChain[]): Promise<GasByStep> {
  const totals = new Map<string, { calls: number; gas: bigint; contracts?: number }>();
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
        const call = stepOf(abi, tx.input);
        if (call === undefined) continue;
        const { gasUsed, status } = await client.getTransactionReceipt({ hash: tx.hash });
        if (status !== "success") continue;
        const entry = totals.get(call.step) ?? { calls: 0, gas: 0n };
        entry.calls += 1;
        entry.gas += gasUsed;
        if (call.contracts !== undefined) entry.contracts = (entry.contracts ?? 0) + call.contracts;
        totals.set(call.step, entry);
      }
    }
  }
  const result: GasByStep = {};
  for (const [step, { calls, gas, contracts }] of [...totals].sort(([x], [y]) => x.localeCompare(y))) {
    result[step] = { calls, meanGas: Number(gas / BigInt(calls)), ...(contracts === undefined ? {} : { contracts }) };
  }
  return result;
}

/** The step a call makes: its function, `+view` for a batch step that posts a view; a batch's number of contracts. */
function stepOf(abi: typeof gatewayAbi | typeof registryAbi, input: Hex): { step: string; contracts?: number } | undefined {
  let decoded;
  try {
    decoded = decodeFunctionData({ abi, data: input });
  } catch {
    return undefined; // a call the relayer ABIs do not name (setGateway, registerChain, …): not a protocol step
  }
  if (decoded.functionName === "precommit" || decoded.functionName === "terminate") {
    const [post, , terms] = decoded.args as unknown as readonly [{ signatures: readonly Hex[] }, unknown, readonly unknown[]];
    return { step: post.signatures.length > 0 ? `${decoded.functionName}+view` : decoded.functionName, contracts: terms.length };
  }
  return { step: decoded.functionName };
}
