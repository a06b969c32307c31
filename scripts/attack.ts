/**
 * Makes a chain misbehave as the paper's section VI.B describes, against running endpoints:
 *   npm run attack -- --config attack.json
 *
 * attack.json: {
 *   "chain":  { "rpcUrl": "http://127.0.0.1:8546", "chainId": "1002", "gateway": "0x…", "k": 16, "colluderKeys": ["0x…", …] },
 *   "victim": { "rpcUrl": "http://127.0.0.1:8547", "registry": "0x…", "key": "0x…" },
 *   "firstBranchBlocks": 20
 * }
 * It snapshots the chain, lets it run `firstBranchBlocks` blocks (branch b1: whatever happens there),
 * rewinds it to the snapshot so that it goes on along branch b2, and posts b2's views, signed by the
 * colluders, to the victim's ViewRegistry only. The gossip overlay is expected to catch it.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { createPublicClient, createWalletClient, http, type Address, type Hex, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { ForkAttack } from "../relayer/attack/forkAttack.js";
import { registryAbi } from "../relayer/chain/abis.js";

const hex = z.string().regex(/^0x[0-9a-fA-F]+$/);
const schema = z.object({
  chain: z.object({ rpcUrl: z.string().url(), chainId: z.coerce.bigint(), gateway: hex, k: z.number().int().positive(), colluderKeys: z.array(hex).min(1) }),
  victim: z.object({ rpcUrl: z.string().url(), registry: hex, key: hex }),
  firstBranchBlocks: z.number().int().positive().default(20),
});

const { values } = parseArgs({ options: { config: { type: "string", short: "c" } } });
if (values.config === undefined) {
  console.log("usage: npm run attack -- --config <attack.json>");
  process.exit(2);
}
const parsed = schema.safeParse(JSON.parse(await readFile(values.config, "utf8")));
if (!parsed.success) {
  for (const issue of parsed.error.issues) console.error(`${issue.path.join(".")}: ${issue.message}`);
  process.exit(2);
}
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
console.log(`chain ${chain.chainId}: snapshot at block ${attack.forkHeight}; branch b1 runs for ${firstBranchBlocks} blocks`);
const b1Top = attack.forkHeight + BigInt(firstBranchBlocks);
await waitFor(b1Top);
await attack.switchToSecondBranch();
console.log(`chain ${chain.chainId}: rewound to block ${attack.forkHeight}; now on branch b2`);
await waitFor(b1Top + 1n);
const known = await victimClient.readContract({ address: victim.registry as Address, abi: registryAbi, functionName: "latestHeight", args: [chain.chainId] });
const views = await attack.signedViews({ after: known, to: await client.getBlockNumber({ cacheTime: 0 }) });
for (const { view, signatures } of views) {
  const hash = await wallet.writeContract({ chain: null, address: victim.registry as Address, abi: registryAbi, functionName: "submitView", args: [view, signatures] });
  await victimClient.waitForTransactionReceipt({ hash });
  console.log(`posted b2's view at height ${view.height} to the victim's registry`);
}
console.log(JSON.stringify({ chainId: chain.chainId.toString(), forkHeight: attack.forkHeight.toString(), viewsPosted: views.length }));
