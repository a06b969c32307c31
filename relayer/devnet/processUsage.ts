import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { childrenOf } from "./processes.js";

// What processes cost this machine, read from Linux's /proc: the CPU time and memory of relayers and chains.

/** `pid` and all its descendants that run; empty when `pid` is gone. */
export function processTree(pid: number): number[] {
  if (cpuTicks(pid) < 0) return [];
  return [pid, ...childrenOf(pid).flatMap(processTree)];
}

/** The fields of /proc/<pid>/stat after the command name (the third field of the man page is the first here); undefined when gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** utime + stime of `pid` in clock ticks, or −1 when it is gone. */
export function cpuTicks(pid: number): number {
  const f = statFields(pid);
  return f === undefined ? -1 : Number(f[11]) + Number(f[12]);
}

/** When `pid` started, in seconds since boot. */
export function startedAtSeconds(pid: number): number {
  const f = statFields(pid);
  if (f === undefined) throw new Error(`process ${pid} is gone`);
  return Number(f[19]) / CLOCK_TICKS;
}

/** The `field` line of a /proc file that counts kB (VmRSS in status, Pss in smaps_rollup); 0 when its process is gone. */
export function memoryKB(path: string, field: string): number {
  try {
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync(path, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Seconds since the machine booted. */
export function uptimeSeconds(): number {
  return Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
}

/** The kernel's clock ticks per second, in which /proc/<pid>/stat counts CPU time and start time. */
export const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
