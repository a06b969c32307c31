/**
 * Runs one relayer node from its configuration file until SIGINT/SIGTERM:
 *   npm run relayer -- --config path/to/node.json
 * (also `fibc node --config …`; the work is in relayer/node/runNode.ts)
 */
import { parseArgs } from "node:util";
import { NodeConfigError } from "../relayer/config/nodeConfig.js";
import { RUN_NODE_DESCRIPTION, runNode } from "../relayer/node/runNode.js";

const { values } = parseArgs({ options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } } });
if (values.help || values.config === undefined) {
  console.log(`usage: npm run relayer -- --config <node.json>\n\n${RUN_NODE_DESCRIPTION}`);
  process.exit(values.help ? 0 : 2);
}

try {
  await runNode({ config: values.config });
} catch (error) {
  if (error instanceof NodeConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
