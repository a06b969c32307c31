import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Abi, Hex } from "viem";
import { DevnetError } from "./devnetError.js";

/** What deploying and calling a contract needs from Hardhat's compiled artifact. */
export type Artifact = { contractName: string; abi: Abi; bytecode: Hex };

/** Reads `artifacts/contracts/**\/<name>.json` under `root`, as `npx hardhat build` writes it. */
export async function loadArtifact({ root, name }: { root: string; name: string }): Promise<Artifact> {
  const dir = join(root, "artifacts", "contracts");
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch (error) {
    throw new DevnetError(`no compiled contracts in ${dir}: run \`npx hardhat build\` first`, { cause: error });
  }
  const matches = entries.filter((entry) => basename(entry) === `${name}.json`);
  if (matches.length === 0) throw new DevnetError(`no artifact ${name}.json under ${dir}: run \`npx hardhat build\` first`);
  if (matches.length > 1) throw new DevnetError(`several artifacts named ${name}.json under ${dir}: ${matches.join(", ")}`);
  const artifact = JSON.parse(await readFile(join(dir, matches[0]!), "utf8")) as Partial<Artifact>;
  if (!Array.isArray(artifact.abi) || typeof artifact.bytecode !== "string" || !artifact.bytecode.startsWith("0x")) {
    throw new DevnetError(`${join(dir, matches[0]!)} is not a Hardhat artifact with abi and bytecode`);
  }
  return { contractName: name, abi: artifact.abi, bytecode: artifact.bytecode };
}
