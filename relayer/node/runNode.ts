import { loadNodeConfig } from "../config/nodeConfig.js";
import type { TransportRefusal } from "../net/refusalReason.js";
import { WsTransport } from "../net/wsTransport.js";
import { isAlive } from "../util/isAlive.js";
import { RelayerNode } from "./relayerNode.js";
import { relayerAccount } from "../util/relayerAccount.js";

/**
 * Environment variable naming the pid of the process that started this node (the devnet, the demo): when that process is gone,
 * however it ended, the node stops too, so that a killed devnet leaves no relayer behind.
 */
export const EXIT_WITH_PID_ENV = "FIBC_EXIT_WITH_PID";
const STOP_DEADLINE_MS = 5_000;
/** How often a node looks for the process that started it: each look wakes an idle node, about a millisecond of CPU here. */
const PARENT_CHECK_MS = 5_000;

/** One paragraph for `--help`. */
export const RUN_NODE_DESCRIPTION =
  "Runs one relayer node (one validator of one chain) from its configuration file until SIGINT or SIGTERM: it follows its chain, " +
  "co-signs its views, answers check() requests of other chains, gossips view lists and drives its chain's Gateway through the protocol.";

export type RunNodeParameters = {
  /** The node's configuration file. */
  config: string;
  /** One line per event; default timestamped on stdout. */
  log?: (line: string) => void;
};

/**
 * Starts the node of `config` and stops it (then exits the process with 0) on SIGINT or SIGTERM.
 * Throws NodeConfigError when the file is missing or invalid; resolves once the node runs.
 */
export async function runNode({ config: path, log = (line) => console.log(`${new Date().toISOString()} ${line}`) }: RunNodeParameters): Promise<RelayerNode> {
  const config = await loadNodeConfig({ path });
  const members = new Set(config.chains.flatMap((c) => c.committee.map((m) => m.toLowerCase())));
  // The node, and its metrics, are made after the transport; the transport refuses nothing before it starts.
  let countRefused: (reason: TransportRefusal) => void = () => {};
  const transport = new WsTransport({
    account: relayerAccount(config.key),
    listen: config.listen,
    peers: config.peers,
    allowed: (address) => members.has(address.toLowerCase()),
    onRefused: (reason) => countRefused(reason),
  });
  const node = new RelayerNode({ config, transport, log });
  countRefused = (reason) => node.metrics.countRejected({ reason: `transport ${reason}` });
  await node.start();
  if (node.metricsPort !== undefined) console.log(`metrics: http://${config.metrics!.host}:${node.metricsPort}/metrics and /status`);
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${why}: stopping`);
    // A dead RPC endpoint or peer must not keep the process alive: exit anyway once the deadline passes.
    const deadline = setTimeout(() => {
      console.log(`node did not stop within ${STOP_DEADLINE_MS} ms: exiting anyway`);
      process.exit(1);
    }, STOP_DEADLINE_MS);
    await node.stop();
    clearTimeout(deadline);
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  const parent = Number(process.env[EXIT_WITH_PID_ENV]);
  if (Number.isInteger(parent) && parent > 0) {
    const watch = setInterval(() => {
      if (isAlive(parent)) return;
      clearInterval(watch);
      void stop(`process ${parent} that started this node is gone`);
    }, PARENT_CHECK_MS);
    watch.unref();
  }
  return node;
}
