/**
 * Sustained swaps under faults: `npm run load -- [options]`, the same as `fibc load …` (see `--help`); the work is in
 * relayer/load/loadCli.ts.
 */
import { loadMain } from "../relayer/load/loadCli.js";

process.exitCode = await loadMain(process.argv.slice(2), "npm run load --");
