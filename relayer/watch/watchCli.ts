import { parseArgs } from "node:util";
import { readDevnetFile } from "../devnet/devnet.js";
import { chainsOf, ENDPOINT_OPTIONS, EVIDENCE_KEY_ENV, EvidenceUsageError, senderOf } from "../evidence/evidenceCli.js";
import { EXIT_WITH_PID_ENV } from "../node/runNode.js";
import { isAlive } from "../util/isAlive.js";
import { RelayerError } from "../util/relayerError.js";
import { Watchtower } from "./watchtower.js";

export const WATCH_USAGE = "fibc watch [--dir .devnet | --rpc <url> --registry <address> …] [--key 0x…] [--poll-ms <ms>] [--metrics-host 127.0.0.1] [--metrics-port 9200]";

/** One paragraph for `--help`. */
export const WATCH_DESCRIPTION =
  "A watchtower: anyone's fork detector, with no validator key and no place in the overlay, only the chains' JSON-RPC endpoints. " +
  "It follows every chain's ViewRegistry events (from block 0, then each poll), finds two signed views of a chain that cannot both be " +
  "its history, across registries (chain B's view accepted on A against the one accepted on C) and within one, logs the fork with " +
  "its evidence, and submits it to every chain where B is not frozen yet, taking the reporter's reward there. Before each " +
  "transaction it reads the registry at the pending block and simulates the call, so a watchtower beside it, or itself restarted, " +
  "sends nothing that already landed; an endpoint that goes away is polled until it returns. It serves GET /metrics and " +
  "GET /status like a relayer (status: each chain's endpoint, head and the block read to; each fork, where it parts and where it " +
  "stands on every chain). Chains come from <dir>/devnet.json, or from --rpc and --registry pairs in order; --poll-ms defaults to " +
  "the devnet's block time, else 1000. The sender's key: --key, else $" +
  EVIDENCE_KEY_ENV +
  ", else devnet.json's third user, else Hardhat's and Anvil's test account #3. Runs until SIGINT or SIGTERM (exit 0).";

const say = (line: string) => console.log(`${new Date().toISOString()} ${line}`);

/** `fibc watch [options]`: resolves with the exit code of a usage or devnet error; otherwise runs until a signal ends the process. */
export async function watchMain(args: string[]): Promise<number> {
  try {
    let values;
    try {
      values = parseArgs({
        args,
        options: { ...ENDPOINT_OPTIONS, key: { type: "string" }, "poll-ms": { type: "string" }, "metrics-host": { type: "string", default: "127.0.0.1" }, "metrics-port": { type: "string", default: "9200" }, help: { type: "boolean", short: "h" } },
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (error) {
      throw new EvidenceUsageError(`fibc watch: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (values.help) {
      console.log(`usage: ${WATCH_USAGE}\n\n${WATCH_DESCRIPTION}`);
      return 0;
    }
    for (const name of ["poll-ms", "metrics-port"] as const) {
      const text = values[name];
      if (text !== undefined && !/^[0-9]+$/.test(text)) throw new EvidenceUsageError(`fibc watch: --${name} must be a whole number, got ${JSON.stringify(text)}`);
    }
    const chains = await chainsOf(values);
    const blockMs = values.rpc === undefined ? (await readDevnetFile(values.dir)).blockMs : undefined;
    const pollMs = values["poll-ms"] !== undefined ? Math.max(50, Number(values["poll-ms"])) : (blockMs ?? 1_000);
    const watchtower = new Watchtower({
      chains,
      account: await senderOf(values),
      pollMs,
      metrics: { host: values["metrics-host"], port: Number(values["metrics-port"]) },
      log: say,
    });
    await watchtower.start();
    say(`metrics: http://${values["metrics-host"]}:${watchtower.metricsPort}/metrics and /status`);
    await untilStopped(watchtower);
    return 0;
  } catch (error) {
    if (error instanceof EvidenceUsageError) {
      console.error(`${error.message}\nusage: ${WATCH_USAGE}`);
      return 2;
    }
    // No devnet in --dir, a metrics port in use: the project's own errors, written for the user.
    if (error instanceof RelayerError) {
      console.error(`fibc watch: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

/** Resolves once SIGINT or SIGTERM stopped the watchtower, or the process named by FIBC_EXIT_WITH_PID is gone. */
function untilStopped(watchtower: Watchtower): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      say(`${why}: stopping`);
      void watchtower.stop().then(resolve);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
    const parent = Number(process.env[EXIT_WITH_PID_ENV]);
    if (Number.isInteger(parent) && parent > 0) {
      const check = setInterval(() => {
        if (isAlive(parent)) return;
        clearInterval(check);
        stop(`process ${parent} that started this watchtower is gone`);
      }, 1_000);
      check.unref();
    }
  });
}
