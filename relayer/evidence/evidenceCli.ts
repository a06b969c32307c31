import { readFile, writeFile } from "node:fs/promises";
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Hex, LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { readDevnetFile } from "../devnet/devnet.js";
import { DevnetError } from "../devnet/devnetError.js";
import { HARDHAT_ACCOUNT_3_KEY } from "../devnet/testAccounts.js";
import { RelayerError } from "../util/relayerError.js";
import { devnetTargets, EndpointListError, endpointClient, pairEndpoints, type ChainEndpoint, type Target } from "./chainEndpoint.js";
import { checkRegistries, type CheckResult } from "./checkRegistries.js";
import { decodeEvidence, encodeEvidence, EvidenceFileError } from "./evidenceFile.js";
import { describeFork, evidenceOf } from "./forkFinder.js";
import { describeSubmission, EvidenceRefusedError, submitEvidence, type Submission } from "./submitEvidence.js";
import { EXIT } from "../devnet/cliFailure.js";

/** The environment variable that may hold the key of whoever sends evidence (`--key` wins). */
export const EVIDENCE_KEY_ENV = "FIBC_KEY";

const ENDPOINTS_USAGE = "[--dir .devnet | --rpc <url> --registry <address> …]";

export const EVIDENCE_USAGE = `fibc evidence check ${ENDPOINTS_USAGE} [--out <evidence.json>] [--chain <chainId>] [--json]
       fibc evidence submit --file <evidence.json> (--to <chainId> … | --all) ${ENDPOINTS_USAGE} [--key 0x…] [--json]`;

/** One paragraph for `--help`. */
export const EVIDENCE_DESCRIPTION =
  "Fork evidence, for anyone. `check` reads every chain's ViewRegistry events from block 0 (each view it accepted, or froze a chain " +
  "for, and each freeze) and reports any two signed views of one chain that cannot both be its history, across registries and " +
  "within one, with the heights where they part and the chains that froze it already; --out writes the evidence of the first " +
  "forked chain (or of --chain) to a file. `submit` sends such a file (as `check` writes it, or a relayer's log holding a " +
  "`fork evidence` line) to the registries of --to (repeatable) or of --all the chains but the forked one, and prints in words " +
  "what each chain did: frozen at which block, how much was slashed, the reward paid to the sender, or why it refused. Before " +
  "any transaction it checks the evidence (two views of one chain that conflict) and every target chain (its endpoint answers, " +
  "the chain is registered there and not frozen, both views carry a quorum of its committee's signatures, the call would not " +
  "revert); if any target refuses, nothing is sent anywhere. Chains come from <dir>/devnet.json, or from --rpc and --registry " +
  "pairs in order. The sender's key: --key, else $" +
  EVIDENCE_KEY_ENV +
  ", else devnet.json's third user, else Hardhat's and Anvil's test account #3 (0x90F79bf6EB2c4f870365E785982E1f101E93b906). " +
  "--json prints one JSON object instead of words. Exit codes: 0 check read every registry / submit froze the chain on at least " +
  "one target and no target refused; 1 a registry could not be read / the evidence or a target refused, or every target had " +
  "frozen the chain already (nothing sent); 2 usage.";

/** A usage error of `fibc evidence` or `fibc watch`: the command prints it with its usage and exits 2. */
export class EvidenceUsageError extends RelayerError {}

/** --dir, or --rpc and --registry pairs: the chains `evidence` and `watch` read, for parseArgs. */
export const ENDPOINT_OPTIONS = {
  dir: { type: "string", default: ".devnet" },
  rpc: { type: "string", multiple: true },
  registry: { type: "string", multiple: true },
} as const;

/** The chains named by --dir or by --rpc/--registry pairs: with chain ids from devnet.json, or without (asked later). */
export async function chainsOf(values: { dir: string; rpc?: string[] | undefined; registry?: string[] | undefined }): Promise<(ChainEndpoint & { chainId?: bigint })[]> {
  if (values.rpc === undefined && values.registry === undefined) return devnetTargets(values.dir);
  try {
    return pairEndpoints(values.rpc ?? [], values.registry ?? []);
  } catch (error) {
    if (error instanceof EndpointListError) throw new EvidenceUsageError(error.message);
    throw error;
  }
}

/** The sender's account: --key, $FIBC_KEY, devnet.json's third user, or Hardhat's test account #3. */
export async function senderOf(values: { dir: string; key?: string | undefined; rpc?: string[] | undefined }): Promise<LocalAccount> {
  let key = values.key ?? process.env[EVIDENCE_KEY_ENV];
  if (key === undefined && values.rpc === undefined) {
    const users = (await readDevnetFile(values.dir).catch(() => undefined) as { users?: { key: Hex }[] } | undefined)?.users;
    key = users?.[2]?.key;
  }
  key ??= HARDHAT_ACCOUNT_3_KEY;
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new EvidenceUsageError(`the sender's key (--key or $${EVIDENCE_KEY_ENV}) must be 32 bytes of 0x-hex`);
  return privateKeyToAccount(key as Hex);
}

/** `fibc evidence <check|submit> [options]`: resolves with the exit code. */
export async function evidenceMain(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "--help" || sub === "-h") {
    console.log(`usage: ${EVIDENCE_USAGE}\n\n${EVIDENCE_DESCRIPTION}`);
    return 0;
  }
  try {
    if (sub === "check") return await check(rest);
    if (sub === "submit") return await submit(rest);
    throw new EvidenceUsageError(sub === undefined ? "fibc evidence: say check or submit" : `fibc evidence: unknown subcommand ${JSON.stringify(sub)}; it is check or submit`);
  } catch (error) {
    if (error instanceof EvidenceUsageError) {
      console.error(`${error.message}\nusage: ${EVIDENCE_USAGE}`);
      return 2;
    }
    if (error instanceof DevnetError) {
      console.error(`fibc evidence: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

/** parseArgs with the endpoint options, --help and --json; throws EvidenceUsageError on unknown or malformed options. */
function parse<O extends NonNullable<ParseArgsConfig["options"]>>(prog: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...options, ...ENDPOINT_OPTIONS, help: { type: "boolean", short: "h" }, json: { type: "boolean", default: false } } as const, strict: true, allowPositionals: false });
  } catch (error) {
    throw new EvidenceUsageError(`${prog}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function check(args: string[]): Promise<number> {
  const { values } = parse("fibc evidence check", args, { out: { type: "string" }, chain: { type: "string" } });
  if (values.help) {
    console.log(`usage: ${EVIDENCE_USAGE}\n\n${EVIDENCE_DESCRIPTION}`);
    return 0;
  }
  if (values.chain !== undefined && !/^[0-9]+$/.test(values.chain)) throw new EvidenceUsageError(`fibc evidence check: --chain must be a chain id, got ${JSON.stringify(values.chain)}`);
  const result = await checkRegistries(await chainsOf(values));
  const chosen = values.chain === undefined ? result.forks[0] : result.forks.find((f) => f.chainId === BigInt(values.chain!));
  if (values.out !== undefined && chosen !== undefined) await writeFile(values.out, encodeEvidence(evidenceOf(chosen), 2) + "\n");
  const unread = result.registries.filter((r) => r.error !== undefined);
  if (values.json) console.log(JSON.stringify(checkJson(result), null, 2));
  else {
    for (const r of result.registries) {
      console.log(r.error !== undefined ? `registry ${r.registry} on ${r.url}: not read: ${r.error}` : `chain ${r.chainId}: ${r.views} signed views in registry ${r.registry} up to block ${r.head}`);
    }
    for (const fork of result.forks) {
      const frozen = fork.frozenOn.length === 0 ? "frozen nowhere yet" : `frozen on chain${fork.frozenOn.length > 1 ? "s" : ""} ${fork.frozenOn.join(", ")}`;
      console.log(`FORK: ${describeFork(fork)} (${fork.pairs} conflicting pair${fork.pairs > 1 ? "s" : ""} of views; ${frozen})`);
    }
    if (result.forks.length === 0) console.log(`no fork: no two views of one chain conflict in ${result.registries.length - unread.length} registr${result.registries.length - unread.length === 1 ? "y" : "ies"}`);
    if (values.out !== undefined) {
      console.log(chosen !== undefined ? `evidence against chain ${chosen.chainId} written to ${values.out}: \`fibc evidence submit --file ${values.out} --all\` sends it` : `no evidence written: ${values.chain === undefined ? "no fork" : `no fork of chain ${values.chain}`}`);
    }
  }
  return unread.length === 0 ? 0 : 1;
}

async function submit(args: string[]): Promise<number> {
  const { values } = parse("fibc evidence submit", args, { file: { type: "string" }, to: { type: "string", multiple: true }, all: { type: "boolean", default: false }, key: { type: "string" } });
  if (values.help) {
    console.log(`usage: ${EVIDENCE_USAGE}\n\n${EVIDENCE_DESCRIPTION}`);
    return 0;
  }
  const prog = "fibc evidence submit";
  if (values.file === undefined || values.file === "") throw new EvidenceUsageError(`${prog}: --file <evidence.json> is required`);
  if (values.all === (values.to !== undefined)) throw new EvidenceUsageError(`${prog}: say where: --to <chainId> (repeatable) or --all`);
  for (const id of values.to ?? []) if (!/^[0-9]+$/.test(id)) throw new EvidenceUsageError(`${prog}: --to must be a chain id, got ${JSON.stringify(id)}`);
  const account = await senderOf(values);
  const chains = await chainsOf(values);

  // The exit codes of every fibc command (cliFailure's EXIT): an endpoint that does not answer is 4, a contract's refusal 3.
  const fail = (code: string, message: string): number => {
    if (values.json) console.log(JSON.stringify({ error: { code, message } }, null, 2));
    else console.error(`${prog}: ${message}`);
    return code === "endpoint-down" ? EXIT.unreachable : code === "refused-by-contract" ? EXIT.refused : EXIT.failed;
  };
  let text: string;
  try {
    text = await readFile(values.file, "utf8");
  } catch (error) {
    return fail("unreadable-file", `cannot read ${values.file}: ${(error as Error).message}`);
  }
  let evidence;
  try {
    evidence = decodeEvidence(text, values.file);
  } catch (error) {
    if (error instanceof EvidenceFileError) return fail("bad-file", error.message);
    throw error;
  }
  const forked = evidence.a.view.chainId;

  // The judging chains: their ids from devnet.json, or asked of each endpoint (one that does not answer stops everything).
  const known: Target[] = [];
  for (const c of chains) {
    if (c.chainId !== undefined) {
      known.push({ ...c, chainId: c.chainId });
      continue;
    }
    const id = await endpointClient(c.url).getChainId().catch(() => undefined);
    if (id === undefined) return fail("endpoint-down", `the endpoint ${c.url} does not answer: nothing sent`);
    known.push({ ...c, chainId: BigInt(id) });
  }
  let targets: Target[];
  if (values.all) targets = known.filter((t) => t.chainId !== forked);
  else {
    targets = [];
    for (const id of values.to!) {
      const target = known.find((t) => t.chainId === BigInt(id));
      if (target === undefined) throw new EvidenceUsageError(`${prog}: no chain ${id} among the endpoints (chains ${known.map((t) => t.chainId).join(", ")})`);
      targets.push(target);
    }
  }
  if (targets.length === 0) return fail("no-target", `no chain to send to: the only chain given is the forked chain ${forked}`);

  let results: Submission[];
  try {
    results = await submitEvidence({ evidence, targets, account });
  } catch (error) {
    if (error instanceof EvidenceRefusedError) return fail(error.code, `refused, nothing sent: ${error.message}`);
    throw error;
  }
  if (values.json) console.log(JSON.stringify({ chainId: forked.toString(), sender: account.address, results }, (_, v) => (typeof v === "bigint" ? v.toString() : v), 2));
  else for (const r of results) console.log(describeSubmission(r, forked, account.address));
  const froze = results.some((r) => r.outcome === "frozen");
  const refused = results.some((r) => r.outcome === "refused");
  return froze && !refused ? EXIT.done : EXIT.failed;
}

function checkJson({ registries, forks }: CheckResult) {
  const s = (v: bigint | undefined) => (v === undefined ? null : v.toString());
  return {
    registries: registries.map((r) => ({ chainId: s(r.chainId), url: r.url, registry: r.registry, head: s(r.head), views: r.views, ...(r.error === undefined ? {} : { error: r.error }) })),
    forks: forks.map((f) => ({
      chainId: f.chainId.toString(),
      parting: { from: f.parting.from.toString(), to: f.parting.to.toString() },
      a: { height: f.a.view.height.toString(), on: f.a.on.toString(), block: f.a.blockNumber.toString() },
      b: { height: f.b.view.height.toString(), on: f.b.on.toString(), block: f.b.blockNumber.toString() },
      pairs: f.pairs,
      frozenOn: f.frozenOn.map(String),
      evidence: JSON.parse(encodeEvidence(evidenceOf(f))),
    })),
  };
}
