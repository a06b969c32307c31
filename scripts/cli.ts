/**
 * `fibc`: one command line for the devnet, deploying on running chains, a relayer node, the fork attack and a swap. bin/fibc.js runs this file with tsx
 * under the repository's Node 24. Each subcommand is a thin wrapper over a library function; `fibc <command> --help` describes it.
 * Exit codes (EXIT in relayer/devnet/cliFailure.ts): 0 done, 1 failed (or a swap that did not release on both sides), 2 usage
 * error, 3 a contract refused a transaction (its error decoded and said in words), 4 a chain's endpoint did not answer.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { AttackConfigError, RUN_ATTACK_DESCRIPTION, runAttack } from "../relayer/attack/runAttack.js";
import { NodeConfigError } from "../relayer/config/nodeConfig.js";
import { Devnet, readDevnetFile } from "../relayer/devnet/devnet.js";
import { LOAD_DESCRIPTION, LOAD_USAGE, loadMain } from "../relayer/load/loadCli.js";
import { DEPLOY_DESCRIPTION, DEPLOY_USAGE, deployMain, DEVNET_DESCRIPTION, DEVNET_OPTIONS_USAGE, devnetMain, printDevnetStatus } from "../relayer/devnet/devnetCli.js";
import { DashboardServer } from "../relayer/dashboard/dashboardServer.js";
import { cliFailure, EXIT, EXIT_CODES_HELP, failureJson } from "../relayer/devnet/cliFailure.js";
import { DevnetError } from "../relayer/devnet/devnetError.js";
import { ProgressLine } from "../relayer/devnet/progressLine.js";
import { devnetSwapSides, formatSwapAmount, parseSwapAmount, runSwap, type SwapBalances, type SwapResult, type SwapWaitState } from "../relayer/devnet/swap.js";
import { toJson } from "../relayer/devnet/toJson.js";
import { RUN_NODE_DESCRIPTION, runNode } from "../relayer/node/runNode.js";
import { EVIDENCE_DESCRIPTION, EVIDENCE_USAGE, evidenceMain } from "../relayer/evidence/evidenceCli.js";
import { WATCH_DESCRIPTION, WATCH_USAGE, watchMain } from "../relayer/watch/watchCli.js";
import { RelayerError } from "../relayer/util/relayerError.js";

const SWAP_DESCRIPTION =
  "An atomic swap between two chains of a running devnet, done by two users alone: the payer on --from gives --give there to the " +
  "payer on --to, who gives --get on --to in return. It reads <dir>/devnet.json (chain URLs, Gateway and TestToken addresses; the " +
  "payers' keys from its `users` when present, otherwise Hardhat's well-known test accounts #1 " +
  "(0x70997970C51812dc3A010C7d01b50e0d17dc79C8, payer on --from) and #2 (0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC, payer on --to)), " +
  "builds the two mirror registrations (transaction hashes and contract ids by eth_call on each Gateway), mints missing test tokens, " +
  "approves, registers both sides, and prints the two contract ids. Each side expires --ttl blocks after its chain's head and must " +
  "be registered within half of them (its registerBy; the other side's mirrorBy). A Gateway takes an expiry of at most its " +
  "maximum lifetime past the newest view of the other chain its registry accepted: if a registry has fallen that far behind, " +
  "the swap first posts a view of the other chain's head there, signed with the committee keys devnet.json holds. Unless " +
  "--no-wait it then polls both records until the relayers have released (or refunded, or cancelled) both, and prints the outcome " +
  "with the payers' balances before and after; it exits 0 only when both sides are released. Amounts are <number><token|coin> " +
  "in whole units of 18 decimals: 100token is 100 test tokens, 1.5coin is 1.5 ETH of the chain's native coin. While it waits, a " +
  "terminal shows a live line with each side's status and its chain's head against the expiry. With --json, stdout carries one JSON " +
  "object (both sides' chain, contract id, registration and outcome, the balances before and after, `released`) and the steps go to " +
  "stderr; a failure prints {error, exitCode, revert} there. A contract's refusal is said in words (exit code 3).";

const STATUS_DESCRIPTION =
  "Each chain's process and head height, and each relayer's certified height, tasks and peers: the same as `fibc devnet status`. " +
  "With --json, the same as one JSON object ({chains, relayers}).";

/** The last line of the --help of a command that serves until stopped, so has no result to print and no --json. */
const NO_RESULT = "It serves until stopped and has no result to print, so it takes no --json.";

const ATTACK_DESCRIPTION =
  `${RUN_ATTACK_DESCRIPTION}\n\nWith --json, stdout carries that summary alone and the steps go to stderr; a failure prints ` +
  "{error, exitCode, revert} there (a bad attack.json: exit code 2).";

const DASHBOARD_DESCRIPTION =
  "Serves a web page of the devnet in <dir> (devnet.json: any devnet `fibc devnet up` or `fibc deploy` started, here or elsewhere) " +
  "that updates itself every second over server-sent events: each chain's head, block time, committee (threshold, scheme, k) and, " +
  "as every other chain's registry sees it, its bond, the cover that bond gives open swaps and whether it is frozen; for each relayer " +
  "how many blocks behind it sees each chain; every swap's two sides and where each is (registered, committed, released, refunded, " +
  "cancelled), linked to each other; each chain's waiting list by expiry; messages per second by kind, bytes and refused messages per " +
  "relayer; fork evidence (which chain froze which, on what evidence, the slash split) and compensation claims. It reads the chains' " +
  "JSON-RPC and the relayers' GET /status only. `fibc devnet up`, `fibc deploy` and `npm run demo` start one themselves and print " +
  "its URL. Runs until Ctrl-C.\n\n" +
  NO_RESULT;

type Command = { summary: string; usage: string; description: string; run: (args: string[]) => Promise<number> };

const COMMANDS: Record<string, Command> = {
  devnet: {
    summary: "start, stop or inspect a devnet of real processes",
    usage: `fibc devnet <up|down|status> [options]\n${DEVNET_OPTIONS_USAGE}`,
    description: DEVNET_DESCRIPTION,
    run: (args) => devnetMain(args, "fibc devnet"),
  },
  deploy: {
    summary: "deploy, register and start relayers on chains already running (any JSON-RPC endpoints)",
    usage: DEPLOY_USAGE,
    description: DEPLOY_DESCRIPTION,
    run: deployMain,
  },
  node: {
    summary: "run one relayer node from its configuration file",
    usage: "fibc node --config <node.json>",
    description: `${RUN_NODE_DESCRIPTION}\n\n${NO_RESULT}`,
    run: nodeCommand,
  },
  attack: {
    summary: "the fork attack of section VI.B against running endpoints",
    usage: "fibc attack --config <attack.json> [--json]",
    description: ATTACK_DESCRIPTION,
    run: attackCommand,
  },
  swap: {
    summary: "an atomic swap between two devnet chains, registered by two test users",
    usage: "fibc swap [--dir .devnet] --from <chainId> --to <chainId> --give <amount><token|coin> --get <amount><token|coin> [--ttl 60] [--no-wait] [--json]",
    description: SWAP_DESCRIPTION,
    run: swapCommand,
  },
  evidence: {
    summary: "find fork evidence in the registries (check) and submit it (submit), for anyone",
    usage: EVIDENCE_USAGE,
    description: EVIDENCE_DESCRIPTION,
    run: evidenceMain,
  },
  watch: {
    summary: "a watchtower: finds forks in the registries' events and submits the evidence, no validator key",
    usage: WATCH_USAGE,
    description: `${WATCH_DESCRIPTION}\n\n${NO_RESULT}`,
    // Its --help is this entry's, which adds NO_RESULT to watchMain's own.
    run: (args) => (args.includes("--help") || args.includes("-h") ? Promise.resolve(printHelp("watch")) : watchMain(args)),
  },
  dashboard: {
    summary: "a live web page of a running devnet: chains, view-list gaps, swaps, messages, forks",
    usage: "fibc dashboard [--dir .devnet] [--port 8080] [--host 127.0.0.1]",
    description: DASHBOARD_DESCRIPTION,
    run: dashboardCommand,
  },
  load: {
    summary: "sustained swaps between every pair of chains, with faults injected (--chaos), and the history checked",
    usage: LOAD_USAGE,
    description: LOAD_DESCRIPTION,
    run: (args) => loadMain(args, "fibc load"),
  },
  status: {
    summary: "the devnet's chains and relayers (= devnet status)",
    usage: "fibc status [--dir .devnet] [--json]",
    description: STATUS_DESCRIPTION,
    run: statusCommand,
  },
};

const MAIN_USAGE = `usage: fibc <command> [options]

Finality-based inter-blockchain communication on EVM chains: a devnet of real processes, relayer nodes, the fork attack and swaps.

commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`).join("\n")}

\`fibc <command> --help\` describes a command.

${EXIT_CODES_HELP}`;

class UsageError extends RelayerError {}

function help(name: string): string {
  const c = COMMANDS[name]!;
  return `usage: ${c.usage}\n\n${c.description}`;
}

/** parseArgs for a subcommand, with --help; throws UsageError on unknown or malformed options. */
function parse<O extends NonNullable<ParseArgsConfig["options"]>>(name: string, args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(`fibc ${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function required(name: string, values: Record<string, unknown>, option: string): string {
  const value = values[option];
  if (typeof value !== "string" || value === "") throw new UsageError(`fibc ${name}: --${option} is required`);
  return value;
}

async function nodeCommand(args: string[]): Promise<number> {
  const { values } = parse("node", args, { config: { type: "string", short: "c" } });
  if (values.help) return printHelp("node");
  try {
    await runNode({ config: required("node", values, "config") });
    return new Promise<number>(() => {}); // runs until SIGINT/SIGTERM, which exit the process
  } catch (error) {
    if (!(error instanceof NodeConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
}

async function attackCommand(args: string[]): Promise<number> {
  const { values } = parse("attack", args, { config: { type: "string", short: "c" }, json: { type: "boolean", default: false } });
  if (values.help) return printHelp("attack");
  try {
    // With --json the steps go to stderr and the summary alone to stdout; otherwise the summary is the last line, as documented.
    const summary = await runAttack({ config: required("attack", values, "config"), log: (line) => (values.json ? console.error : console.log)(line) });
    console.log(values.json ? toJson(summary) : JSON.stringify(summary));
    return EXIT.done;
  } catch (error) {
    if (!(error instanceof AttackConfigError)) throw error;
    console.error(error.message);
    if (values.json) console.log(failureJson({ message: error.message, exitCode: EXIT.usage }, error));
    return EXIT.usage;
  }
}

async function dashboardCommand(args: string[]): Promise<number> {
  const { values } = parse("dashboard", args, { dir: { type: "string", default: ".devnet" }, port: { type: "string", default: "8080" }, host: { type: "string", default: "127.0.0.1" } });
  if (values.help) return printHelp("dashboard");
  if (!/^[0-9]+$/.test(values.port) || Number(values.port) > 65_535) throw new UsageError(`fibc dashboard: --port must be a port number, got ${JSON.stringify(values.port)}`);
  const server = new DashboardServer({ dir: values.dir, port: Number(values.port), host: values.host });
  await server.start();
  console.log(`dashboard of ${values.dir}: ${server.url} (Ctrl-C stops it)`);
  return new Promise<number>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void server.stop().then(() => resolve(0)));
  });
}

async function statusCommand(args: string[]): Promise<number> {
  const { values } = parse("status", args, { dir: { type: "string", default: ".devnet" }, json: { type: "boolean", default: false } });
  if (values.help) return printHelp("status");
  await printDevnetStatus(new Devnet(), values.dir, values.json);
  return 0;
}

async function swapCommand(args: string[]): Promise<number> {
  const { values } = parse("swap", args, {
    dir: { type: "string", default: ".devnet" },
    from: { type: "string" },
    to: { type: "string" },
    give: { type: "string" },
    get: { type: "string" },
    ttl: { type: "string", default: "60" },
    "no-wait": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  });
  if (values.help) return printHelp("swap");
  const from = required("swap", values, "from");
  const to = required("swap", values, "to");
  let give, get;
  try {
    give = parseSwapAmount(required("swap", values, "give"));
    get = parseSwapAmount(required("swap", values, "get"));
  } catch (error) {
    if (error instanceof DevnetError) throw new UsageError(`fibc swap: ${error.message}`);
    throw error;
  }
  if (!/^[0-9]+$/.test(values.ttl) || Number(values.ttl) < 1) throw new UsageError(`fibc swap: --ttl must be a whole number of blocks ≥ 1, got ${JSON.stringify(values.ttl)}`);

  const file = await readDevnetFile(values.dir);
  const sides = devnetSwapSides(file, from, to, give, get);
  // With --json, stdout carries the result alone and the steps go to stderr; a terminal shows a live line while the swap waits.
  const progress = new ProgressLine(values.json ? process.stderr : process.stdout);
  const say = (line: string) => progress.log(`${new Date().toISOString()} ${line}`);
  say(`swap: ${formatSwapAmount(give)} on chain ${from} for ${formatSwapAmount(get)} on chain ${to}, ttl ${values.ttl} blocks`);
  const waiting = (sides: [SwapWaitState, SwapWaitState]) =>
    progress.update(`waiting for the relayers: ${sides.map((s) => `chain ${s.chainId} ${s.outcome} (block ${s.head}, expiry ${s.expiry})`).join(" · ")}`);
  let result;
  try {
    result = await runSwap({ ...sides, ttl: Number(values.ttl), wait: !values["no-wait"], log: say, progress: waiting });
  } finally {
    progress.done();
  }
  const released = result.from.outcome === "released" && result.to.outcome === "released";
  if (values.json) {
    console.log(toJson({ ...result, released }));
    return values["no-wait"] || released ? 0 : 1;
  }
  console.log(`contract on chain ${result.from.chainId}: ${result.from.contractId}`);
  console.log(`contract on chain ${result.to.chainId}: ${result.to.contractId}`);
  if (values["no-wait"]) return 0;
  console.log(`chain ${result.from.chainId}: ${result.from.outcome}`);
  console.log(`chain ${result.to.chainId}: ${result.to.outcome}`);
  printBalances(result, give.asset, get.asset);
  return released ? 0 : 1;
}

function printBalances(result: SwapResult, gives: string, gets: string): void {
  const after = result.after!;
  const line = (who: string, pick: (b: SwapBalances) => bigint, what: string) =>
    console.log(`  ${who.padEnd(60)} ${fmt(pick(result.before))} → ${fmt(pick(after))} ${what}`);
  const fmt = (v: bigint) => (Number(v) / 1e18).toLocaleString("en-US", { maximumFractionDigits: 6 });
  const x = result.from.chainId;
  const y = result.to.chainId;
  console.log("balances (before → after):");
  line(`${result.from.payer} on chain ${x}`, (b) => b.fromPayer.gives, gives);
  line(`${result.from.payer} on chain ${y}`, (b) => b.fromPayer.gets, gets);
  line(`${result.to.payer} on chain ${y}`, (b) => b.toPayer.gives, gets);
  line(`${result.to.payer} on chain ${x}`, (b) => b.toPayer.gets, gives);
}

function printHelp(name: string): number {
  console.log(help(name));
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    if (name === "help" && rest[0] !== undefined && rest[0] in COMMANDS) return printHelp(rest[0]);
    if (name === undefined) {
      console.error(MAIN_USAGE);
      return 2;
    }
    console.log(MAIN_USAGE);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    console.error(`fibc: unknown command ${JSON.stringify(name)}; the commands are ${Object.keys(COMMANDS).join(", ")} (see fibc --help)`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    // A usage error, and every other failure in words: a revert as the contract's error and what it means, never raw hex.
    const failure = error instanceof UsageError ? { message: error.message, exitCode: EXIT.usage } : cliFailure(error, error instanceof RelayerError);
    console.error(error instanceof UsageError ? `${failure.message}\nusage: ${command.usage}` : `fibc ${name}: ${failure.message}`);
    if (rest.includes("--json")) console.log(failureJson(failure, error));
    return failure.exitCode;
  }
}

process.exitCode = await main(process.argv.slice(2));
