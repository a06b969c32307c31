import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { tail } from "./chainProcess.js";
import { EXIT_WITH_PID_ENV } from "../node/runNode.js";
import { DevnetError } from "./devnetError.js";
import { killOnExit, watchExit, signal, type ProcessRecord } from "./processes.js";
import { keepAliveFetch } from "../chain/keepAliveFetch.js";

/** The relayer as `npm run build:relayer` bundles it, relative to the repository root. */
export const COMPILED_RELAYER = join("dist", "relayer.mjs");
/**
 * Node's options for a relayer. Left alone, V8 lets an idle relayer's young generation grow to 64 MB; a relayer keeps little
 * of what it allocates (BigInt arithmetic of signature checks, JSON of messages), so semi-spaces of 1 MB serve it: about
 * 55 MB less resident memory per relayer for more frequent short scavenges (about half a percent of a core in the
 * `relayers` benchmark). `npm run relayer` passes the same option.
 */
export const RELAYER_NODE_OPTIONS = ["--max-semi-space-size=1"];

/**
 * glibc's malloc for a relayer: left alone it gives each of the process's threads (V8's workers, libuv's) an arena of its
 * own, and pages once touched stay resident in each; two arenas keep an idle relayer about 6 MB smaller, at no cost in CPU
 * (measured side by side on one devnet). `npm run relayer` sets the same. A value in the environment wins.
 */
export const RELAYER_MALLOC_ARENAS = "2";

export type StartRelayerProcessParameters = {
  /** The node's configuration file (`dist/relayer.mjs --config`). */
  config: string;
  /** The chain whose committee the node belongs to (its config's chainId). */
  chainId: string;
  /** Where its metrics server listens (the config's `metrics`): readiness is GET /status answering there. */
  metrics: { host: string; port: number };
  /** The repository root: the node runs there, under the Node of its node_modules/.bin. */
  root: string;
  /** The node's stdout and stderr go here (appended). */
  logFile: string;
  /** A command that runs the node somewhere else (e.g. `ip netns exec <namespace>`); default none. */
  prefix?: string[];
};

/** What `status` shows of a relayer's GET /status. */
export type RelayerSummary = {
  head: string;
  /** Height of the newest view of its chain its committee has signed, or null before the first. */
  certifiedHeight: string | null;
  tasks: Record<string, number>;
  peers: { connected: number; expected: number };
};

/**
 * One relayer node as a child process: `node dist/relayer.mjs --config <file>`, bundled JavaScript under the
 * repository's Node 24 (node:sqlite). It leads a process group of its own, so that Ctrl-C in the devnet's terminal does
 * not reach it (the devnet stops its relayers itself, before the chains) and whatever it may start goes with it.
 */
export class RelayerProcess {
  readonly config: string;
  readonly chainId: string;
  readonly statusUrl: string;
  readonly pid: number;
  readonly logFile: string;
  readonly args: string[];
  /** Resolves when the launcher has exited, with how it ended ("signal SIGTERM", "code 1"). */
  readonly exited: Promise<string>;
  readonly #exitStatus: () => string | undefined;

  private constructor(child: ChildProcess & { pid: number }, params: { config: string; chainId: string; statusUrl: string; logFile: string; args: string[] }) {
    this.pid = child.pid;
    this.config = params.config;
    this.chainId = params.chainId;
    this.statusUrl = params.statusUrl;
    this.logFile = params.logFile;
    this.args = params.args;
    const exit = watchExit(child);
    this.exited = exit.exited;
    this.#exitStatus = exit.status;
    killOnExit(child, { group: true });
  }

  /** Spawns the node from dist/ (see `compileRelayer`); does not wait for it (see `ready`). */
  static async spawn({ config, chainId, metrics, root, logFile, prefix = [] }: StartRelayerProcessParameters): Promise<RelayerProcess> {
    const bin = join(root, "node_modules", ".bin");
    const args = [...RELAYER_NODE_OPTIONS, COMPILED_RELAYER, "--config", config];
    mkdirSync(dirname(logFile), { recursive: true });
    const fd = openSync(logFile, "a");
    let child: ChildProcess;
    try {
      const [command, ...before] = [...prefix, join(bin, "node")];
      child = spawn(command!, [...before, ...args], {
        cwd: root,
        env: { MALLOC_ARENA_MAX: RELAYER_MALLOC_ARENAS, ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}`, [EXIT_WITH_PID_ENV]: String(process.pid) },
        stdio: ["ignore", fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) {
      const [error] = (await once(child, "error")) as [Error];
      throw new DevnetError(`cannot start ${join(bin, "node")} (run npm install first?): ${error.message}`, { cause: error });
    }
    return new RelayerProcess(child as ChildProcess & { pid: number }, { config, chainId, statusUrl: `http://${metrics.host}:${metrics.port}/status`, logFile, args });
  }

  get record(): ProcessRecord {
    return { pid: this.pid, args: this.args, group: true };
  }

  get running(): boolean {
    return this.#exitStatus() === undefined;
  }

  /** Resolves once GET /status answers; throws DevnetError when the node ends first or `timeoutMs` passes. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) {
        throw new DevnetError(`relayer ${this.config} ended (${this.#exitStatus()}) before answering on ${this.statusUrl}; its last output:\n${tail(this.logFile)}`);
      }
      if ((await fetchStatus(this.statusUrl, 1_000)) !== undefined) return;
      if (Date.now() > deadline) throw new DevnetError(`relayer ${this.config}: no answer on ${this.statusUrl} within ${timeoutMs} ms; see ${this.logFile}`);
      await sleep(200);
    }
  }

  /** SIGTERM to the node, then SIGKILL to its group after `timeoutMs`; resolves once the node has exited. */
  async stop({ timeoutMs = 5_000 }: { timeoutMs?: number } = {}): Promise<void> {
    if (!this.running) return;
    signal(this.pid, "SIGTERM");
    const stopped = await Promise.race([this.exited.then(() => true), sleep(timeoutMs, false, { ref: false })]);
    if (!stopped) signal(-this.pid, "SIGKILL");
    await this.exited;
    signal(-this.pid, "SIGKILL"); // whatever of the group is left
  }
}

/**
 * Bundles the relayer of `root` into dist/relayer.mjs: `npm run build:relayer`, esbuild from scripts/relayer.ts with every
 * dependency but tiny-secp256k1 (which loads its WebAssembly from beside its own module) and only what the relayer uses of
 * them (about half a second). Whoever starts relayers calls it first, so that a relayer never runs code older than the tree
 * it is started from.
 */
export async function compileRelayer(root: string): Promise<void> {
  const bin = join(root, "node_modules", ".bin");
  try {
    await promisify(execFile)("npm", ["run", "-s", "build:relayer"], { cwd: root, env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` } });
  } catch (error) {
    const { stdout = "", stderr = "", message } = error as Error & { stdout?: string; stderr?: string };
    throw new DevnetError(`cannot compile the relayer (npm run build:relayer in ${root}): ${`${stdout}${stderr}`.trim() || message}`, { cause: error });
  }
}

/** GET `url` as JSON, or undefined when nothing (or no 200) answers within `timeoutMs`. */
export async function fetchStatus(url: string, timeoutMs = 2_000): Promise<Record<string, unknown> | undefined> {
  try {
    // Not Node's fetch: it refuses the ports browsers block (6665–6669 among them), where a devnet's metrics may listen.
    const response = await keepAliveFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return undefined;
    return (await response.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The parts of a relayer's /status that `status` shows; `expectedPeers` is the length of its config's peer list. */
export function summarize(status: Record<string, unknown>, expectedPeers: number): RelayerSummary {
  const tasks = typeof status.tasks === "object" && status.tasks !== null ? (status.tasks as Record<string, number>) : {};
  return {
    head: String(status.head ?? "?"),
    certifiedHeight: typeof status.certifiedHeight === "string" ? status.certifiedHeight : null,
    tasks,
    peers: { connected: Array.isArray(status.peers) ? status.peers.length : 0, expected: expectedPeers },
  };
}

/** Sum over the relayers' GET /status of the messages each has sent so far, by kind: count and bytes. */
export async function messagesSent(relayers: readonly { statusUrl: string }[]): Promise<Record<string, { count: number; bytes: number }>> {
  const total: Record<string, { count: number; bytes: number }> = {};
  for (const r of relayers) {
    const status = await fetchStatus(r.statusUrl);
    const sent = (status?.metrics as { messages?: { sent?: Record<string, { count: number; bytes: number }> } } | undefined)?.messages?.sent ?? {};
    for (const [kind, { count, bytes }] of Object.entries(sent)) {
      const entry = (total[kind] ??= { count: 0, bytes: 0 });
      entry.count += count;
      entry.bytes += bytes;
    }
  }
  return total;
}
