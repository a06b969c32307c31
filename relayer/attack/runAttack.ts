import { readFile } from "node:fs/promises";
import { createPublicClient, createWalletClient, http, parseEventLogs, type Address, type Hex, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { registryAbi } from "../chain/abis.js";
import { ForkAttack } from "./forkAttack.js";
import { RelayerError } from "../util/relayerError.js";

/** One paragraph for `--help`. */
export const RUN_ATTACK_DESCRIPTION =
  "Makes a chain misbehave as the paper's section VI.B describes, against running endpoints: it snapshots the chain, lets it run " +
  "`firstBranchBlocks` blocks (branch b1: whatever happens there), rewinds it to the snapshot so that it goes on along branch b2, and " +
  "posts b2's views from just past the fork, signed by the colluders and bridged from the newest view the victim's ViewRegistry " +
  "accepted, to that registry only; the gossip overlay is expected to catch it. If the victim already accepted b1 past the fork, " +
  "b2's first view freezes the chain there at once (caught: true). The endpoint must offer evm_snapshot/evm_revert (Hardhat, " +
  "Anvil). The last line printed is a JSON summary {chainId, forkHeight, viewsPosted, caught}.\n\n" +
  "attack.json: {\n" +
  '  "chain":  { "rpcUrl": "http://127.0.0.1:8546", "chainId": "1002", "gateway": "0x…", "k": 16, "colluderKeys": ["0x…", …] },\n' +
  '  "victim": { "rpcUrl": "http://127.0.0.1:8547", "registry": "0x…", "key": "0x…" },\n' +
  '  "firstBranchBlocks": 20\n' +
  "}";

const hex = z.string().regex(/^0x[0-9a-fA-F]+$/);
const schema = z.object({
  chain: z.object({ rpcUrl: z.string().url(), chainId: z.coerce.bigint(), gateway: hex, k: z.number().int().positive(), colluderKeys: z.array(hex).min(1) }),
  victim: z.object({ rpcUrl: z.string().url(), registry: hex, key: hex }),
  firstBranchBlocks: z.number().int().positive().default(20),
});

/** The attack configuration cannot be read or is invalid; `issues` lists one line per problem. */
export class AttackConfigError extends RelayerError {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(issues.join("\n"));
    this.issues = issues;
  }
}

/** `caught`: the victim froze the chain while b2's views were being posted (by one of them, or by the overlay first). */
export type AttackSummary = { chainId: string; forkHeight: string; viewsPosted: number; caught: boolean };

/** Runs the fork attack of the configuration file `config`; progress goes to `log`. Throws AttackConfigError on a bad file. */
export async function runAttack({ config: path, log = (line) => console.log(line) }: { config: string; log?: (line: string) => void }): Promise<AttackSummary> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new AttackConfigError([`${path}: ${error instanceof Error ? error.message : String(error)}`]);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new AttackConfigError(parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
  const { chain, victim, firstBranchBlocks } = parsed.data;
  const client = createPublicClient({ transport: http(chain.rpcUrl) }) as PublicClient;
  const victimClient = createPublicClient({ transport: http(victim.rpcUrl) }) as PublicClient;
  const wallet = createWalletClient({ account: privateKeyToAccount(victim.key as Hex), transport: http(victim.rpcUrl) });
  const waitFor = async (height: bigint) => {
    while ((await client.getBlockNumber({ cacheTime: 0 })) < height) await new Promise((r) => setTimeout(r, 250));
  };

  const attack = await ForkAttack.begin({
    client,
    chainId: chain.chainId,
    gateway: chain.gateway as Address,
    k: chain.k,
    colluders: chain.colluderKeys.map((key) => privateKeyToAccount(key as Hex)),
  });
  log(`chain ${chain.chainId}: snapshot at block ${attack.forkHeight}; branch b1 runs for ${firstBranchBlocks} blocks`);
  const b1Top = attack.forkHeight + BigInt(firstBranchBlocks);
  await waitFor(b1Top);
  await attack.switchToSecondBranch();
  log(`chain ${chain.chainId}: rewound to block ${attack.forkHeight}; now on branch b2`);
  await waitFor(b1Top + 1n);
  const known = await victimClient.readContract({ address: victim.registry as Address, abi: registryAbi, functionName: "latestHeight", args: [chain.chainId] });
  const views = await attack.signedViews({ after: known, from: attack.forkHeight + 1n, to: await client.getBlockNumber({ cacheTime: 0 }) });
  let posted = 0;
  let caught = false;
  for (const { view, signatures, bridge } of views) {
    try {
      const hash = await wallet.writeContract({ chain: null, address: victim.registry as Address, abi: registryAbi, functionName: "submitView", args: [view, signatures, bridge] });
      const receipt = await victimClient.waitForTransactionReceipt({ hash });
      if (receipt.status !== "success") throw new Error(`submitView of b2's view at height ${view.height} reverted (transaction ${hash})`);
      posted++;
      if (parseEventLogs({ abi: registryAbi, eventName: "ChainFrozen", logs: receipt.logs }).length > 0) {
        // The victim had accepted b1 past the fork: b2's view conflicts with it, and is itself the evidence.
        log(`b2's view at height ${view.height} conflicts with what the victim's registry accepted: it froze chain ${chain.chainId}`);
        caught = true;
        break;
      }
    } catch (error) {
      // The gossip overlay can be faster than the attacker: once the victim froze the chain, the rest of b2 is refused.
      if (!String(error).includes("ViewRegistryChainFrozen")) throw error;
      log(`the victim's registry froze chain ${chain.chainId} before b2's view at height ${view.height}: the fork was caught`);
      caught = true;
      break;
    }
    log(`posted b2's view at height ${view.height} to the victim's registry${bridge.length > 0 ? ` (bridged over ${bridge.length} blocks)` : ""}`);
  }
  return { chainId: chain.chainId.toString(), forkHeight: attack.forkHeight.toString(), viewsPosted: posted, caught };
}
