import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Hex } from "viem";
import { DEFAULT_GATEWAY_SETTINGS, type GatewaySettings } from "./deployChain.js";
import { Devnet, type DevnetFile } from "./devnet.js";
import { DashboardServer, openDashboard } from "../dashboard/dashboardServer.js";
import { cliFailure, EXIT, sayFailure } from "./cliFailure.js";
import { toJson } from "./toJson.js";
import { DevnetError } from "./devnetError.js";

/** One paragraph for `--help`. */
export const DEVNET_DESCRIPTION =
  "A devnet of real processes: `up` starts one `hardhat node` per chain, deploys ViewRegistry, Gateway and TestToken on each over " +
  "JSON-RPC, registers and bonds every chain on every other, writes <dir>/devnet.json and one relayer configuration per validator " +
  "(<dir>/nodes/<address>.json) and, unless --no-relayers, starts one relayer process per validator (logs in <dir>/logs/). `up` stays " +
  "in the foreground; Ctrl-C, or `down` from another shell, stops the relayers and then the chains. `status` shows each chain's head " +
  "and each relayer's certified height, tasks and peers. `up` also serves the devnet's dashboard (see `fibc dashboard`) on " +
  "--dashboard-port (default 8080, any free port when taken; --no-dashboard for none) and prints its URL. The Gateways' settings, in blocks: --compensation-window (a contract " +
  "terminated at most this long before its counterparty's freeze may claim compensation), --max-lifetime (the longest a " +
  "registration may run) and --claim-period (claims are filed for this long after a freeze, then paid; longer than --max-lifetime " +
  "plus --compensation-window). With --json, `up` prints one JSON object on stdout once the devnet is ready (each chain's URL, " +
  "registry, gateway and token, each relayer's status URL, the dashboard's URL; no keys: those are in devnet.json) and its log lines " +
  "on stderr; `down` prints {dir, stopped} (how many processes it stopped); a failure prints {error, exitCode, revert}.";

const GATEWAY_OPTIONS_USAGE = `[--compensation-window ${DEFAULT_GATEWAY_SETTINGS.compensationWindow}] [--max-lifetime ${DEFAULT_GATEWAY_SETTINGS.maxLifetime}] [--claim-period ${DEFAULT_GATEWAY_SETTINGS.claimPeriod}]`;

/** The dashboard's options of `up` and `deploy`, for parseArgs. */
const DASHBOARD_OPTIONS = {
  "dashboard-port": { type: "string", default: "8080" },
  "no-dashboard": { type: "boolean", default: false },
} as const;

/** The Gateway settings' options, for parseArgs. */
const GATEWAY_OPTIONS = {
  "compensation-window": { type: "string", default: DEFAULT_GATEWAY_SETTINGS.compensationWindow.toString() },
  "max-lifetime": { type: "string", default: DEFAULT_GATEWAY_SETTINGS.maxLifetime.toString() },
  "claim-period": { type: "string", default: DEFAULT_GATEWAY_SETTINGS.claimPeriod.toString() },
} as const;

/** The Gateway settings of parsed --compensation-window, --max-lifetime and --claim-period. */
function gatewayOptions(values: { "compensation-window": string; "max-lifetime": string; "claim-period": string }): GatewaySettings {
  const blocks = (name: keyof typeof values): bigint => {
    const text = values[name];
    if (!/^[0-9]+$/.test(text)) throw new DevnetError(`--${name} must be a whole number of blocks, got ${JSON.stringify(text)}`);
    return BigInt(text);
  };
  return { compensationWindow: blocks("compensation-window"), maxLifetime: blocks("max-lifetime"), claimPeriod: blocks("claim-period") };
}

/** The chain indices of --bls-chains ("0,2": the first and third chains' committees sign with BLS12-381), each below `chains`. */
function blsChainsOption(text: string, chains: number): number[] {
  if (text === "") return [];
  const indices = text.split(",").map((part) => part.trim());
  if (!indices.every((i) => /^[0-9]+$/.test(i) && Number(i) < chains)) {
    throw new DevnetError(`--bls-chains takes chain indices below --chains (${chains}), comma-separated, got ${JSON.stringify(text)}`);
  }
  return indices.map(Number);
}

/** The options after `<up|down|status>`, for `usage: <prog> …`. */
export const DEVNET_OPTIONS_USAGE = `  up      [--chains 3] [--validators 4] [--base-port 8545] [--k 16] [--block-ms 500] [--dir .devnet] [--no-relayers]
          [--bls-chains 2,…] ${GATEWAY_OPTIONS_USAGE}
          [--dashboard-port 8080] [--no-dashboard] [--json]
  status  [--dir .devnet] [--json]
  down    [--dir .devnet] [--json]`;

/** Timestamped log lines: on stdout, or on stderr under --json, where stdout carries the result alone. */
const sayer = (json: boolean) => (line: string) => (json ? console.error : console.log)(`${new Date().toISOString()} ${line}`);


/** What `up` and `deploy --json` print once the devnet is ready: where each chain, contract, relayer and the dashboard is. No keys. */
function devnetSummary(dir: string, file: DevnetFile, dashboard: string | undefined) {
  return {
    dir: resolve(dir),
    chains: file.chains.map((c) => ({
      chainId: c.chainId,
      url: c.url,
      registry: c.registry,
      gateway: c.gateway,
      token: c.token,
      scheme: c.scheme ?? "ECDSA",
      ...(c.process === undefined ? {} : { pid: c.process.pid }),
    })),
    relayers: file.relayers.map((r) => ({ chainId: r.chainId, address: r.address, statusUrl: r.statusUrl, pid: r.process.pid, log: r.log })),
    nodeConfigs: file.nodeConfigs,
    dashboard: dashboard ?? null,
  };
}

/**
 * `<up|down|status> [options]` (args without the program name): what scripts/devnet.ts and `fibc devnet` do. `prog` names the
 * command in messages ("tsx scripts/devnet.ts", "fibc devnet"). Resolves with the exit code (`up`: once every chain has stopped).
 */
export async function devnetMain(args: string[], prog: string): Promise<number> {
  const usage = `usage: ${prog} <up|down|status> [options]\n${DEVNET_OPTIONS_USAGE}`;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        chains: { type: "string", default: "3" },
        validators: { type: "string", default: "4" },
        "base-port": { type: "string", default: "8545" },
        k: { type: "string", default: "16" },
        "block-ms": { type: "string", default: "500" },
        dir: { type: "string", default: ".devnet" },
        "no-relayers": { type: "boolean", default: false },
        "bls-chains": { type: "string", default: "" },
        ...GATEWAY_OPTIONS,
        ...DASHBOARD_OPTIONS,
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return sayFailure({ message, exitCode: EXIT.usage }, error, args.includes("--json"), usage);
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help) {
    console.log(`${usage}\n\n${DEVNET_DESCRIPTION}`);
    return 0;
  }
  if (positionals.length !== 1 || !["up", "down", "status"].includes(command!)) {
    return sayFailure({ message: `${prog}: say up, down or status, once`, exitCode: EXIT.usage }, undefined, values.json, usage);
  }

  const say = sayer(values.json);
  const devnet = new Devnet({ log: say });
  const dir = values.dir;
  const int = (name: "chains" | "validators" | "base-port" | "k" | "block-ms"): number => {
    const text = values[name];
    if (!/^[0-9]+$/.test(text)) throw new DevnetError(`--${name} must be a whole number, got ${JSON.stringify(text)}`);
    return Number(text);
  };

  try {
    if (command === "up") {
      const params = {
        chains: int("chains"),
        validatorsPerChain: int("validators"),
        basePort: int("base-port"),
        k: int("k"),
        blockMs: int("block-ms"),
        relayers: !values["no-relayers"],
        dir,
        gateway: gatewayOptions(values),
        blsChains: blsChainsOption(values["bls-chains"], int("chains")),
      };
      await foreground({ devnet, prog, dir, start: () => devnet.up(params), dashboardPort: dashboardPort(values), json: values.json, say });
    } else if (command === "down") {
      const stopped = await devnet.down({ dir });
      say(`${stopped} process(es) stopped`);
      if (values.json) console.log(toJson({ dir: resolve(dir), stopped }));
    } else await printDevnetStatus(devnet, dir, values.json);
    return EXIT.done;
  } catch (error) {
    if (!(error instanceof DevnetError)) throw error;
    return sayFailure(cliFailure(error, true), error, values.json);
  }
}

/** The dashboard's port from --dashboard-port, or undefined with --no-dashboard. */
function dashboardPort(values: { "dashboard-port": string; "no-dashboard": boolean }): number | undefined {
  if (values["no-dashboard"]) return undefined;
  const text = values["dashboard-port"];
  if (!/^[0-9]+$/.test(text) || Number(text) > 65_535) throw new DevnetError(`--dashboard-port must be a port number, got ${JSON.stringify(text)}`);
  return Number(text);
}

type ForegroundParameters = {
  devnet: Devnet;
  prog: string;
  dir: string;
  start: () => Promise<DevnetFile>;
  /** Undefined: no dashboard. */
  dashboardPort: number | undefined;
  /** Print devnetSummary on stdout once ready. */
  json: boolean;
  say: (line: string) => void;
};

/**
 * Starts the devnet (`start`) and, unless `dashboardPort` is undefined, its dashboard (on that port or, when taken, any free one),
 * then stays in the foreground until its processes end or a signal stops them.
 */
async function foreground({ devnet, prog, dir, start, dashboardPort, json, say }: ForegroundParameters): Promise<void> {
  let stopping = false;
  let dashboard: DashboardServer | undefined;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping the relayers${devnet.chains.length > 0 ? " and the chains" : ""}`);
    await dashboard?.stop();
    await devnet.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGHUP", () => void stop("SIGHUP"));

  const file = await start();
  if (dashboardPort !== undefined) {
    dashboard = await openDashboard({ dir, port: dashboardPort });
    say(`dashboard: ${dashboard.url}`);
  }
  if (json) console.log(toJson(devnetSummary(dir, file, dashboard?.url)));
  if (file.relayers.length > 0) say(`${file.chains.length} chains and ${file.relayers.length} relayers up; \`${prog} status --dir ${dir}\` shows them`);
  else say(`${file.chains.length} chains ready; relayers: fibc node --config <one of ${file.nodeConfigs.length} files in ${dir}/nodes>`);
  if (devnet.chains.length === 0 && devnet.relayers.length === 0) return;
  say(`Ctrl-C here, or \`fibc devnet down --dir ${dir}\` elsewhere, stops ${devnet.chains.length > 0 ? "the devnet" : "the relayers"}`);
  for (const r of devnet.relayers) void r.exited.then((how) => !stopping && say(`relayer ${r.config} (pid ${r.pid}) exited: ${how}; see ${r.logFile}`));
  await Promise.all([
    ...devnet.chains.map((c) => c.exited.then((how) => say(`chain ${c.chainId} (pid ${c.pid}) exited: ${how}`))),
    ...(devnet.chains.length === 0 ? devnet.relayers.map((r) => r.exited) : []),
  ]);
  await dashboard?.stop();
  if (!stopping) say(devnet.chains.length > 0 ? "every chain has stopped" : "every relayer has stopped");
}

/** One paragraph for `--help`. */
export const DEPLOY_DESCRIPTION =
  "Deploys ViewRegistry, Gateway and TestToken on chains someone else runs (any EVM JSON-RPC endpoint: Hardhat, Anvil, a " +
  "testnet node; one --rpc per chain), registers and bonds every chain on every other, funds q validator keys per chain, writes " +
  "<dir>/devnet.json and one relayer configuration per validator, and, unless --no-relayers, starts one relayer process per " +
  "validator and stays in the foreground with them (Ctrl-C or `fibc devnet down` stops the relayers, never the chains). The " +
  "owner key (default the test account #0 of Hardhat and Anvil) pays for everything: (chains − 1) × 1000 ETH of bonds and " +
  "10 ETH per validator on each chain. The chains must mine blocks by themselves; --block-ms tells the relayers how often to look. " +
  "The Gateways' settings are those of `fibc devnet up` (--compensation-window, --max-lifetime, --claim-period, in blocks). " +
  "`fibc swap` and `fibc status` then work against <dir> as against a devnet `up` started. With --json, stdout carries one JSON object " +
  "once the relayers are up (as `fibc devnet up --json`) and the log lines go to stderr.";

export const DEPLOY_USAGE =
  "fibc deploy --rpc <url> --rpc <url> [--rpc <url>…] [--validators 4] [--base-port 9545] [--k 16] [--block-ms 1000] [--dir .devnet] [--owner-key 0x…] [--no-relayers] [--dashboard-port 8080] [--no-dashboard] [--json] " +
  GATEWAY_OPTIONS_USAGE;

/** `fibc deploy [options]`: resolves with the exit code (with relayers: once they have all stopped). */
export async function deployMain(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        rpc: { type: "string", multiple: true, default: [] },
        validators: { type: "string", default: "4" },
        "base-port": { type: "string", default: "9545" },
        k: { type: "string", default: "16" },
        "block-ms": { type: "string", default: "1000" },
        dir: { type: "string", default: ".devnet" },
        "owner-key": { type: "string" },
        "no-relayers": { type: "boolean", default: false },
        ...GATEWAY_OPTIONS,
        ...DASHBOARD_OPTIONS,
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    return sayFailure({ message: `fibc deploy: ${error instanceof Error ? error.message : String(error)}`, exitCode: EXIT.usage }, error, args.includes("--json"), `usage: ${DEPLOY_USAGE}`);
  }
  if (values.help) {
    console.log(`usage: ${DEPLOY_USAGE}\n\n${DEPLOY_DESCRIPTION}`);
    return 0;
  }
  const int = (name: "validators" | "base-port" | "k" | "block-ms"): number => {
    const text = values[name];
    if (!/^[0-9]+$/.test(text)) throw new DevnetError(`--${name} must be a whole number, got ${JSON.stringify(text)}`);
    return Number(text);
  };
  const ownerKey = values["owner-key"];
  const usageError = (message: string) => sayFailure({ message: `fibc deploy: ${message}`, exitCode: EXIT.usage }, undefined, values.json, `usage: ${DEPLOY_USAGE}`);
  if (ownerKey !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(ownerKey)) return usageError("--owner-key must be 32 bytes of hex (0x + 64 digits)");
  if (values.rpc.length < 2) return usageError("give at least two chains, one --rpc <url> each");
  const say = sayer(values.json);
  const devnet = new Devnet({ log: say });
  try {
    const params = {
      rpcUrls: values.rpc,
      validatorsPerChain: int("validators"),
      basePort: int("base-port"),
      k: int("k"),
      blockMs: int("block-ms"),
      dir: values.dir,
      relayers: !values["no-relayers"],
      gateway: gatewayOptions(values),
      ...(ownerKey === undefined ? {} : { ownerKey: ownerKey as Hex }),
    };
    await foreground({ devnet, prog: "fibc", dir: values.dir, start: () => devnet.deploy(params), dashboardPort: dashboardPort(values), json: values.json, say });
    return EXIT.done;
  } catch (error) {
    if (!(error instanceof DevnetError)) throw error;
    return sayFailure(cliFailure(error, true), error, values.json);
  }
}

/** Prints one line per chain (head) and per relayer (certified height, tasks, peers) of the devnet in `dir`; with `json`, the status as JSON. */
export async function printDevnetStatus(devnet: Devnet, dir: string, json = false): Promise<void> {
  const status = await devnet.status({ dir });
  if (json) {
    console.log(toJson(status));
    return;
  }
  const { chains, relayers } = status;
  for (const c of chains) {
    console.log(`chain ${c.chainId}  ${c.url}  ${c.pid === undefined ? "external" : `pid ${c.pid}`}  ${c.alive ? "alive" : "not running"}${c.height === undefined ? "" : `  height ${c.height}`}`);
  }
  for (const r of relayers) {
    const s = r.status;
    const detail =
      s === "down"
        ? "down"
        : `certified ${s.certifiedHeight ?? "none"} (head ${s.head})  tasks ${Object.entries(s.tasks).filter(([, n]) => n > 0).map(([state, n]) => `${state} ${n}`).join(", ") || "none"}  peers ${s.peers.connected}/${s.peers.expected}`;
    console.log(`relayer ${r.address} of chain ${r.chainId}  pid ${r.pid}  ${r.alive ? "alive" : "not running"}  ${detail}`);
  }
}
