#!/usr/bin/env node
// The `fibc` command: runs scripts/cli.ts with the repository's tsx under its Node 24 (node_modules/.bin first on PATH),
// whatever `node` started this launcher; arguments, stdio, signals and the exit status pass through.
import { spawn } from "node:child_process";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "node_modules", ".bin");
const child = spawn(join(bin, "tsx"), [join(root, "scripts", "cli.ts"), ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` },
});
// Ctrl-C and a closed terminal signal the whole foreground group, the child included: the launcher only waits for it.
// SIGTERM (e.g. `kill <pid>` of the launcher) is passed on.
process.on("SIGINT", () => {});
process.on("SIGHUP", () => {});
process.on("SIGTERM", () => {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
});
child.on("error", (error) => {
  console.error(`fibc: cannot start ${join(bin, "tsx")} (run npm install first?): ${error.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  if (signal !== null) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else process.exit(code ?? 1);
});
