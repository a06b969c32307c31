/**
 * Runs one relayer node from its configuration file until SIGINT/SIGTERM:
 *   npm run relayer -- --config path/to/node.json
 */
import { parseArgs } from "node:util";
import { privateKeyToAccount } from "viem/accounts";
import { loadNodeConfig, NodeConfigError } from "../relayer/config/nodeConfig.js";
import { WsTransport } from "../relayer/net/wsTransport.js";
import { RelayerNode } from "../relayer/node/relayerNode.js";

const { values } = parseArgs({ options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } } });
if (values.help || values.config === undefined) {
  console.log("usage: npm run relayer -- --config <node.json>\n\nRuns one relayer node (one validator of one chain) from its configuration file.");
  process.exit(values.help ? 0 : 2);
}

try {
  const config = await loadNodeConfig({ path: values.config });
  const members = new Set(config.chains.flatMap((c) => c.committee.map((m) => m.toLowerCase())));
  const transport = new WsTransport({
    account: privateKeyToAccount(config.key),
    listen: config.listen,
    peers: config.peers,
    allowed: (address) => members.has(address.toLowerCase()),
  });
  const node = new RelayerNode({ config, transport, log: (line) => console.log(`${new Date().toISOString()} ${line}`) });
  await node.start();
  if (node.metricsPort !== undefined) console.log(`metrics: http://${config.metrics!.host}:${node.metricsPort}/metrics and /status`);
  const stop = async (signal: string) => {
    console.log(`${signal}: stopping`);
    await node.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
} catch (error) {
  if (error instanceof NodeConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
