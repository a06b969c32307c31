import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keccak256, parseEther, stringToHex, zeroHash } from "viem";
import { NetworkWatcher } from "../../relayer/dashboard/networkWatcher.js";
import type { DevnetFile } from "../../relayer/devnet/devnet.js";
import { RpcServer } from "../fixtures/rpcServer.js";
import { prepareSwap, registerLeg } from "../fixtures/swap.js";
import { BOND, committeeKeys, deploySystem, K, NO_POST, recordProofs, relayView, sign, viewOf, type Chain } from "../fixtures/system.js";

/** A devnet.json for chains someone else runs (no processes, no relayers), as `fibc deploy` writes it. */
function devnetFile(chains: { chain: Chain; url: string }[]): DevnetFile {
  return {
    createdAt: new Date().toISOString(),
    k: K,
    r: { numerator: 2, denominator: 3 },
    blockMs: 1_000,
    bond: BOND.toString(),
    registry: { slashRewardBps: 1_000, poolBps: 4_000 },
    gateway: { compensationWindow: "200", maxLifetime: "1000", claimPeriod: "1300" },
    owner: { address: "0x0000000000000000000000000000000000000001", key: zeroHash },
    chains: chains.map(({ chain, url }) => ({
      chainId: chain.chainId.toString(),
      url,
      registry: chain.registry.address,
      gateway: chain.gateway.address,
      token: chain.token.address,
      scheme: "ECDSA",
      committee: chain.committee.map((m, i) => ({ address: m.address, key: committeeKeys(chain.chainId, chain.committee.length)[i]! })),
    })),
    nodeConfigs: [],
    relayers: [],
  };
}

describe("NetworkWatcher: what the dashboard shows, read from the chains", function () {
  this.timeout(120_000);
  let a: Chain, b: Chain;
  let rpcA: RpcServer, rpcB: RpcServer;
  const dir = mkdtempSync(join(tmpdir(), "fibc-watcher-"));

  before(async () => {
    [a, b] = (await deploySystem({ networks: ["chainA", "chainB"], q: 3 })) as [Chain, Chain];
    rpcA = new RpcServer(a);
    rpcB = new RpcServer(b);
    await rpcA.up();
    await rpcB.up();
    writeFileSync(join(dir, "devnet.json"), JSON.stringify(devnetFile([{ chain: a, url: rpcA.url }, { chain: b, url: rpcB.url }])));
  });

  after(async () => {
    await rpcA?.down();
    await rpcB?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it("says what is missing while a directory holds no devnet", async () => {
    const snapshot = await new NetworkWatcher(join(dir, "nothing")).snapshot();
    assert.match(snapshot.problem ?? "", /no devnet in .*nothing/);
    assert.deepEqual(snapshot.chains, []);
  });

  it("links a swap's two sides, puts a pre-committed side on its chain's waiting list by expiry, and names the evidence that froze a chain", async () => {
    const watcher = new NetworkWatcher(dir);
    const headA = await a.publicClient.getBlockNumber();
    const headB = await b.publicClient.getBlockNumber();
    const swaps = [];
    for (const [i, ttl] of [60n, 40n].entries()) {
      await a.token.write.mint([a.users.alice.account.address, parseEther("5")]);
      const swap = await prepareSwap(
        { chain: a, payer: a.users.alice, beneficiary: b.users.bob.account.address, asset: a.token.address, amount: parseEther("5"), expiry: headA + ttl },
        { chain: b, payer: b.users.bob, beneficiary: a.users.alice.account.address, asset: "0x0000000000000000000000000000000000000000", amount: parseEther("1"), expiry: headB + ttl },
        keccak256(stringToHex(`swap ${i}`)),
      );
      await registerLeg(swap.x, swap.regX);
      await registerLeg(swap.y, swap.regY);
      swaps.push(swap);
    }
    let snapshot = await watcher.snapshot();
    assert.equal(snapshot.problem, null);
    assert.equal(snapshot.swaps.length, 2);
    for (const swap of swaps) {
      const shown = snapshot.swaps.find((s) => s.sides[0].contractId === swap.idX);
      assert.ok(shown, "each swap is shown once, its side on the lower chain id first");
      assert.deepEqual(shown.sides.map((s) => [s.chainId, s.contractId, s.status, s.asset]), [
        [a.chainId.toString(), swap.idX, "registered", "token"],
        [b.chainId.toString(), swap.idY, "registered", "coin"],
      ]);
    }
    const [chainA] = snapshot.chains;
    assert.equal(chainA!.scheme, "ECDSA");
    assert.equal(chainA!.threshold, 2);
    assert.deepEqual(chainA!.counterparties.map((c) => [c.of, c.bond, c.capacity, c.exposure, c.frozen]), [[b.chainId.toString(), BOND.toString(), ((BOND * 4n) / 10n).toString(), parseEther("10").toString(), false]]);

    // Both of A's sides pre-committed on a proof of their mirrors: the waiting list has the sooner expiry first.
    await relayView(b, a);
    const proof = await recordProofs(b, a, swaps.map((s) => s.idY));
    await a.gateway.write.precommit([NO_POST, proof.at, swaps.map((s) => s.regX), proof.storageProofs]);
    snapshot = await watcher.snapshot();
    assert.deepEqual(snapshot.chains[0]!.waiting.map((w) => [w.contractId, w.expiry]), [
      [swaps[1]!.idX, (headA + 40n).toString()],
      [swaps[0]!.idX, (headA + 60n).toString()],
    ]);
    assert.deepEqual(snapshot.swaps.map((s) => s.sides[0].status), ["committed", "committed"]);

    // B's committee signs two views of one height; A's registry freezes B on that evidence.
    const latest = await a.registry.read.latestHeight([b.chainId]);
    const view = await viewOf(b, K, latest);
    const hashes = [...view.hashes];
    hashes[hashes.length - 1] = keccak256(stringToHex("the other branch"));
    const forged = { ...view, hashes };
    await a.registry.write.submitForkEvidence([view, await sign(b, view), forged, await sign(b, forged)]);
    snapshot = await watcher.snapshot();
    assert.equal(snapshot.freezes.length, 1);
    const [freeze] = snapshot.freezes;
    assert.equal(freeze!.chainId, b.chainId.toString());
    assert.equal(freeze!.on, a.chainId.toString());
    assert.equal(freeze!.evidence, "two conflicting signed views (submitForkEvidence)");
    assert.equal(freeze!.slashed, BOND.toString());
    assert.equal(BigInt(freeze!.reward) + BigInt(freeze!.pool) + BigInt(freeze!.burned), BOND);
    const seenOnA = snapshot.chains[0]!.counterparties[0]!;
    assert.equal(seenOnA.frozen, true);
    assert.equal(seenOnA.frozenAt, freeze!.height);
  });
});
