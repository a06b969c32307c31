/**
 * A devnet of real processes: one `hardhat node` per chain, contracts deployed, every chain registered
 * and bonded on every other, one relayer configuration and (unless --no-relayers) one relayer process per validator.
 *   tsx scripts/devnet.ts up [--chains 3] [--validators 4] [--base-port 8545] [--k 16] [--block-ms 500] [--dir .devnet] [--no-relayers]
 *   tsx scripts/devnet.ts status [--dir .devnet]
 *   tsx scripts/devnet.ts down [--dir .devnet]
 * `up` stays in the foreground with the chains and relayers; Ctrl-C (or `down` from another shell) stops them, relayers first.
 * Relayer logs: <dir>/logs/relayer-<chainId>-<address>.log.
 */
import { parseArgs } from "node:util";
import { Devnet } from "../relayer/devnet/devnet.js";
import { DevnetError } from "../relayer/devnet/devnetError.js";

const USAGE = `usage: tsx scripts/devnet.ts <up|down|status> [options]
  up      [--chains 3] [--validators 4] [--base-port 8545] [--k 16] [--block-ms 500] [--dir .devnet] [--no-relayers]
  status  [--dir .devnet]
  down    [--dir .devnet]`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    chains: { type: "string", default: "3" },
    validators: { type: "string", default: "4" },
    "base-port": { type: "string", default: "8545" },
    k: { type: "string", default: "16" },
    "block-ms": { type: "string", default: "500" },
    dir: { type: "string", default: ".devnet" },
    "no-relayers": { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
const command = positionals[0];
if (values.help || positionals.length !== 1 || !["up", "down", "status"].includes(command!)) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 2);
}

const say = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
const devnet = new Devnet({ log: say });
const dir = values.dir;

try {
  if (command === "up") await up();
  else if (command === "down") say(`${await devnet.down({ dir })} process(es) stopped`);
  else await status();
} catch (error) {
  if (!(error instanceof DevnetError)) throw error;
  console.error(error.message);
  process.exit(1);
}

async function up(): Promise<void> {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping the relayers and the chains`);
    await devnet.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGHUP", () => void stop("SIGHUP"));

  const file = await devnet.up({
    chains: int("chains"),
    validatorsPerChain: int("validators"),
    basePort: int("base-port"),
    k: int("k"),
    blockMs: int("block-ms"),
    dir,
    relayers: !values["no-relayers"],
  });
  if (file.relayers.length > 0) say(`${file.chains.length} chains and ${file.relayers.length} relayers up; \`tsx scripts/devnet.ts status --dir ${dir}\` shows them`);
  else say(`${file.chains.length} chains up; relayers: npm run relayer -- --config <one of ${file.nodeConfigs.length} files in ${dir}/nodes>`);
  say(`Ctrl-C here, or \`tsx scripts/devnet.ts down --dir ${dir}\` elsewhere, stops the devnet`);
  for (const r of devnet.relayers) void r.exited.then((how) => !stopping && say(`relayer ${r.config} (pid ${r.pid}) exited: ${how}; see ${r.logFile}`));
  await Promise.all(devnet.chains.map((c) => c.exited.then((how) => say(`chain ${c.chainId} (pid ${c.pid}) exited: ${how}`))));
  if (!stopping) say("every chain has stopped");
}

async function status(): Promise<void> {
  const { chains, relayers } = await devnet.status({ dir });
  for (const c of chains) {
    console.log(`chain ${c.chainId}  ${c.url}  pid ${c.pid}  ${c.alive ? "alive" : "not running"}${c.height === undefined ? "" : `  height ${c.height}`}`);
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

function int(name: "chains" | "validators" | "base-port" | "k" | "block-ms"): number {
  const text = values[name];
  if (!/^[0-9]+$/.test(text)) throw new DevnetError(`--${name} must be a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}
