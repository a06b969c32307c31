import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createPublicClient, http } from "viem";
import { DevnetError } from "./devnetError.js";
import { killOnExit, watchExit, portInUse, type ProcessRecord } from "./processes.js";

export type StartChainProcessParameters = {
  chainId: number;
  port: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** A command that runs the node somewhere else (e.g. `ip netns exec <namespace>`); default none. */
  prefix?: string[];
  /** The repository root: the node runs there, with its node_modules/.bin first on PATH (Hardhat needs its Node 24). */
  root: string;
  /** The node's stdout and stderr go here (appended). */
  logFile: string;
  /** How long to wait for the node to answer eth_chainId; default 60 s. */
  readyTimeoutMs?: number;
};

/** One `hardhat node` child process: a real EVM chain behind HTTP and WebSocket JSON-RPC. */
export class ChainProcess {
  readonly chainId: number;
  readonly url: string;
  readonly pid: number;
  readonly logFile: string;
  /** What identifies the process besides its pid (see `isRunning`). */
  readonly args: string[];
  /** Resolves when the process has exited, with how it ended ("signal SIGTERM", "code 1"). */
  readonly exited: Promise<string>;
  readonly #child: ChildProcess;
  readonly #exitStatus: () => string | undefined;

  private constructor(child: ChildProcess & { pid: number }, params: { chainId: number; url: string; logFile: string; args: string[] }) {
    this.#child = child;
    this.pid = child.pid;
    this.chainId = params.chainId;
    this.url = params.url;
    this.logFile = params.logFile;
    this.args = params.args;
    const exit = watchExit(child);
    this.exited = exit.exited;
    this.#exitStatus = exit.status;
    killOnExit(child);
  }

  /** Starts the node and resolves once it answers eth_chainId with `chainId`; throws DevnetError otherwise (and leaves nothing running). */
  static async start({ chainId, port, host = "127.0.0.1", prefix = [], root, logFile, readyTimeoutMs = 60_000 }: StartChainProcessParameters): Promise<ChainProcess> {
    // Elsewhere (another network namespace) the port is not this host's to check.
    if (prefix.length === 0 && (await portInUse(host, port))) {
      throw new DevnetError(`port ${port} on ${host} is already in use, so chain ${chainId} cannot listen there: stop what listens on it or choose another base port`);
    }
    const bin = join(root, "node_modules", ".bin");
    const args = ["node", "--port", String(port), "--chain-id", String(chainId), "--hostname", host];
    mkdirSync(dirname(logFile), { recursive: true });
    const fd = openSync(logFile, "a");
    let child: ChildProcess;
    try {
      const [command, ...before] = [...prefix, join(bin, "hardhat")];
      child = spawn(command!, [...before, ...args], {
        cwd: root,
        env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` },
        stdio: ["ignore", fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) {
      const [error] = (await once(child, "error")) as [Error];
      throw new DevnetError(`cannot start ${join(bin, "hardhat")} (run npm install first?): ${error.message}`, { cause: error });
    }
    const chain = new ChainProcess(child as ChildProcess & { pid: number }, { chainId, url: `http://${host}:${port}`, logFile, args });
    try {
      await chain.#ready(readyTimeoutMs);
    } catch (error) {
      await chain.stop();
      throw error;
    }
    return chain;
  }

  get record(): ProcessRecord {
    return { pid: this.pid, args: this.args };
  }

  get running(): boolean {
    return this.#exitStatus() === undefined;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process has exited. */
  async stop({ timeoutMs = 5_000 }: { timeoutMs?: number } = {}): Promise<void> {
    if (!this.running) return;
    this.#child.kill("SIGTERM");
    const stopped = await Promise.race([this.exited.then(() => true), sleep(timeoutMs, false, { ref: false })]);
    if (stopped) return;
    this.#child.kill("SIGKILL");
    await this.exited;
  }

  async #ready(timeoutMs: number): Promise<void> {
    const client = createPublicClient({ transport: http(this.url, { retryCount: 0, timeout: 1_000 }) });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) {
        throw new DevnetError(`chain ${this.chainId}: hardhat node ended (${this.#exitStatus()}) before answering on ${this.url}; its last output:\n${tail(this.logFile)}`);
      }
      const answered = await client.getChainId().catch(() => undefined);
      if (answered === this.chainId) return;
      if (answered !== undefined) {
        throw new DevnetError(`${this.url} answers chainId ${answered} instead of ${this.chainId}: is hardhat node ignoring --chain-id, or is another node listening there?`);
      }
      if (Date.now() > deadline) throw new DevnetError(`chain ${this.chainId}: no answer on ${this.url} within ${timeoutMs} ms; see ${this.logFile}`);
      await sleep(200);
    }
  }
}

/** The last `lines` lines of `file`, for error messages. */
export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}
