/**
 * Gas of proving one storage slot of a remote chain in one transaction: StateProofHarness.proveSlot reads the
 * header's hash, number and state root (StateProof.headerFields), checks the hash against the accepted one, proves
 * the account's storage root (tryStorageRoot) and the slot (tryReadSlot), and emits the value. Gas is the receipt's
 * `gasUsed` of a real transaction on an in-process Prague chain: the 21,000 base cost and calldata are included,
 * with EIP-7623's calldata floor (10 gas per calldata token) where it is higher than execution, as it is for
 * proofs of mainnet depth (mostly non-zero bytes: hashes).
 *
 * - devnet: a slot of a contract on the in-process chain itself (its tries are 1–2 nodes deep).
 * - mainnetDepth: the mainnet fixture (block 14,297,900, account 0x5f3b…, 8-node account proof), with its storage
 *   slot of the largest proof (7 nodes): the costliest of the 20.
 * - mainnetDepthOpenZeppelin: the same transaction through OpenZeppelin's BlockHeader and TrieProof
 *   (StateProofHarness.ozProveSlot, which takes the proofs in memory).
 *
 * A library like gasCosts.ts; run as `npx hardhat run scripts/bench/proofStepGas.ts` it prints its numbers.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { network } from "hardhat";
import { encodeFunctionData, hexToBytes, keccak256, numberToHex, pad, size, toHex, type Address, type Hex } from "viem";
import { encodeBlockHeader, type RpcBlock } from "../../relayer/chain/blockHeader.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const MAINNET_FIXTURE = path.resolve(repoRoot, "../shared/fixtures/mainnet-proof/block-14297900.json");

type Mainnet = {
  blockHash: Hex;
  headerRlp: Hex;
  address: Address;
  accountProof: Hex[];
  storageProofs: { key: Hex; value: Hex; proof: Hex[] }[];
};

export type ProofStepGas = {
  /** gasUsed of proveSlot on a proof of the in-process chain. */
  devnet: bigint;
  /** gasUsed of proveSlot on the mainnet fixture. */
  mainnetDepth: bigint;
  /** gasUsed of ozProveSlot on the mainnet fixture. */
  mainnetDepthOpenZeppelin: bigint;
  /** Bytes of the mainnet proveSlot transaction's calldata. */
  calldataBytesMainnet: number;
  /** EIP-7623 floor of that transaction: 21,000 + 10 gas per calldata token, whatever it executes. */
  mainnetCalldataFloor: bigint;
  /** Execution gas of proveSlot on the mainnet fixture (ABI decoding included; no base or calldata cost). */
  mainnetExecution: bigint;
  /** Execution gas of ozProveSlot on the mainnet fixture. */
  mainnetExecutionOpenZeppelin: bigint;
  /** Nodes of the mainnet account and storage proofs measured. */
  mainnetNodes: { account: number; storage: number };
};

/** Calldata tokens of EIP-7623: one per zero byte, four per non-zero byte. */
export function calldataTokens(data: Hex): bigint {
  let tokens = 0n;
  for (const byte of hexToBytes(data)) tokens += byte === 0 ? 1n : 4n;
  return tokens;
}

/** Measures {@link ProofStepGas} on a fresh in-process chain. */
export async function measureProofStepGas(): Promise<ProofStepGas> {
  const conn = await network.create("chainA");
  const { viem, provider } = conn;
  const publicClient = await viem.getPublicClient();
  const harness = await viem.deployContract("StateProofHarness");

  const gasOf = async (hash: Promise<Hex>) => (await publicClient.waitForTransactionReceipt({ hash: await hash })).gasUsed;

  // Devnet: one slot of a contract of the in-process chain, proven under its own newest header.
  const slot = pad(toHex(7));
  const word = BigInt(keccak256("0x01"));
  await provider.request({ method: "hardhat_setStorageAt", params: [harness.address, numberToHex(7), pad(numberToHex(word))] });
  await provider.request({ method: "hardhat_mine", params: ["0x1"] });
  const block = (await publicClient.request({ method: "eth_getBlockByNumber", params: ["latest", false] })) as RpcBlock;
  const proof = await publicClient.getProof({ address: harness.address, storageKeys: [slot], blockNumber: BigInt(block.number) });
  const devnetArgs = [encodeBlockHeader(block), block.hash, harness.address, proof.accountProof, slot, proof.storageProof[0]!.proof] as const;
  const devnet = await gasOf(harness.write.proveSlot([...devnetArgs]));

  // Mainnet depth: the fixture's slot with the largest proof.
  const mainnet = JSON.parse(readFileSync(MAINNET_FIXTURE, "utf8")) as Mainnet;
  const largest = mainnet.storageProofs.reduce((a, b) => (proofBytes(b.proof) > proofBytes(a.proof) ? b : a));
  const args = [mainnet.headerRlp, mainnet.blockHash, mainnet.address, mainnet.accountProof, largest.key, largest.proof] as const;
  const ours = await harness.simulate.proveSlot([...args]);
  if (ours.result !== BigInt(largest.value)) throw new Error(`proveSlot returned ${ours.result}, the fixture says ${largest.value}`);
  const mainnetHash = await harness.write.proveSlot([...args]);
  const mainnetDepth = await gasOf(Promise.resolve(mainnetHash));
  const mainnetDepthOpenZeppelin = await gasOf(harness.write.ozProveSlot([...args], { gas: 3_000_000n }));
  const input = (await publicClient.getTransaction({ hash: mainnetHash })).input;
  const execution = async (functionName: "proveSlot" | "ozProveSlot") =>
    (await harness.simulate.executionGas([encodeFunctionData({ abi: harness.abi, functionName, args: [...args] })])).result;

  return {
    devnet,
    mainnetDepth,
    mainnetDepthOpenZeppelin,
    calldataBytesMainnet: size(input),
    mainnetCalldataFloor: 21_000n + 10n * calldataTokens(input),
    mainnetExecution: await execution("proveSlot"),
    mainnetExecutionOpenZeppelin: await execution("ozProveSlot"),
    mainnetNodes: { account: mainnet.accountProof.length, storage: largest.proof.length },
  };
}

function proofBytes(proof: readonly Hex[]): number {
  return proof.reduce((sum, node) => sum + size(node), 0);
}

async function main(): Promise<void> {
  const gas = await measureProofStepGas();
  const fmt = (n: bigint | number) => n.toLocaleString("en-US");
  console.log("Gas of one transaction proving one storage slot from a header (receipt gasUsed, Prague):");
  console.log(`  devnet proof (in-process chain)            ${fmt(gas.devnet)}`);
  console.log(`  mainnet depth, StateProof                  ${fmt(gas.mainnetDepth)}`);
  console.log(`  mainnet depth, OpenZeppelin TrieProof      ${fmt(gas.mainnetDepthOpenZeppelin)}`);
  console.log(`  mainnet calldata                           ${fmt(gas.calldataBytesMainnet)} bytes, EIP-7623 floor ${fmt(gas.mainnetCalldataFloor)}`);
  console.log(`  mainnet execution only, StateProof         ${fmt(gas.mainnetExecution)}`);
  console.log(`  mainnet execution only, OpenZeppelin       ${fmt(gas.mainnetExecutionOpenZeppelin)}`);
  console.log(`  (account proof ${gas.mainnetNodes.account} nodes, storage proof ${gas.mainnetNodes.storage} nodes)`);
}

if (process.argv.some((arg) => path.resolve(arg) === fileURLToPath(import.meta.url))) {
  await main();
}
