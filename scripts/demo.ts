/**
 * The README's first command: the whole story on this machine, on separate processes talking over real sockets. It starts
 * one `hardhat node` per chain, deploys and registers the contracts, starts one relayer process per validator (WebSockets
 * between them), runs a swap between every pair of chains and one contract nobody matches, then makes one chain's committee
 * sign two branches and shows the gossip overlay getting it frozen and slashed everywhere; the harmed user files a claim and,
 * once the claim period is over (its blocks mined at once), is paid from the slashed bond.
 * Every process it started is stopped at the end, on an error and on Ctrl-C. Writes demo-report.json.
 *   npm run demo [-- --chains 3 --validators 4 --block-ms 500 --k 16 --ttl 60 --base-port 18545 --dir .devnet/demo --report demo-report.json
 *                   --compensation-window 80 --max-lifetime 120 --claim-period 210 --json]
 * A terminal shows a live line under the steps (the step, the swaps settled and in flight, the time); a pipe or CI gets plain
 * lines. With --json, stdout carries the report alone and the steps go to stderr; a failure prints {error, exitCode, revert}.
 * Exit code 0 when every matched swap settled, the unmatched contract was refunded, every honest chain froze the forked one,
 * the harmed user was compensated and the balances add up; 1 otherwise (2 on bad options; 3 or 4 as every fibc command).
 */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openDashboard } from "../relayer/dashboard/dashboardServer.js";
import { cliFailure, EXIT, failureJson } from "../relayer/devnet/cliFailure.js";
import { Devnet } from "../relayer/devnet/devnet.js";
import { ProgressLine } from "../relayer/devnet/progressLine.js";
import { DEMO_GATEWAY_SETTINGS, runStory } from "../relayer/devnet/story.js";
import type { SwapWaitState } from "../relayer/devnet/swap.js";
import { toJson } from "../relayer/devnet/toJson.js";
import { RelayerError } from "../relayer/util/relayerError.js";

const started = Date.now();
const json = process.argv.includes("--json");
// With --json, stdout carries the report alone; the steps, and the live line on a terminal, go to stderr.
const progress = new ProgressLine(json ? process.stderr : process.stdout);
const elapsed = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`;
/** The story's step ("step 3/5"), shown on the live line. */
let step = "starting";
const say = (line: string) => {
  step = /^(step \d+\/\d+)/.exec(line)?.[1] ?? step;
  progress.log(`${elapsed()} ${line}`);
};
/** Says a failure (and, with --json, prints it as JSON) and sets the exit code. */
const failed = (failure: { message: string; exitCode: number }, error: unknown) => {
  progress.done();
  console.error(`demo: ${failure.message}`);
  if (json) console.log(failureJson(failure, error));
  process.exitCode = failure.exitCode;
};

let parsed;
try {
  parsed = parseArgs({ options: {
    chains: { type: "string", default: "3" },
    validators: { type: "string", default: "4" },
    "block-ms": { type: "string", default: "500" },
    k: { type: "string", default: "16" },
    ttl: { type: "string", default: "60" },
    "base-port": { type: "string", default: "18545" },
    dir: { type: "string", default: ".devnet/demo" },
    report: { type: "string", default: fileURLToPath(new URL("../demo-report.json", import.meta.url)) },
    "compensation-window": { type: "string", default: DEMO_GATEWAY_SETTINGS.compensationWindow.toString() },
    "max-lifetime": { type: "string", default: DEMO_GATEWAY_SETTINGS.maxLifetime.toString() },
    "claim-period": { type: "string", default: DEMO_GATEWAY_SETTINGS.claimPeriod.toString() },
    json: { type: "boolean", default: false },
  } });
} catch (error) {
  failed({ message: error instanceof Error ? error.message : String(error), exitCode: EXIT.usage }, error);
  process.exit();
}
const { values } = parsed;
const REPORT = resolve(values.report);
const int = (name: "chains" | "validators" | "block-ms" | "k" | "ttl" | "base-port" | "compensation-window" | "max-lifetime" | "claim-period"): number => {
  const text = values[name];
  if (!/^[0-9]+$/.test(text)) {
    failed({ message: `--${name} must be a whole number, got ${JSON.stringify(text)}`, exitCode: EXIT.usage }, undefined);
    process.exit();
  }
  return Number(text);
};
// Every option is checked before anything starts.
const story = {
  chains: int("chains"),
  validatorsPerChain: int("validators"),
  blockMs: int("block-ms"),
  k: int("k"),
  ttl: int("ttl"),
  basePort: int("base-port"),
  dir: resolve(values.dir),
  gateway: { compensationWindow: BigInt(int("compensation-window")), maxLifetime: BigInt(int("max-lifetime")), claimPeriod: BigInt(int("claim-period")) },
};

const devnet = new Devnet({ log: (line) => say(`  ${line}`) });
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    progress.done();
    say(`${signal}: stopping every chain and relayer process the demo started`);
    void devnet.stop().then(() => process.exit(130));
  });
}

// The dashboard shows the story as it runs; it reads <dir>/devnet.json once the story's devnet has written it.
const dashboard = await openDashboard({ dir: resolve(values.dir) });
say(`dashboard: ${dashboard.url}`);

/** Each swap the story waits for, by name, as its last poll saw it. */
const waits = new Map<string, [SwapWaitState, SwapWaitState]>();
const statusLine = () => {
  const all = [...waits.values()];
  const final = (s: SwapWaitState) => s.outcome === "released" || s.outcome === "refunded" || s.outcome === "cancelled";
  const settled = all.filter((sides) => sides.every((s) => s.outcome === "released")).length;
  const inFlight = all.filter((sides) => !sides.every(final));
  const heads = inFlight.flatMap((sides) => sides.filter((s) => !final(s)).map((s) => `${s.chainId} ${s.outcome} block ${s.head}/${s.expiry}`));
  const swapsPart = all.length === 0 ? "" : ` · swaps: ${settled} settled, ${inFlight.length} in flight${heads.length > 0 ? ` (${[...new Set(heads)].join(", ")})` : ""}`;
  return `${elapsed()} ${step}${swapsPart}`;
};
// The live line is redrawn every second (the time moves) and at every poll of a swap.
const ticker = progress.live ? setInterval(() => progress.update(statusLine()), 1_000) : undefined;
try {
  const report = await runStory({
    devnet,
    ...story,
    log: say,
    progress: (name, sides) => {
      waits.set(name, sides);
      progress.update(statusLine());
    },
  });
  clearInterval(ticker);
  progress.done();
  await writeFile(REPORT, `${JSON.stringify(report, null, 2)}\n`);
  const { swaps, fork } = report;
  say(`done in ${report.durationSeconds} s: ${swaps.settled} swaps settled, ${swaps.refunded} refunded, ${swaps.failed} failed`);
  const coin = (wei: string) => Number(wei) / 1e18;
  say(`fork of chain ${fork.chain}: frozen on ${fork.frozenOn.join(", ") || "no chain"} ${fork.detectedAfterBlocks} blocks after b2 was shown; ${coin(fork.slashed)} coin slashed (${coin(fork.reward)} reward, ${coin(fork.pool)} pool, ${coin(fork.burned)} burned)`);
  say(`compensation: ${coin(fork.compensationFiled)} coin claimed, ${coin(fork.compensationPaid)} paid after the claim period`);
  say(`messages per contract transaction: ${report.messagesPerTask.requests} requests, ${report.messagesPerTask.answers} answers, ${report.messagesPerTask.gossip} gossip`);
  say(`balances conserved: ${report.balancesConserved ? "yes" : `NO\n  ${report.balanceErrors.join("\n  ")}`}`);
  say(`report written to ${REPORT}`);
  if (json) console.log(toJson(report));
  process.exitCode = swaps.failed === 0 && fork.frozenOn.length === report.chains.length - 1 && BigInt(fork.compensated) > 0n && report.balancesConserved ? 0 : 1;
} catch (error) {
  failed(cliFailure(error, error instanceof RelayerError), error);
} finally {
  clearInterval(ticker);
  progress.done();
  say("stopping every chain and relayer process the demo started");
  await dashboard.stop();
  await devnet.stop();
}
