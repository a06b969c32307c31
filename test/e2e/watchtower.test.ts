import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ForkAttack } from "../../relayer/attack/forkAttack.js";
import { registryAbi } from "../../relayer/chain/abis.js";
import { connect, transact, type Connection } from "../../relayer/devnet/connect.js";
import { Devnet, DEVNET_BOND, DEVNET_SLASH_REWARD_BPS, type DevnetChain, type DevnetFile } from "../../relayer/devnet/devnet.js";
import { DevnetError } from "../../relayer/devnet/devnetError.js";
import { HARDHAT_ACCOUNT_3_KEY } from "../../relayer/devnet/testAccounts.js";
import { EXIT_WITH_PID_ENV } from "../../relayer/node/runNode.js";
import { devnetBasePort } from "../fixtures/freePort.js";

const FIBC = join("bin", "fibc.js");
/** The first watchtower sends with the default key (Hardhat's test account #3), the second with account #4 from $FIBC_KEY. */
const FIRST = privateKeyToAccount(HARDHAT_ACCOUNT_3_KEY).address;
const SECOND_KEY: Hex = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a";
const SECOND = privateKeyToAccount(SECOND_KEY).address;
const REWARD = (DEVNET_BOND * DEVNET_SLASH_REWARD_BPS) / 10_000n;

type Watch = { process: ChildProcess; lines: string[]; statusUrl: string };
type Status = { forks: { chainId: string; standing: Record<string, string> }[] };

/** Starts `fibc watch --dir <dir> …` and resolves once it serves /status; it stops by itself if this process dies. */
async function startWatch(dir: string, env: Record<string, string>): Promise<Watch> {
  const child = spawn(process.execPath, [FIBC, "watch", "--dir", dir, "--metrics-port", "0"], { env: { ...process.env, ...env, [EXIT_WITH_PID_ENV]: String(process.pid) } });
  const lines: string[] = [];
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on("data", (chunk: Buffer) => lines.push(chunk.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const url = lines.map((l) => /metrics: (http:\/\/\S+)\/metrics/.exec(l)?.[1]).find((u) => u !== undefined);
    if (url !== undefined) return { process: child, lines, statusUrl: `${url}/status` };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`fibc watch did not start:\n${lines.join("\n")}`);
    await sleep(100);
  }
}

async function until(what: string, check: () => Promise<boolean>, ms: number, log: () => string = () => ""): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${log()}`);
    await sleep(100);
  }
}

describe("fibc watch: a watchtower with no validator key on a devnet of real processes", function () {
  this.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), "fibc-watch-"));
  const devnet = new Devnet();
  const watches: Watch[] = [];
  let file: DevnetFile;

  before(async () => {
    // No relayer runs at all: every validator relayer of the honest chains A and C is stopped, and B's committee is the attacker.
    for (let attempt = 1; ; attempt++) {
      try {
        file = await devnet.up({ chains: 3, validatorsPerChain: 3, basePort: await devnetBasePort(3, 3), k: 16, blockMs: 250, dir, relayers: false });
        break;
      } catch (error) {
        if (!(error instanceof DevnetError && error.message.includes("already in use")) || attempt === 5) throw error;
      }
    }
  });

  after(async function () {
    for (const w of watches) if (w.process.exitCode === null) w.process.kill("SIGTERM");
    await devnet.down({ dir }).catch(() => undefined);
    await devnet.stop();
    if (this.test!.parent!.tests.every((t) => t.state === "passed")) rmSync(dir, { recursive: true, force: true });
    else console.log(`devnet kept in ${dir}`);
  });

  it("attack: B's committee shows branch b1 to A and b2 to C with every honest relayer stopped; fibc watch alone freezes and slashes B on A and C and takes both rewards; a second watchtower beside it slashes nothing twice", async () => {
    const [a, b, c] = file.chains as [DevnetChain, DevnetChain, DevnetChain];
    const [onA, onB, onC] = await Promise.all([a, b, c].map((ch) => connect({ rpcUrl: ch.url, key: file.owner.key })));
    const first = await startWatch(dir, {});
    watches.push(first);
    const status = async (w: Watch) => (await (await fetch(w.statusUrl)).json()) as Status;

    // Section VI.B: B's committee snapshots B; b1 carries a transfer, and its signed views go to A's registry; then B is
    // rewound and runs on along b2, whose signed views go to C's registry. Each registry alone sees one consistent history.
    const attack = await ForkAttack.begin({ client: onB.publicClient, chainId: BigInt(b.chainId), gateway: b.gateway, k: file.k, colluders: b.committee.map((m) => privateKeyToAccount(m.key)) });
    await transact(onB, "a transfer on b1", () => onB.wallet.sendTransaction({ to: SECOND, value: 1n }));
    const show = async (to: DevnetChain, on: Connection) => {
      const after = await on.publicClient.readContract({ address: to.registry, abi: registryAbi, functionName: "latestHeight", args: [BigInt(b.chainId)] });
      const views = await attack.signedViews({ after, from: attack.forkHeight + 1n, to: await onB.publicClient.getBlockNumber({ cacheTime: 0 }) });
      let shown = 0;
      for (const { view, signatures, bridge } of views) {
        try {
          await transact(on, `posting B's view at ${view.height}`, () => on.wallet.writeContract({ address: to.registry, abi: registryAbi, functionName: "submitView", args: [view, signatures, bridge] }));
        } catch (error) {
          // The watchtower may catch the fork from the first views of b2 and freeze B here before the rest are posted.
          if (shown > 0 && error instanceof DevnetError && error.message.includes("ViewRegistryChainFrozen")) break;
          throw error;
        }
        shown += 1;
      }
      return shown;
    };
    await attack.mineTo(attack.forkHeight + 20n);
    const b1Views = await show(a, onA);
    const b1Top = await onB.publicClient.getBlockNumber({ cacheTime: 0 });
    await attack.switchToSecondBranch();
    await attack.mineTo(b1Top + 5n);
    const b2Views = await show(c, onC);
    const shownAt = Date.now();
    console.log(`      B forked at block ${attack.forkHeight}: ${b1Views} views of b1 shown to A, ${b2Views} of b2 to C`);

    const frozen = (on: Connection, ch: DevnetChain) => on.publicClient.readContract({ address: ch.registry, abi: registryAbi, functionName: "isFrozen", args: [BigInt(b.chainId)] });
    await until("B frozen on A and C", async () => (await frozen(onA, a)) && (await frozen(onC, c)), 30_000, () => first.lines.join("\n"));
    console.log(`      B frozen on A and C ${Date.now() - shownAt} ms after b2 was shown to C`);

    // One freeze per chain, each reported by the watchtower, whose balance grew there by the reward less the fee.
    for (const [ch, on] of [[a, onA], [c, onC]] as const) {
      const logs = await on.publicClient.getContractEvents({ address: ch.registry, abi: registryAbi, eventName: "ChainFrozen", fromBlock: 0n });
      assert.equal(logs.length, 1, `one freeze on chain ${ch.chainId}`);
      const [log] = logs;
      assert.equal(log!.args.chainId, BigInt(b.chainId));
      assert.equal(log!.args.reporter, FIRST);
      assert.equal(log!.args.reward, REWARD);
      const receipt = await on.publicClient.getTransactionReceipt({ hash: log!.transactionHash });
      const [before, after] = await Promise.all([log!.blockNumber - 1n, log!.blockNumber].map((blockNumber) => on.publicClient.getBalance({ address: FIRST, blockNumber })));
      assert.equal(after! - before!, REWARD - receipt.gasUsed * receipt.effectiveGasPrice, `the reward reached the watchtower on chain ${ch.chainId}`);
    }
    assert.ok(first.lines.some((l) => l.includes(`FORK: chain ${b.chainId} signed two histories`)), first.lines.join("\n"));
    await until("the watchtower's status", async () => Object.keys((await status(first)).forks[0]?.standing ?? {}).length === 2, 5_000);
    assert.deepEqual((await status(first)).forks[0]!.standing, { [a.chainId]: "frozen by this watchtower", [c.chainId]: "frozen by this watchtower" });

    // A second watchtower beside it finds the same fork, sees it frozen everywhere, and sends nothing.
    const second = await startWatch(dir, { FIBC_KEY: SECOND_KEY });
    watches.push(second);
    await until("the second watchtower reading both freezes", async () => Object.keys((await status(second)).forks[0]?.standing ?? {}).length === 2, 20_000, () => second.lines.join("\n"));
    assert.deepEqual((await status(second)).forks[0]!.standing, { [a.chainId]: "frozen by another reporter", [c.chainId]: "frozen by another reporter" });
    await sleep(1_000); // a few more polls
    for (const on of [onA, onB, onC]) assert.equal(await on.publicClient.getTransactionCount({ address: SECOND as Address }), 0, `the second watchtower sent nothing to chain ${on.chainId}`);
    for (const [ch, on] of [[a, onA], [c, onC]] as const) {
      assert.equal((await on.publicClient.getContractEvents({ address: ch.registry, abi: registryAbi, eventName: "ChainFrozen", fromBlock: 0n })).length, 1, `still one freeze on ${ch.chainId}`);
    }

    // What a user reproduces by hand: `fibc evidence check` finds the fork and where B is frozen.
    const { stdout } = await promisify(execFile)(process.execPath, [FIBC, "evidence", "check", "--dir", dir], { timeout: 60_000 });
    assert.match(stdout, new RegExp(`FORK: chain ${b.chainId} signed two histories: .*; frozen on chains (${a.chainId}, ${c.chainId}|${c.chainId}, ${a.chainId})\\)`));
  });
});
