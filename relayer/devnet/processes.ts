import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { isAlive } from "../util/isAlive.js";
import { DevnetError } from "./devnetError.js";

/**
 * A process a devnet started: its pid and the arguments that tell it apart from whatever reuses the pid later.
 * `group`: the process leads its own process group (spawned detached); SIGTERM goes to it, SIGKILL to the whole group,
 * so that nothing it started outlives it.
 */
export type ProcessRecord = { pid: number; args: string[]; group?: boolean };

/** Children of this process still running; killed (their groups too) when this process exits. */
const live = new Map<ChildProcess, boolean>();
let exitHookInstalled = false;

/** How a child ended, once it has: `exited` resolves with "signal SIGTERM" or "code 1", `status()` is undefined while it runs. */
export function watchExit(child: ChildProcess): { exited: Promise<string>; status: () => string | undefined } {
  let how: string | undefined;
  const exited = new Promise<string>((resolve) =>
    child.once("exit", (code, sig) => {
      how = sig !== null ? `signal ${sig}` : `code ${code}`;
      resolve(how);
    }),
  );
  return { exited, status: () => how };
}

/** Kills `child` (with its process group when `group`) if this process exits while it runs. */
export function killOnExit(child: ChildProcess, { group = false }: { group?: boolean } = {}): void {
  if (!exitHookInstalled) {
    process.on("exit", () => {
      for (const [c, g] of live) {
        if (g && c.pid !== undefined) signal(-c.pid, "SIGKILL");
        else c.kill("SIGKILL");
      }
    });
    exitHookInstalled = true;
  }
  live.set(child, group);
  // Whatever is left of a group once its leader exits is killed.
  child.once("exit", () => {
    live.delete(child);
    if (group && child.pid !== undefined) signal(-child.pid, "SIGKILL");
  });
}

/** True while the recorded process runs. Where /proc exists, its command line must still contain the recorded arguments. */
export function isRunning({ pid, args }: ProcessRecord): boolean {
  if (!isAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return true; // no /proc here: the pid is all we have
  }
  return cmdline.split("\0").join(" ").includes(args.join(" "));
}

/** SIGTERM, then SIGKILL (to the whole group for a group leader) after `timeoutMs`; resolves once the process (group) is gone. Returns false when it was not running. */
export async function terminate(record: ProcessRecord, { timeoutMs = 5_000 }: { timeoutMs?: number } = {}): Promise<boolean> {
  if (!isRunning(record)) {
    // A group whose leader is gone may still hold its children: finish them off, but report it as not running.
    if (record.group && isAlive(-record.pid)) {
      signal(-record.pid, "SIGKILL");
      await gone(-record.pid, 2_000);
    }
    return false;
  }
  const target = record.group ? -record.pid : record.pid;
  signal(record.pid, "SIGTERM");
  if (await gone(target, timeoutMs)) return true;
  signal(target, "SIGKILL");
  if (await gone(target, 2_000)) return true;
  throw new DevnetError(`process ${record.pid} is still there after SIGKILL`);
}

/** Pids whose parent is `pid`, from /proc/<pid>/stat; empty where there is no /proc. */
export function childrenOf(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((e) => /^[0-9]+$/.test(e));
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** Polls until `pid` (a negative one: every process of that group) is gone. */
async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Sends `name` to `pid` (negative: the process group); a process already gone is fine. */
export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/** Whether something already listens on `host:port`. */
export async function portInUse(host: string, port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => (error.code === "EADDRINUSE" ? resolve(true) : reject(error)));
    server.listen(port, host, () => server.close(() => resolve(false)));
  });
}
