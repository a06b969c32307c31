import { privateKeyToAccount } from "viem/accounts";
import { loadNodeConfig } from "../config/nodeConfig.js";
import { WsTransport } from "../net/wsTransport.js";
import { RelayerNode } from "./relayerNode.js";

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
  const transport = new WsTransport({
    account: privateKeyToAccount(config.key),
    listen: config.listen,
    peers: config.peers,
    allowed: (address) => members.has(address.toLowerCase()),
  });
  const node = new RelayerNode({ config, transport, log });
  await node.start();
  if (node.metricsPort !== undefined) console.log(`metrics: http://${config.metrics!.host}:${node.metricsPort}/metrics and /status`);
  const stop = async (signal: string) => {
    console.log(`${signal}: stopping`);
    await node.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  return node;
}
