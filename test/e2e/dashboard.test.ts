import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { createPublicClient, http, keccak256, parseEther, stringToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { chromium, type Browser, type Page } from "playwright-core";
import { DashboardServer } from "../../relayer/dashboard/dashboardServer.js";
import { Devnet, type DevnetFile } from "../../relayer/devnet/devnet.js";
import { DevnetError } from "../../relayer/devnet/devnetError.js";
import { devnetSwapSides, runSwap, type SwapResult } from "../../relayer/devnet/swap.js";
import { registryAbi } from "../../relayer/chain/abis.js";
import { connect, transact } from "../../relayer/devnet/connect.js";
import { orderSignatures, signView } from "../../relayer/view/signView.js";
import { buildView } from "../../relayer/view/view.js";
import { devnetBasePort } from "../fixtures/freePort.js";

const exec = promisify(execFile);

/** Runs `fibc args…` (the launcher, with the Node running the tests); never throws on a non-zero exit. */
async function fibc(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [join("bin", "fibc.js"), ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** Debian's chromium; .ci/run installs it when missing. A test tool cannot download a browser of its own here. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Kept after the run: the screenshot the README shows is a copy of it. */
const ARTIFACTS = resolve(import.meta.dirname, "..", "..", "test-artifacts");

describe("the dashboard in a real browser (chromium, a devnet of real processes)", function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), "fibc-dashboard-"));
  const devnet = new Devnet();
  let file: DevnetFile;
  let dashboard: DashboardServer;
  let browser: Browser;
  let page: Page;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium), as .ci/run does`);
    for (let attempt = 1; ; attempt++) {
      const basePort = await devnetBasePort(2, 3);
      try {
        file = await devnet.up({ chains: 2, validatorsPerChain: 3, basePort, k: 16, blockMs: 250, dir });
        break;
      } catch (error) {
        if (!(error instanceof DevnetError && error.message.includes("already in use")) || attempt === 5) throw error;
      }
    }
    dashboard = new DashboardServer({ dir, port: 0, intervalMs: 500 });
    await dashboard.start();
    // As root (CI), chromium runs only without its sandbox.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(dashboard.url);
  });

  after(async function () {
    // The page as the tests left it (a swap released, a chain frozen), or as it was when one failed.
    if (page !== undefined) {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true }).catch(() => undefined);
      console.log(`      screenshot: ${join(ARTIFACTS, "dashboard.png")}`);
    }
    await browser?.close();
    await dashboard?.stop();
    await devnet.down({ dir }).catch(() => undefined);
    await devnet.stop();
    if (this.test!.parent!.tests.every((t) => t.state === "passed")) rmSync(dir, { recursive: true, force: true });
    else console.log(`devnet logs kept in ${dir}`);
  });

  it("shows both chains live with their committees, and every relayer's view-list gaps", async () => {
    await page.locator("#connection", { hasText: "live" }).waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll("#chains tbody tr td.head").length === 2 && [...document.querySelectorAll("#chains tbody tr td.head")].every((td) => /^\d+$/.test(td.textContent ?? "")));
    for (const chain of file.chains) {
      await page.locator(`#chains tbody tr[data-chain="${chain.chainId}"]`).getByText("2 of 3, ECDSA, k 16").waitFor({ timeout: 5_000 });
    }
    // Every node's newest view of each chain, in blocks behind its head: numbers once the relayers have gossiped.
    await page.waitForFunction(() => {
      const cells = [...document.querySelectorAll("#gaps tbody td.gap")];
      return cells.length === 6 * 2 && cells.every((td) => /^\d+$/.test(td.textContent ?? ""));
    }, undefined, { timeout: 30_000 });
  });

  it("shows a swap's two sides, linked, moving to released on both chains", async () => {
    const [a, b] = file.chains as [DevnetFile["chains"][number], DevnetFile["chains"][number]];
    const sides = devnetSwapSides(file, a.chainId, b.chainId, { asset: "token", amount: parseEther("10") }, { asset: "coin", amount: parseEther("1") });
    const swap: Promise<SwapResult> = runSwap({ ...sides, ttl: 30 });
    const row = page.locator("tr.swap");
    await row.first().waitFor({ timeout: 20_000 });
    const seen = new Set<string>();
    const released = page.waitForSelector('tr.swap[data-statuses="released,released"]', { timeout: 60_000 });
    // What the page went through on the way: each side registered or committed before it was released.
    const watch = setInterval(() => void row.first().getAttribute("data-statuses").then((s) => s !== null && seen.add(s)).catch(() => undefined), 200);
    try {
      await released;
    } finally {
      clearInterval(watch);
    }
    const result = await swap;
    assert.equal(result.from.outcome, "released");
    assert.equal(result.to.outcome, "released");
    assert.ok([...seen].some((s) => s !== "released,released"), `the page showed the swap only once released (${[...seen].join(" | ")})`);

    // The two sides name each other: each cell links to the other's anchor.
    const cells = row.first().locator("td.side");
    const ids = await cells.evaluateAll((tds) => tds.map((td) => td.id));
    const links = await cells.locator("a.mirror").evaluateAll((as) => as.map((x) => x.getAttribute("href")));
    assert.deepEqual(links, [`#${ids[1]}`, `#${ids[0]}`]);
    assert.ok(ids.includes(`side-${result.from.chainId}-${result.from.contractId}`) && ids.includes(`side-${result.to.chainId}-${result.to.contractId}`));

    // Messages flowed: the network table shows request and answer traffic.
    await page.waitForFunction(() => [...document.querySelectorAll("#relayers tbody tr")].some((tr) => /[1-9]\d* \(/.test(tr.children[5]?.textContent ?? "")));
  });

  it("fibc: a swap above the bond cover is refused in words through a real hardhat node (exit code 3, --json names the error); status --json", async () => {
    const [a, b] = file.chains as [DevnetFile["chains"][number], DevnetFile["chains"][number]];
    const [swap, status] = await Promise.all([
      fibc("swap", "--dir", dir, "--from", a.chainId, "--to", b.chainId, "--give", "5000coin", "--get", "1coin", "--json"),
      fibc("status", "--dir", dir, "--json"),
    ]);
    assert.equal(swap.code, 3, swap.stderr);
    assert.match(swap.stderr, new RegExp(`GatewayExposureCapExceeded\\(${b.chainId}, \\d+, 400000000000000000000\\): .*chain ${b.chainId}'s bond on chain ${a.chainId} covers 400 ETH`));
    assert.doesNotMatch(swap.stderr + swap.stdout, /0x0db74ee0/);
    const output = JSON.parse(swap.stdout) as { exitCode: number; revert: { errorName: string; args: string[] } };
    assert.equal(output.exitCode, 3);
    assert.equal(output.revert.errorName, "GatewayExposureCapExceeded");
    assert.deepEqual(output.revert.args.slice(0, 1), [b.chainId]);

    assert.equal(status.code, 0, status.stderr);
    const shown = JSON.parse(status.stdout) as { chains: { chainId: string; alive: boolean; height: string }[]; relayers: { alive: boolean; status: { peers: { connected: number } } }[] };
    assert.deepEqual(shown.chains.map((c) => [c.chainId, c.alive]), file.chains.map((c) => [c.chainId, true]));
    assert.ok(shown.chains.every((c) => /^\d+$/.test(c.height)));
    assert.equal(shown.relayers.length, 6);
    assert.ok(shown.relayers.every((r) => r.alive && r.status.peers.connected === 5));
  });

  it("shows a fork when it appears: which chain froze which, on what evidence, and the slash split", async () => {
    const [a, b] = file.chains as [DevnetFile["chains"][number], DevnetFile["chains"][number]];
    // B's committee (its keys are in devnet.json) signs two views of one height: the accepted one and another branch.
    const owner = await connect({ rpcUrl: a.url, key: file.owner.key });
    const height = await owner.publicClient.readContract({ address: a.registry, abi: registryAbi, functionName: "latestHeight", args: [BigInt(b.chainId)] });
    const clientB = createPublicClient({ transport: http(b.url) });
    const blockHashes = await Promise.all(Array.from({ length: Number(height) + 1 }, (_, n) => clientB.getBlock({ blockNumber: BigInt(n) }).then((block) => block.hash!)));
    const view = buildView({ chainId: BigInt(b.chainId), k: file.k, blockHashes });
    const forged = { ...view, hashes: [...view.hashes.slice(0, -1), keccak256(stringToHex("the other branch"))] };
    const signed = async (v: typeof view) => orderSignatures(await Promise.all(b.committee.map((m) => signView(privateKeyToAccount(m.key), v, b.gateway))));
    const [sigView, sigForged] = await Promise.all([signed(view), signed(forged)]);
    await transact(owner, "submitting fork evidence", () =>
      owner.wallet.writeContract({ address: a.registry, abi: registryAbi, functionName: "submitForkEvidence", args: [view, sigView, forged, sigForged] }),
    );

    const freeze = page.locator(`.freeze[data-chain="${b.chainId}"]`);
    await freeze.waitFor({ timeout: 15_000 });
    const text = (await freeze.textContent()) ?? "";
    assert.match(text, new RegExp(`chain ${b.chainId} frozen on chain ${a.chainId} at block \\d+, on two conflicting signed views \\(submitForkEvidence\\)`));
    assert.match(text, /slashed 1,000 ETH: 100 ETH reward, 400 ETH pool, 500 ETH burned/);
    await page.locator(`#chains tr[data-chain="${b.chainId}"]`).getByText(/frozen at \d+, on two conflicting signed views/).waitFor({ timeout: 5_000 });
  });
});
