/**
 * Makes a chain misbehave as the paper's section VI.B describes, against running endpoints:
 *   npm run attack -- --config attack.json
 * (also `fibc attack --config …`; the work and the file's layout are in relayer/attack/runAttack.ts)
 */
import { parseArgs } from "node:util";
import { AttackConfigError, RUN_ATTACK_DESCRIPTION, runAttack } from "../relayer/attack/runAttack.js";

const { values } = parseArgs({ options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } } });
if (values.help || values.config === undefined) {
  console.log(`usage: npm run attack -- --config <attack.json>\n\n${RUN_ATTACK_DESCRIPTION}`);
  process.exit(values.help ? 0 : 2);
}
try {
  console.log(JSON.stringify(await runAttack({ config: values.config })));
} catch (error) {
  if (!(error instanceof AttackConfigError)) throw error;
  for (const issue of error.issues) console.error(issue);
  process.exit(2);
}
