/**
 * The README's first command: the whole story on this machine, on separate processes talking over real sockets. It starts
 * one `hardhat node` per chain, deploys and registers the contracts, starts one relayer process per validator (WebSockets
 * between them), runs a swap between every pair of chains and one contract nobody matches, then makes one chain's committee
 * sign two branches and shows the gossip overlay getting it frozen and slashed everywhere; the harmed user files a claim and,
 * once the claim period is over (its blocks mined at once), is paid from the slashed bond.
 * Every process it started is stopped at the end, on an error and on Ctrl-C. Writes demo-report.json.
 *   npm run demo [-- --chains 3 --validators 4 --block-ms 500 --k 16 --ttl 60 --base-port 18545 --dir .devnet/demo --report demo-report.json
 *                   --compensation-window 80 --max-lifetime 120 --claim-period 210]
 * Exit code 0 when every matched swap settled, the unmatched contract was refunded, every honest chain froze the forked one,
 * the harmed user was compensated and the balances add up; 1 otherwise.
 */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openDashboard } from "../relayer/dashboard/dashboardServer.js";
import { Devnet } from "../relayer/devnet/devnet.js";
import { DevnetError } from "../relayer/devnet/devnetError.js";
import { DEMO_GATEWAY_SETTINGS, runStory } from "../relayer/devnet/story.js";

const started = Date.now();
const say = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);

const { values } = parseArgs({
  options: {
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
  },
});
const REPORT = resolve(values.report);
const int = (name: "chains" | "validators" | "block-ms" | "k" | "ttl" | "base-port" | "compensation-window" | "max-lifetime" | "claim-period"): number => {
  const text = values[name];
  if (!/^[0-9]+$/.test(text)) {
    console.error(`--${name} must be a whole number, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return Number(text);
};

const devnet = new Devnet({ log: (line) => say(`  ${line}`) });
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping every chain and relayer process the demo started`);
    void devnet.stop().then(() => process.exit(130));
  });
}

// The dashboard shows the story as it runs; it reads <dir>/devnet.json once the story's devnet has written it.
const dashboard = await openDashboard({ dir: resolve(values.dir) });
say(`dashboard: ${dashboard.url}`);
try {
  const report = await runStory({
    devnet,
    chains: int("chains"),
    validatorsPerChain: int("validators"),
    blockMs: int("block-ms"),
    k: int("k"),
    ttl: int("ttl"),
    basePort: int("base-port"),
    dir: resolve(values.dir),
    gateway: {
      compensationWindow: BigInt(int("compensation-window")),
      maxLifetime: BigInt(int("max-lifetime")),
      claimPeriod: BigInt(int("claim-period")),
    },
    log: say,
  });
  await writeFile(REPORT, `${JSON.stringify(report, null, 2)}\n`);
  const { swaps, fork } = report;
  say(`done in ${report.durationSeconds} s: ${swaps.settled} swaps settled, ${swaps.refunded} refunded, ${swaps.failed} failed`);
  const coin = (wei: string) => Number(wei) / 1e18;
  say(`fork of chain ${fork.chain}: frozen on ${fork.frozenOn.join(", ") || "no chain"} ${fork.detectedAfterBlocks} blocks after b2 was shown; ${coin(fork.slashed)} coin slashed (${coin(fork.reward)} reward, ${coin(fork.pool)} pool, ${coin(fork.burned)} burned)`);
  say(`compensation: ${coin(fork.compensationFiled)} coin claimed, ${coin(fork.compensationPaid)} paid after the claim period`);
  say(`messages per contract transaction: ${report.messagesPerTask.requests} requests, ${report.messagesPerTask.answers} answers, ${report.messagesPerTask.gossip} gossip`);
  say(`balances conserved: ${report.balancesConserved ? "yes" : `NO\n  ${report.balanceErrors.join("\n  ")}`}`);
  say(`report written to ${REPORT}`);
  process.exitCode = swaps.failed === 0 && fork.frozenOn.length === report.chains.length - 1 && BigInt(fork.compensated) > 0n && report.balancesConserved ? 0 : 1;
} catch (error) {
  if (!(error instanceof DevnetError)) throw error;
  console.error(`demo: ${error.message}`);
  process.exitCode = 1;
} finally {
  say("stopping every chain and relayer process the demo started");
  await dashboard.stop();
  await devnet.stop();
}
