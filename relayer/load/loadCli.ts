import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { cliFailure, EXIT, sayFailure } from "../devnet/cliFailure.js";
import { DevnetError } from "../devnet/devnetError.js";
import { ProgressLine } from "../devnet/progressLine.js";
import { toJson } from "../devnet/toJson.js";
import { FAULT_KINDS, type FaultKind } from "./chaos.js";
import { LoadError, runLoad, type LoadReport } from "./loadRun.js";

export const LOAD_USAGE =
  "fibc load [--rate 100] [--duration 600] [--ttl 60] [--users 24] [--seed 1] [--chaos | --faults kill,stall,refuse,cut] [--fault-gap 5] [--netns [--partition 60]]\n" +
  "          [--dir <running devnet>] [--chains 3] [--validators 4] [--block-ms 500] [--base-port 9300] [--devnet-dir .load-devnet]\n" +
  "          [--report load-report.json] [--json]";

export const LOAD_DESCRIPTION =
  "Sustained swaps, and faults while they run. Offers --rate swaps a minute for --duration seconds between every pair of chains, " +
  "registered by load users of their own (ERC-20 test tokens and native coin, 0.001 to 1 of them; 5 % left unmatched and 5 % " +
  "matched too late, which must be cancelled), then waits until every swap has ended and checks the history against the chains: " +
  "no swap released on one side only (split), and every wei of every asset with its user or in a Gateway's escrow as the " +
  "outcomes say (lostWei, misplacedWei). Without --dir it starts a devnet of its own (--chains × --validators relayers, " +
  "--block-ms blocks) and stops it at the end; with --dir it loads a running one. --chaos (a devnet of its own only) injects, one " +
  "at a time and drawn from --seed, each lasting 8 to 16 s with --fault-gap seconds (default 5) of quiet between two, the four kinds of fault, or those --faults names (each kind also alone): kill (kill -9 of a relayer, restarted), stall (a " +
  "chain's process stopped and continued), refuse (a chain's JSON-RPC refusing its relayers), cut (every link of a relayer cut " +
  "and restored); every fault is logged with its timestamps. --netns (root, iproute2) runs each chain and its relayers in a " +
  "network namespace of their own and partitions one chain at a time for --partition seconds, with kill and stall under --chaos (falls back to loopback with a " +
  "message elsewhere). Writes load-report.json (--report): offered, settled, refunded, split, lostWei, latency p50/p95/max in " +
  "blocks and seconds, swaps per minute, each relayer's CPU and memory, the fault log and every failed swap's timeline. Exits 1 " +
  "when an invariant broke. Ctrl-C stops what it started and still writes the report of what happened so far.";

/** `fibc load …` and `npm run load -- …`: resolves with the exit code. */
export async function loadMain(args: string[], prog: string): Promise<number> {
  const json = args.includes("--json");
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        rate: { type: "string", default: "100" },
        duration: { type: "string", default: "600" },
        ttl: { type: "string", default: "60" },
        users: { type: "string", default: "24" },
        seed: { type: "string", default: "1" },
        chaos: { type: "boolean", default: false },
        faults: { type: "string" },
        netns: { type: "boolean", default: false },
        partition: { type: "string", default: "60" },
        "fault-gap": { type: "string", default: "5" },
        dir: { type: "string" },
        chains: { type: "string", default: "3" },
        validators: { type: "string", default: "4" },
        "block-ms": { type: "string", default: "500" },
        "base-port": { type: "string", default: "9300" },
        "devnet-dir": { type: "string", default: ".load-devnet" },
        report: { type: "string", default: "load-report.json" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    return sayFailure({ message: `${error instanceof Error ? error.message : String(error)}\nusage: ${LOAD_USAGE}`, exitCode: EXIT.usage }, error, json);
  }
  if (values.help) {
    console.log(`usage: ${LOAD_USAGE}\n\n${LOAD_DESCRIPTION}`);
    return EXIT.done;
  }
  let chaos: FaultKind[];
  let numbers: Record<"rate" | "duration" | "ttl" | "users" | "seed" | "partition" | "fault-gap" | "chains" | "validators" | "block-ms" | "base-port", number>;
  try {
    numbers = Object.fromEntries(
      (["rate", "duration", "ttl", "users", "seed", "partition", "fault-gap", "chains", "validators", "block-ms", "base-port"] as const).map((name) => {
        const text = values[name];
        const value = Number(text);
        if (text.trim() === "" || !Number.isFinite(value) || value <= 0) throw new DevnetError(`--${name} must be a positive number, got ${JSON.stringify(text)}`);
        return [name, value];
      }),
    ) as typeof numbers;
    chaos = values.faults !== undefined ? faultKinds(values.faults) : values.chaos ? (values.netns ? ["kill", "stall"] : ["kill", "stall", "refuse", "cut"]) : [];
    if (values.netns && !chaos.includes("partition")) chaos.push("partition");
  } catch (error) {
    return sayFailure({ message: `${prog}: ${(error as Error).message}\nusage: ${LOAD_USAGE}`, exitCode: EXIT.usage }, error, json);
  }

  // Ctrl-C ends the offering, stops what the run started, and the report of what happened so far is still written.
  const abort = new AbortController();
  const interrupt = () => {
    if (!abort.signal.aborted) console.error("\ninterrupted: stopping the load and everything it started; the report follows");
    abort.abort();
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  const line = new ProgressLine(json ? process.stderr : process.stdout);
  let lastPlain = Date.now();
  const say = (text: string) => (json ? console.error(`${new Date().toISOString()} ${text}`) : line.log(`${new Date().toISOString()} ${text}`));
  try {
    const report = await runLoad({
      ...(values.dir === undefined ? {} : { dir: values.dir }),
      devnet: { chains: numbers.chains, validators: numbers.validators, blockMs: numbers["block-ms"], k: 16, basePort: numbers["base-port"], dir: values["devnet-dir"] },
      rate: numbers.rate,
      durationSeconds: numbers.duration,
      ttl: numbers.ttl,
      users: numbers.users,
      seed: numbers.seed,
      chaos,
      netns: values.netns,
      partitionMs: numbers.partition * 1000,
      faultTiming: { gapMs: numbers["fault-gap"] * 1000 },
      report: values.report,
      log: say,
      // On a terminal the status line is rewritten in place; in a pipe or CI it comes as a log line every 30 s.
      progress: (text) => {
        if (line.live) line.update(text);
        else if (Date.now() - lastPlain >= 30_000) {
          lastPlain = Date.now();
          say(text);
        }
      },
      signal: abort.signal,
    });
    line.done();
    if (json) console.log(toJson(report));
    else console.log(summary(report, resolve(values.report)));
    return report.ok ? EXIT.done : EXIT.failed;
  } catch (error) {
    line.done();
    const failure = cliFailure(error, error instanceof DevnetError);
    // A run refused before it started anything is a usage error (an endpoint that does not answer stays 4).
    if (error instanceof LoadError && failure.exitCode === EXIT.failed) failure.exitCode = EXIT.usage;
    return sayFailure(failure, error, json);
  } finally {
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
  }
}

/** The kinds --faults names. */
function faultKinds(text: string): FaultKind[] {
  const kinds = text.split(",").map((k) => k.trim());
  const unknown = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new DevnetError(`--chaos takes ${FAULT_KINDS.join(", ")}, comma-separated; ${unknown.map((k) => JSON.stringify(k)).join(", ")} is none of them`);
  return kinds as FaultKind[];
}

/** The report in a few lines for a person. */
function summary(r: LoadReport, path: string): string {
  const lost = Object.entries(r.lostWei).filter(([, v]) => v !== "0");
  const misplaced = Object.entries(r.misplacedWei).filter(([, v]) => v !== "0");
  return [
    `${r.offered} swaps offered (${r.offeredPerMinute}/min): ${r.settled} settled (${(100 * r.settledShare).toFixed(1)} % of the ${r.matchedRegistered} matched swaps registered on both sides), ${r.refunded} refunded, ${r.notStarted} never registered, ${r.unended} not ended`,
    `${r.swapsPerMinute} swaps settled a minute; latency p50/p95/max ${r.latency === null ? "-" : `${r.latency.blocks.p50}/${r.latency.blocks.p95}/${r.latency.blocks.max} blocks, ${r.latency.seconds.p50}/${r.latency.seconds.p95}/${r.latency.seconds.max} s`}`,
    `split: ${r.split}; lost wei: ${lost.length === 0 ? "none" : lost.map(([k, v]) => `${k} ${v}`).join(", ")}; misplaced wei: ${misplaced.length === 0 ? "none" : misplaced.map(([k, v]) => `${k} ${v}`).join(", ")}; ended more than 50 blocks past expiry: ${r.endedLate}`,
    ...(r.relayerCpuPercent === null ? [] : [`relayers: ${r.relayerCpuPercent.mean} % of a core each on average (at most ${r.relayerCpuPercent.max} %), at most ${r.relayerRssMB!.max} MB resident`]),
    ...isolationLines(r),
    ...(r.faults.length > 0 ? [`${r.faults.filter((f) => f.phase === "begin").length} faults injected (${[...new Set(r.faults.map((f) => f.kind))].join(", ")})`] : []),
    r.ok ? `history checked: nothing split, nothing lost. Report: ${path}` : `HISTORY BROKEN: see failures in ${path}`,
  ].join("\n");
}

function isolationLines(r: LoadReport): string[] {
  const i = r.isolation;
  if (i === undefined || i === null) return [];
  if ("error" in i) return [`isolation scenario failed: ${i.error}`];
  const when = i.detectionBlocks === null ? "never froze" : `froze ${i.detectionBlocks} blocks after its links returned`;
  return [`isolation: chain ${i.isolated} cut off while chain ${i.forked} forked ${when} (bound (n − 1) × pacemaker = ${i.boundBlocks} blocks); frozen on ${i.frozenOn.join(", ")}`];
}
