import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { DevnetError } from "./devnetError.js";

/** A process a devnet started: its pid and the arguments that tell it apart from whatever reuses the pid later. */
export type ProcessRecord = { pid: number; args: string[] };

/** True while `pid` exists (a process we may not signal counts as existing). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
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

/** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process is gone. Returns false when it was not running. */
export async function terminate(record: ProcessRecord, { timeoutMs = 5_000 }: { timeoutMs?: number } = {}): Promise<boolean> {
  if (!isRunning(record)) return false;
  signal(record.pid, "SIGTERM");
  if (await gone(record.pid, timeoutMs)) return true;
  signal(record.pid, "SIGKILL");
  if (await gone(record.pid, 2_000)) return true;
  throw new DevnetError(`process ${record.pid} is still there after SIGKILL`);
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
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
