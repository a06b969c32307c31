import { execFile, execFileSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { accessSync, constants, readFileSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { DevnetError } from "../devnet/devnetError.js";

/** An `ip` or `tc` command that made, changed or removed the namespaces failed; `cause` keeps its stderr. */
export class NetnsError extends DevnetError {}

/**
 * Network namespaces for a load run, one per chain: chain i and its relayers run inside `names[i]` (through `prefix(i)`)
 * and listen on `host(i)`. The root namespace (where the load generator runs) reaches every namespace directly and
 * forwards between them, so `partition(i)` cuts chain i off from the other chains while the load generator still sees it.
 */
export type NetnsHosts = {
  readonly names: readonly string[];
  /** The address chain `chain` and its relayers listen on. */
  host(chain: number): string;
  /** The command prefix that runs a program inside the chain's namespace: ["ip", "netns", "exec", name]. */
  prefix(chain: number): string[];
  /** Chain `chain` can no longer reach any other chain's namespace, nor they it; the root namespace still reaches it. */
  partition(chain: number): Promise<void>;
  /** Undoes `partition(chain)`; a chain not partitioned is left as it is. */
  heal(chain: number): Promise<void>;
  /**
   * Delays everything chain `chain` sends by `delayMs` (each round trip with it grows by that much) and drops
   * `lossPercent` % of it at random; undefined removes it. A delay needs the kernel's netem (this machine has none: the
   * NetnsError says so), loss does not.
   */
  impair(chain: number, netem: { delayMs: number; lossPercent: number } | undefined): Promise<void>;
  /** Deletes the namespaces and their links and restores IP forwarding; kills nothing, so stop the processes first. Idempotent. */
  close(): Promise<void>;
};

/** Interface names are at most 15 characters: "fibc" + 4 hex digits + "r" + up to 3 digits fits. */
const MAX_CHAINS = 200;
const TAG_PREFIX = "fibc";
const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";

let unavailable: { why: string | undefined } | undefined;

/**
 * Why namespaces cannot be made here (not Linux, not root, no `ip` or `tc`, no right to make a namespace or a veth link,
 * /proc/sys read-only), or undefined when they can. A container that runs as root without CAP_SYS_ADMIN or CAP_NET_ADMIN
 * only shows it when it tries, so this makes (and deletes) a namespace with a veth link once; the answer is kept.
 */
export function netnsUnavailable(): string | undefined {
  unavailable ??= { why: probe() };
  return unavailable.why;
}

function probe(): string | undefined {
  if (process.platform !== "linux") return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "network namespaces need root";
  for (const program of ["ip", "tc"]) {
    try {
      execFileSync(program, ["-V"], { stdio: "ignore" });
    } catch {
      return `\`${program}\` (iproute2) is not installed`;
    }
  }
  try {
    accessSync(IP_FORWARD, constants.W_OK);
  } catch {
    return `${IP_FORWARD} is not writable (a container without the right to forward packets?)`;
  }
  const name = `${TAG_PREFIX}p${randomBytes(3).toString("hex")}`;
  try {
    execFileSync("ip", ["netns", "add", name], { stdio: ["ignore", "ignore", "pipe"] });
    execFileSync("ip", ["link", "add", `${name}r`, "type", "veth", "peer", "name", `${name}n`, "netns", name], { stdio: ["ignore", "ignore", "pipe"] });
    return undefined;
  } catch (e) {
    return `cannot make a network namespace with a veth link here: ${stderrOf(e) || String(e)}`;
  } finally {
    quietly("ip", ["link", "del", `${name}r`]);
    quietly("ip", ["netns", "del", name]);
  }
}

/** Runs still open in this process: what the exit hook deletes when the process ends without closing them. */
const open = new Set<{ names: readonly string[]; links: readonly string[]; forwardBefore: string | undefined }>();
let exitHookInstalled = false;

/**
 * Makes `chains` namespaces joined to the root namespace by one veth link each, with its own /24 in 10.X.0.0/16 (X one
 * that no address or route here uses yet): the root's end is 10.X.i.1, the namespace's 10.X.i.2 with its default route via
 * 10.X.i.1. Routed, not bridged: traffic between namespaces crosses the root namespace's forwarding, so a partition is a
 * route inside the namespaces and never stands between the root namespace and a chain. When a step fails, whatever was
 * made is deleted again before the error is thrown.
 */
export async function createNetns({ chains, log = () => {} }: { chains: number; log?: (line: string) => void }): Promise<NetnsHosts> {
  if (!Number.isInteger(chains) || chains < 1 || chains > MAX_CHAINS) {
    throw new NetnsError(`a load run with its own network needs 1 to ${MAX_CHAINS} chains, not ${chains}`);
  }
  const why = netnsUnavailable();
  if (why !== undefined) throw new NetnsError(`network namespaces cannot be made here: ${why}`);

  const tag = `${TAG_PREFIX}${randomBytes(2).toString("hex")}`;
  const x = await freeSecondOctet();
  const names = Array.from({ length: chains }, (_, i) => `${tag}-${i}`);
  const rootLinks = names.map((_, i) => `${tag}r${i}`);
  const nsLinks = names.map((_, i) => `${tag}n${i}`);
  const subnet = (i: number) => `10.${x}.${i}.0/24`;
  const own = `10.${x}.0.0/16`;
  // The next hop a partition sends packets to: an address on namespace i's link with a MAC address no one has.
  const nowhere = (i: number) => `10.${x}.${i}.254`;
  const run = { names, links: rootLinks, forwardBefore: undefined as string | undefined };
  open.add(run);
  installExitHook();

  let closed = false;
  const partitioned = new Set<number>();
  const impaired = new Set<number>();
  const close = async () => {
    if (closed) return;
    closed = true;
    open.delete(run);
    // Deleting the root's end of a veth link deletes its peer too, at once; a deleted namespace frees its links only later,
    // and until then its subnet's routes would stay in the root namespace.
    const failures: NetnsError[] = [];
    for (const [i, name] of names.entries()) {
      await cmd("ip", ["link", "del", rootLinks[i]!], { absentOk: true }).catch((e: NetnsError) => failures.push(e));
      await cmd("ip", ["netns", "del", name], { absentOk: true }).catch((e: NetnsError) => failures.push(e));
    }
    restoreForwarding(run.forwardBefore);
    log(`netns: deleted ${names[0]}…${names.at(-1)}`);
    if (failures.length > 0) throw failures[0]!;
  };

  try {
    run.forwardBefore = readFileSync(IP_FORWARD, "utf8").trim();
    if (run.forwardBefore !== "1") writeFileSync(IP_FORWARD, "1");
    for (const [i, name] of names.entries()) {
      await cmd("ip", ["netns", "add", name]);
      await cmd("ip", ["link", "add", rootLinks[i]!, "type", "veth", "peer", "name", nsLinks[i]!, "netns", name]);
      await cmd("ip", ["addr", "add", `10.${x}.${i}.1/24`, "dev", rootLinks[i]!]);
      await cmd("ip", ["link", "set", rootLinks[i]!, "up"]);
      await cmd("ip", ["-n", name, "link", "set", "lo", "up"]);
      await cmd("ip", ["-n", name, "addr", "add", `10.${x}.${i}.2/24`, "dev", nsLinks[i]!]);
      await cmd("ip", ["-n", name, "link", "set", nsLinks[i]!, "up"]);
      await cmd("ip", ["-n", name, "route", "add", "default", "via", `10.${x}.${i}.1`]);
      await cmd("ip", ["-n", name, "neigh", "add", nowhere(i), "lladdr", "02:00:00:00:00:00", "dev", nsLinks[i]!, "nud", "permanent"]);
    }
  } catch (e) {
    await close().catch(() => {});
    throw e;
  }
  log(`netns: ${chains} namespaces ${names[0]}…${names.at(-1)}, chain i on 10.${x}.i.2 (root end 10.${x}.i.1)`);

  const chain = (i: number) => {
    if (closed) throw new NetnsError(`the namespaces ${tag}-* are closed`);
    if (!Number.isInteger(i) || i < 0 || i >= chains) throw new NetnsError(`there is no chain ${i} (chains 0 to ${chains - 1})`);
    return i;
  };

  return {
    names,
    host: (i) => `10.${x}.${chain(i)}.2`,
    prefix: (i) => ["ip", "netns", "exec", names[chain(i)]!],
    // Inside namespace i, the whole 10.X/16 goes to a next hop that is not there; its own /24 is more specific, so its
    // link and the root's end (10.X.i.1) stay reachable. Every other namespace sends subnet i to its own missing next
    // hop. The packets leave with a MAC address no one has and the root's end of the link drops them without a word, as
    // in a real split: a new connection times out (a blackhole route would fail it at once with EINVAL), and adding the
    // routes drops the routes cached on open sockets, so established connections stall too and resume after heal.
    partition: async (i) => {
      if (partitioned.has(chain(i))) return;
      partitioned.add(i);
      await cmd("ip", ["-n", names[i]!, "route", "add", own, "via", nowhere(i)]);
      for (const [j, name] of names.entries()) if (j !== i) await cmd("ip", ["-n", name, "route", "add", subnet(i), "via", nowhere(j)]);
      log(`netns: chain ${i} partitioned`);
    },
    heal: async (i) => {
      if (!partitioned.has(chain(i))) return;
      await cmd("ip", ["-n", names[i]!, "route", "del", own, "via", nowhere(i)], { absentOk: true });
      for (const [j, name] of names.entries()) if (j !== i) await cmd("ip", ["-n", name, "route", "del", subnet(i), "via", nowhere(j)], { absentOk: true });
      partitioned.delete(i);
      log(`netns: chain ${i} healed`);
    },
    impair: async (i, netem) => {
      chain(i);
      if (netem !== undefined) impairment(netem); // bad numbers are refused before the link's current shaping is touched
      if (impaired.has(i)) await cmd("tc", ["-n", names[i]!, "qdisc", "del", "dev", nsLinks[i]!, "root"], { absentOk: true });
      impaired.delete(i);
      if (netem === undefined) return log(`netns: chain ${i} no longer impaired`);
      impaired.add(i);
      try {
        for (const args of impairment(netem)) await cmd("tc", ["-n", names[i]!, ...args.map((a) => (a === LINK ? nsLinks[i]! : a))]);
      } catch (e) {
        // Half an impairment is none: the link is left as it was before.
        await cmd("tc", ["-n", names[i]!, "qdisc", "del", "dev", nsLinks[i]!, "root"], { absentOk: true });
        impaired.delete(i);
        throw e;
      }
      log(`netns: chain ${i} impaired: ${netem.delayMs} ms delay, ${netem.lossPercent} % loss`);
    },
    close,
  };
}

/** Stands for the link's name in the `tc` commands of an impairment. */
const LINK = "<link>";

/**
 * The `tc` commands that impair what a namespace sends over its link (`LINK`): every round trip with the chain crosses
 * that end once. An HTB root sends packets to class 1:1, which passes them on (through netem when there is a delay);
 * a classic-BPF filter sends a random share of them to class 1:2, whose queue holds none, so they are lost. Loss is made
 * so, not with netem, because some kernels (this machine's) have no netem; the share is exact to 1 in 2^32.
 */
function impairment({ delayMs, lossPercent }: { delayMs: number; lossPercent: number }): string[][] {
  if (!(Number.isFinite(delayMs) && delayMs >= 0 && Number.isFinite(lossPercent) && lossPercent >= 0 && lossPercent <= 100)) {
    throw new NetnsError(`an impairment needs a delay of 0 ms or more and a loss of 0 to 100 %, not ${delayMs} ms and ${lossPercent} %`);
  }
  const rate = ["htb", "rate", "100gbit", "quantum", "60000"];
  const commands = [
    ["qdisc", "add", "dev", LINK, "root", "handle", "1:", "htb", "default", "1"],
    ["class", "add", "dev", LINK, "parent", "1:", "classid", "1:1", ...rate],
  ];
  if (lossPercent > 0) {
    // A random 32-bit number (the ancillary load SKF_AD_RANDOM) below the threshold means "lost": return -1 picks the
    // filter's class, 1:2; 0 leaves the packet to the default class.
    const threshold = Math.min(2 ** 32 - 1, Math.round((lossPercent / 100) * 2 ** 32));
    const program = ["4", "32 0 0 4294963256", `53 1 0 ${threshold}`, "6 0 0 4294967295", "6 0 0 0"].join(",");
    commands.push(
      ["class", "add", "dev", LINK, "parent", "1:", "classid", "1:2", ...rate],
      ["qdisc", "add", "dev", LINK, "parent", "1:2", "handle", "20:", "pfifo", "limit", "0"],
      ["filter", "add", "dev", LINK, "parent", "1:", "protocol", "all", "prio", "1", "bpf", "bytecode", program, "classid", "1:2"],
    );
  }
  if (delayMs > 0) commands.push(["qdisc", "add", "dev", LINK, "parent", "1:1", "handle", "10:", "netem", "delay", `${delayMs}ms`, "limit", "100000"]);
  return commands;
}

/** A second octet X for 10.X.0.0/16 that no address or route in the root namespace uses yet (nor a parallel run's links). */
async function freeSecondOctet(): Promise<number> {
  const taken = new Set<number>();
  const seen = (await cmd("ip", ["-4", "-o", "addr", "show"])) + (await cmd("ip", ["-4", "route", "show", "table", "all"]));
  for (const m of seen.matchAll(/\b10\.(\d{1,3})\./g)) taken.add(Number(m[1]));
  // A wider route that covers it (10.0.0.0/8 through a gateway, a default) does no harm: the namespaces' /24s are more specific.
  const free = Array.from({ length: 240 }, (_, k) => k + 16).filter((o) => !taken.has(o));
  if (free.length === 0) throw new NetnsError("no free 10.X.0.0/16 for the namespaces: every one from 10.16 to 10.255 is in use here");
  return free[randomInt(free.length)]!;
}

const execFileAsync = promisify(execFile);

/** Runs `program args`; a failure becomes a NetnsError naming the command. `absentOk`: a missing thing to delete is no failure. */
async function cmd(program: "ip" | "tc", args: string[], { absentOk = false }: { absentOk?: boolean } = {}): Promise<string> {
  try {
    return (await execFileAsync(program, args)).stdout;
  } catch (e) {
    const stderr = stderrOf(e);
    if (absentOk && /No such file|Cannot find|does not exist|No such process|Invalid handle|Cannot delete qdisc/i.test(stderr)) return "";
    if (args.includes("netem") && /qdisc kind is unknown/.test(stderr)) {
      throw new NetnsError("this kernel has no netem qdisc (sch_netem), so a delay cannot be made here; loss can", { cause: new Error(stderr, { cause: e }) });
    }
    throw new NetnsError(`\`${program} ${args.join(" ")}\` failed${stderr ? `: ${stderr.split("\n")[0]}` : ""}`, { cause: new Error(stderr || String(e), { cause: e }) });
  }
}

function stderrOf(e: unknown): string {
  const stderr = (e as { stderr?: unknown }).stderr;
  return (Buffer.isBuffer(stderr) ? stderr.toString("utf8") : typeof stderr === "string" ? stderr : "").trim();
}

/**
 * Puts IP forwarding back as it was before the run, unless another run's namespaces (another process) still need it: a
 * run that found it already on (perhaps turned on by that other run) leaves it on.
 */
function restoreForwarding(before: string | undefined): void {
  if (before === undefined || before === "1") return;
  const others = (() => {
    try {
      return execFileSync("ip", ["netns", "list"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    } catch {
      return "";
    }
  })();
  if (others.split("\n").some((line) => line.startsWith(TAG_PREFIX))) return;
  try {
    writeFileSync(IP_FORWARD, before);
  } catch {
    // Best effort: the namespaces are gone, which is what matters.
  }
}

/** A run that ends without close() (a crash, process.exit) leaves no namespace or link behind; this runs synchronously in 'exit'. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const run of open) {
      for (const link of run.links) quietly("ip", ["link", "del", link]);
      for (const name of run.names) quietly("ip", ["netns", "del", name]);
    }
    for (const run of open) restoreForwarding(run.forwardBefore);
    open.clear();
  });
}

function quietly(program: string, args: string[]): void {
  try {
    execFileSync(program, args, { stdio: "ignore" });
  } catch {
    // Already gone, or never made.
  }
}
