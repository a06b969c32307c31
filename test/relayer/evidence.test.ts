import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { keccak256, stringToHex, toHex, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ForkAttack } from "../../relayer/attack/forkAttack.js";
import { registryAbi } from "../../relayer/chain/abis.js";
import { HARDHAT_ACCOUNT_3_KEY } from "../../relayer/devnet/testAccounts.js";
import { evidenceMain } from "../../relayer/evidence/evidenceCli.js";
import { decodeEvidence, encodeEvidence } from "../../relayer/evidence/evidenceFile.js";
import { ForkFinder } from "../../relayer/evidence/forkFinder.js";
import { parting } from "../../relayer/evidence/parting.js";
import { submitEvidence } from "../../relayer/evidence/submitEvidence.js";
import { relate } from "../../relayer/view/relate.js";
import type { Evidence } from "../../relayer/view/signedView.js";
import { orderSignatures, signView } from "../../relayer/view/signView.js";
import { buildView, ZERO_HASH, type View } from "../../relayer/view/view.js";
import { Watchtower } from "../../relayer/watch/watchtower.js";
import { registerBls, signBls, syntheticChain, syntheticView } from "../fixtures/blsCommittee.js";
import { RpcServer } from "../fixtures/rpcServer.js";
import { BOND, deploySystem, K, mine, sign, SLASH_REWARD_BPS, viewOf, type Chain } from "../fixtures/system.js";
import { flipByte } from "../fixtures/tamper.js";
import { until } from "../fixtures/until.js";

/** Who sends evidence when no key is given: Hardhat's test account #3. */
const SENDER = privateKeyToAccount(HARDHAT_ACCOUNT_3_KEY).address;
/** The watchtower's account: Hardhat's test account #5, funded on every in-process chain. */
const WATCHTOWER_KEY: Hex = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
const REWARD = (BOND * SLASH_REWARD_BPS) / 10_000n;

/** Runs `fibc evidence …` in this process (the same function the command line calls), its output captured. */
async function fibcEvidence(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => void out.push(parts.join(" "));
  console.error = (...parts: unknown[]) => void err.push(parts.join(" "));
  try {
    const code = await evidenceMain(args);
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

describe("Fork evidence for anyone: fibc evidence check / submit and the watchtower", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "fibc-evidence-"));
  let a: Chain, b: Chain, c: Chain;
  let servers: RpcServer[];
  let forkHeight: bigint;
  let good: Evidence;
  const goodFile = join(dir, "evidence.json");
  /** `--rpc <url> --registry <address>` of the chains given. */
  const endpoints = (...chains: Chain[]) => chains.flatMap((ch) => ["--rpc", servers[[a, b, c].indexOf(ch)]!.url, "--registry", ch.registry.address]);
  const nonces = (address: Hex) => Promise.all([a, b, c].map((ch) => ch.publicClient.getTransactionCount({ address })));
  const frozenOn = async () => [(await a.registry.read.isFrozen([b.chainId])) && a.chainId, (await c.registry.read.isFrozen([b.chainId])) && c.chainId].filter((x) => x !== false);

  before(async () => {
    [a, b, c] = (await deploySystem({ networks: ["chainA", "chainB", "chainC"], q: 4 })) as [Chain, Chain, Chain];
    servers = [a, b, c].map((ch) => new RpcServer(ch));
    for (const s of servers) await s.up();
    // The attack of section VI.B with no relayer anywhere: B's committee (3 of 4 sign) shows branch b1 to A and branch b2 to C.
    const attack = await ForkAttack.begin({ client: b.publicClient, chainId: b.chainId, gateway: b.gateway.address, k: K, colluders: b.committee.slice(0, 3) });
    forkHeight = attack.forkHeight;
    await b.token.write.mint([b.users.bob.account.address, 1n]); // b1's first block carries a transaction b2's lacks
    await mine(b, 20);
    const post = async (to: Chain) => {
      const views = await attack.signedViews({ after: await to.registry.read.latestHeight([b.chainId]), from: forkHeight + 1n, to: await b.publicClient.getBlockNumber({ cacheTime: 0 }) });
      for (const { view, signatures, bridge } of views) await to.registry.write.submitView([view, signatures, bridge]);
    };
    await post(a);
    await attack.switchToSecondBranch();
    await mine(b, 25);
    await post(c);
  });

  after(async () => {
    for (const s of servers ?? []) await s.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it("check finds B's fork across A's and C's registries, with the height where its views part, and writes the evidence file", async () => {
    const { code, stdout, stderr } = await fibcEvidence("check", ...endpoints(a, b, c), "--out", goodFile, "--json");
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout);
    assert.equal(report.registries.length, 3);
    assert.equal(report.forks.length, 1, "one forked chain");
    const [fork] = report.forks;
    assert.equal(fork.chainId, b.chainId.toString());
    // b1's first block holds the mint, b2's does not: the views part exactly at the first block after the snapshot.
    assert.deepEqual(fork.parting, { from: (forkHeight + 1n).toString(), to: (forkHeight + 1n).toString() });
    assert.deepEqual([fork.a.on, fork.b.on].sort(), [a.chainId.toString(), c.chainId.toString()]);
    assert.deepEqual(fork.frozenOn, []);
    good = decodeEvidence(readFileSync(goodFile, "utf8"), goodFile);
    assert.deepEqual(JSON.parse(encodeEvidence(good)), fork.evidence, "the file holds the evidence the report shows");

    const words = await fibcEvidence("check", ...endpoints(a, b, c));
    assert.match(words.stdout, new RegExp(`FORK: chain ${b.chainId} signed two histories: .* they part at height ${forkHeight + 1n} \\(both hold the same block at ${forkHeight}\\)`));
  });

  it("reads evidence from a relayer's log line as from a file", () => {
    const line = `2026-12-01T00:00:00.000Z fork evidence against chain ${b.chainId}: two signed views that cannot both be its history: ${encodeEvidence(good)}`;
    assert.deepEqual(decodeEvidence(`starting\n${line}\nmore\n`, "relayer.log"), good);
  });

  {
    // Bad evidence, each refused before any transaction (these run while B is frozen nowhere).
    const signedBy = async (keys: Hex[], view: View, gateway: Hex) => orderSignatures(await Promise.all(keys.map((key) => signView(privateKeyToAccount(key), view, gateway))));
    const strangers = [1, 2, 3].map((i) => keccak256(stringToHex(`stranger/${i}`)));
    const cases: { title: string; code: string; says: RegExp; evidence: () => Promise<Evidence | string>; before?: () => Promise<void>; after?: () => Promise<void> }[] = [
      {
        title: "attack: one view altered after its committee signed it",
        code: "bad-signature",
        says: /view b \(height \d+\) does not hold against chain 1002's committee on chain 100[13]: .*not in the committee/,
        evidence: async () => ({ a: good.a, b: { ...good.b, view: { ...good.b.view, hashes: good.b.view.hashes.map((h, i) => (i === 0 ? flipByte(h, 0) : h)) } } }),
      },
      {
        title: "attack: two views of different chains passed off as a fork",
        code: "different-chains",
        says: /view a is of chain 1002 and view b of chain 1003/,
        evidence: async () => {
          const view = await viewOf(c);
          return { a: good.a, b: { view, signatures: await sign(c, view) } };
        },
      },
      { title: "the same view twice", code: "identical", says: /both views are chain 1002's view at height \d+: one history/, evidence: async () => ({ a: good.a, b: good.a }) },
      {
        title: "two views of one history",
        code: "not-conflicting",
        says: /do not conflict/,
        evidence: async () => {
          const [x, y] = await Promise.all([viewOf(b, K, forkHeight - 3n), viewOf(b, K, forkHeight - 1n)]);
          return { a: { view: x, signatures: await sign(b, x) }, b: { view: y, signatures: await sign(b, y) } };
        },
      },
      {
        title: "attack: a fork signed by keys outside B's committee",
        code: "bad-signature",
        says: /not in the committee/,
        evidence: async () => ({
          a: { view: good.a.view, signatures: await signedBy(strangers, good.a.view, b.gateway.address) },
          b: { view: good.b.view, signatures: await signedBy(strangers, good.b.view, b.gateway.address) },
        }),
      },
      {
        title: "attack: a fork of a chain no registry knows",
        code: "unregistered",
        says: /chain 999 is not registered on chain 100[13]/,
        evidence: async () => {
          const hashes = [0, 1, 2, 3].map((i) => keccak256(stringToHex(`nowhere/${i}`)));
          const x: View = { chainId: 999n, height: 3n, acc: ZERO_HASH, hashes };
          const y: View = { ...x, hashes: [...hashes.slice(0, 3), keccak256(stringToHex("nowhere/other"))] };
          return { a: { view: x, signatures: await signedBy(strangers, x, b.gateway.address) }, b: { view: y, signatures: await signedBy(strangers, y, b.gateway.address) } };
        },
      },
      {
        title: "a sound fork while chain C's endpoint is down",
        code: "endpoint-down",
        says: /does not answer: nothing sent/,
        evidence: async () => good,
        before: () => servers[2]!.down(),
        after: () => servers[2]!.up(),
      },
      { title: "a file that is not evidence", code: "bad-file", says: /not fork evidence \(a\.view\.hashes/, evidence: async () => JSON.stringify({ kind: "evidence", a: { view: { chainId: "1", height: "0", acc: ZERO_HASH, hashes: ["0xAB"] }, signatures: [] }, b: {} }) },
    ];
    for (const t of cases) {
      const exit = t.code === "endpoint-down" ? 4 : 1; // fibc's exit codes: 4 for an endpoint that does not answer
      it(`bad evidence, ${t.title}: exit ${exit}, "${t.code}", no transaction on any chain`, async () => {
        const file = join(dir, `${t.code}.json`);
        const evidence = await t.evidence();
        writeFileSync(file, typeof evidence === "string" ? evidence : encodeEvidence(evidence, 2));
        const before = await nonces(SENDER);
        await t.before?.();
        let run;
        try {
          run = await fibcEvidence("submit", "--file", file, "--all", ...endpoints(a, b, c), "--json");
        } finally {
          await t.after?.();
        }
        assert.equal(run.code, exit, run.stdout + run.stderr);
        const json = JSON.parse(run.stdout);
        const refusals: { code: string; reason: string }[] = json.error !== undefined ? [{ code: json.error.code, reason: json.error.message }] : json.results;
        assert.ok(refusals.some((r) => r.code === t.code && t.says.test(r.reason)), JSON.stringify(refusals));
        assert.deepEqual(await nonces(SENDER), before, "no transaction sent");
        assert.deepEqual(await frozenOn(), []);
      });
    }
  }

  it("attack: any field of either view altered (fast-check picks which and how) is refused before any transaction", async () => {
    const before = await nonces(SENDER);
    const account = privateKeyToAccount(HARDHAT_ACCOUNT_3_KEY);
    const targets = [a, c].map((ch, i) => ({ chainId: ch.chainId, url: servers[i * 2]!.url, registry: ch.registry.address }));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("a", "b"), fc.constantFrom("acc", "hash", "height"), fc.nat(15), fc.nat(31), async (which, field, index, byte) => {
        const signed = good[which as "a" | "b"];
        const view =
          field === "acc" ? { ...signed.view, acc: flipByte(signed.view.acc, byte) }
          : field === "hash" ? { ...signed.view, hashes: signed.view.hashes.map((h, i) => (i === index % signed.view.hashes.length ? flipByte(h, byte) : h)) }
          : { ...signed.view, height: signed.view.height + 1n + BigInt(index) };
        const evidence = { ...good, [which]: { ...signed, view } };
        const results = await submitEvidence({ evidence, targets, account }).catch((error: Error) => [{ outcome: "refused", reason: error.message }]);
        assert.ok(results.every((r) => r.outcome === "refused"), JSON.stringify(results, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
      }),
      { numRuns: 25 },
    );
    assert.deepEqual(await nonces(SENDER), before, "no transaction sent");
    assert.deepEqual(await frozenOn(), []);
  });

  it("where two views part: the forked height lies in the range reported, and the finder pairs exactly the views relate calls conflicting (fast-check)", () => {
    const hash = (branch: string, h: number): Hex => keccak256(toHex(`${branch}/${h}`));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 16 }), (fork, upX, upY, k) => {
        // Two branches share heights 0..fork − 1 and differ from `fork` on; a view of each at or above the fork.
        const branch = (name: string, top: number) => Array.from({ length: top + 1 }, (_, h) => hash(h < fork ? "common" : name, h));
        const x = buildView({ chainId: 7n, k, blockHashes: branch("x", fork + upX) });
        const y = buildView({ chainId: 7n, k, blockHashes: branch("y", fork + upY) });
        const finder = new ForkFinder();
        finder.add({ view: x, signatures: [], on: 1n, blockNumber: 1n });
        const forks = finder.add({ view: y, signatures: [], on: 2n, blockNumber: 1n });
        assert.equal(forks.length, relate(x, y) === "conflicting" ? 1 : 0);
        if (forks.length === 1) {
          const { from, to } = parting(x, y);
          assert.ok(from <= BigInt(fork) && BigInt(fork) <= to, `fork at ${fork}, reported ${from}..${to}`);
          assert.deepEqual(forks[0]!.parting, { from, to });
        }
      }),
      { numRuns: 150 },
    );
  });

  it("submit --to A freezes and slashes B there and pays the sender the reward; a second sender, while that transaction waits in the mempool, and the same file again are refused as already frozen, sending nothing", async () => {
    const balance = await a.publicClient.getBalance({ address: SENDER });
    // A mines only when told: the first submission's transaction waits in its mempool.
    await a.conn.provider.request({ method: "evm_setAutomine", params: [false] });
    let run;
    try {
      const first = fibcEvidence("submit", "--file", goodFile, "--to", a.chainId.toString(), ...endpoints(a, c));
      await until("the first submission in A's mempool", async () => (await a.publicClient.getTransactionCount({ address: SENDER, blockTag: "pending" })) > (await nonces(SENDER))[0]!);
      // A second sender, racing the first: it reads the registry at the pending block, finds B frozen there, and sends nothing.
      const otherKey = keccak256(stringToHex("second sender"));
      const other = privateKeyToAccount(otherKey).address;
      const racing = await submitEvidence({ evidence: good, targets: [{ chainId: a.chainId, url: servers[0]!.url, registry: a.registry.address }], account: privateKeyToAccount(otherKey) });
      assert.deepEqual(racing.map((r) => r.outcome), ["already-frozen"]);
      assert.equal(await a.publicClient.getTransactionCount({ address: other, blockTag: "pending" }), 0);
      await a.conn.provider.request({ method: "evm_mine", params: [] });
      run = await first;
    } finally {
      await a.conn.provider.request({ method: "evm_setAutomine", params: [true] });
    }
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`^chain ${a.chainId}: chain ${b.chainId} frozen at block \\d+ .*1000 coin of its bond slashed: 100 coin paid to you \\(${SENDER}\\), 400 coin kept .*, 500 coin burned`));
    assert.deepEqual(await frozenOn(), [a.chainId], "C is left alone: only --to A");
    const [frozen] = await a.publicClient.getContractEvents({ address: a.registry.address, abi: registryAbi, eventName: "ChainFrozen", fromBlock: 0n });
    const receipt = await a.publicClient.getTransactionReceipt({ hash: frozen!.transactionHash });
    assert.equal(frozen!.args.reporter, SENDER);
    assert.equal((await a.publicClient.getBalance({ address: SENDER })) - balance, REWARD - receipt.gasUsed * receipt.effectiveGasPrice);

    const noncesBefore = await nonces(SENDER);
    const again = await fibcEvidence("submit", "--file", goodFile, "--to", a.chainId.toString(), ...endpoints(a, c), "--json");
    assert.equal(again.code, 1);
    assert.deepEqual(JSON.parse(again.stdout).results.map((r: { outcome: string }) => r.outcome), ["already-frozen"]);
    assert.deepEqual(await nonces(SENDER), noncesBefore);
  });

  it("attack: B's honest relayers are gone and C's endpoint is away; a watchtower finds the fork in A's events alone, freezes B on C once C is back, and a restarted one sends nothing", async () => {
    const account = privateKeyToAccount(WATCHTOWER_KEY);
    const lines: string[] = [];
    const chains = [a, b, c].map((ch, i) => ({ url: servers[i]!.url, registry: ch.registry.address }));
    await servers[2]!.down();
    const first = new Watchtower({ chains, account, pollMs: 100, metrics: { host: "127.0.0.1", port: 0 }, log: (line) => lines.push(line) });
    await first.start();
    try {
      const status = async () => (await fetch(`http://127.0.0.1:${first.metricsPort}/status`)).json() as Promise<{ forks: { chainId: string; standing: Record<string, string> }[] }>;
      // A's registry froze B on the evidence `submit` sent: its ForkProven event carries both views.
      await until("the watchtower finding B's fork", async () => (await status()).forks.length === 1);
      await until("the watchtower finding C's endpoint away", () => lines.some((l) => l.includes(`endpoint ${servers[2]!.url} does not answer`)));
      assert.deepEqual((await status()).forks[0]!.standing, { [a.chainId.toString()]: "frozen by another reporter" });
      const balance = await c.publicClient.getBalance({ address: account.address });
      await servers[2]!.up();
      await until("B frozen on C", async () => (await c.registry.read.isFrozen([b.chainId])) && (await status()).forks[0]!.standing[c.chainId.toString()] !== undefined);
      assert.deepEqual((await status()).forks[0]!.standing, { [a.chainId.toString()]: "frozen by another reporter", [c.chainId.toString()]: "frozen by this watchtower" });
      const [frozen] = await c.publicClient.getContractEvents({ address: c.registry.address, abi: registryAbi, eventName: "ChainFrozen", fromBlock: 0n });
      assert.equal(frozen!.args.reporter, account.address);
      const receipt = await c.publicClient.getTransactionReceipt({ hash: frozen!.transactionHash });
      assert.equal((await c.publicClient.getBalance({ address: account.address })) - balance, REWARD - receipt.gasUsed * receipt.effectiveGasPrice);
      assert.match(await (await fetch(`http://127.0.0.1:${first.metricsPort}/metrics`)).text(), /^fibc_transactions_sent_total\{step="submitForkEvidence"\} 1$/m);
    } finally {
      await first.stop();
    }

    const sent = await nonces(account.address);
    assert.deepEqual(sent, [0, 0, 1], "one transaction, on C");
    const restarted = new Watchtower({ chains, account, pollMs: 100, log: (line) => lines.push(line) });
    await restarted.start();
    try {
      await until("the restarted watchtower reading both freezes", () => {
        const standing = (restarted.status().forks as { standing: Record<string, string> }[])[0]?.standing ?? {};
        return Object.keys(standing).length === 2;
      });
      await sleep(300);
    } finally {
      await restarted.stop();
    }
    assert.deepEqual(await nonces(account.address), sent, "nothing sent again");
    const count = async (ch: Chain) => (await ch.publicClient.getContractEvents({ address: ch.registry.address, abi: registryAbi, eventName: "ChainFrozen", fromBlock: 0n })).length;
    assert.deepEqual([await count(a), await count(c)], [1, 1], "B slashed once on each chain");
  });

  it("attack: a BLS committee signs two histories; an aggregate that signs another view is refused before any transaction, and the sound evidence freezes it on A and pays the sender", async () => {
    const chain = syntheticChain(2001n, 4);
    await registerBls(a, chain, { bond: BOND });
    const x = syntheticView(chain, 20n);
    const y = syntheticView(chain, 20n, { name: "b2", from: 12n });
    const targets = [{ chainId: a.chainId, url: servers[0]!.url, registry: a.registry.address }];
    const account = privateKeyToAccount(HARDHAT_ACCOUNT_3_KEY);
    const before = await nonces(SENDER);
    const [bad] = await submitEvidence({ evidence: { a: { view: x, signatures: signBls(chain, x) }, b: { view: y, signatures: signBls(chain, x) } }, targets, account });
    assert.equal(bad!.outcome, "refused");
    assert.match((bad as { reason: string }).reason, /would refuse it: ViewRegistryInvalidSignature\(0\): signature 0 of the view is malformed or does not recover/);
    assert.deepEqual(await nonces(SENDER), before, "no transaction sent");

    const [sound] = await submitEvidence({ evidence: { a: { view: x, signatures: signBls(chain, x) }, b: { view: y, signatures: signBls(chain, y) } }, targets, account });
    assert.equal(sound!.outcome, "frozen");
    assert.equal((sound as { reward: bigint }).reward, REWARD);
    assert.deepEqual(parting(x, y), { from: 12n, to: 12n });
  });
});
