import assert from "node:assert/strict";
import { encodeAbiParameters, keccak256, parseEther, type Hex } from "viem";
import {
  BOND,
  COMPENSATION_WINDOW,
  deploySystem,
  mine,
  mineTo,
  recordProof,
  relayView,
  sign,
  type Chain,
} from "../fixtures/system.js";
import { getStorageProof } from "../../relayer/chain/recordProof.js";
import { NATIVE, prepareSwap, registerLeg, type Swap } from "../fixtures/swap.js";
import { flipByte, revertsWith } from "../fixtures/tamper.js";

const Status = { None: 0, Registered: 1, Committed: 2, Released: 3, Refunded: 4, Cancelled: 5 } as const;
const TTL = 40n;

async function statusOf(chain: Chain, id: Hex) {
  const [status] = await chain.gateway.read.recordOf([id]);
  return status;
}

/** Alice pays 100 tokens on x to Bob; Bob pays 1 coin on y to Alice. */
async function tokenForCoin(x: Chain, y: Chain, salt?: Hex): Promise<Swap> {
  const { alice, bob } = x.users;
  await x.token.write.mint([alice.account.address, 1000n]);
  return prepareSwap(
    { chain: x, payer: alice, beneficiary: bob.account.address, asset: x.token.address, amount: 100n, expiry: (await x.publicClient.getBlockNumber()) + TTL },
    { chain: y, payer: y.users.bob, beneficiary: alice.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await y.publicClient.getBlockNumber()) + TTL },
    salt,
  );
}

async function registerBoth(swap: Swap) {
  await registerLeg(swap.x, swap.regX);
  await registerLeg(swap.y, swap.regY);
}

async function precommitBoth(swap: Swap) {
  const [x, y] = [swap.x.chain, swap.y.chain];
  await relayView(y, x);
  await relayView(x, y);
  await x.gateway.write.precommit([swap.idX, await recordProof(y, x, swap.idY)]);
  await y.gateway.write.precommit([swap.idY, await recordProof(x, y, swap.idX)]);
}

/** Both chains past their expiries, and each one's view of the other past it too. */
async function expireBoth(swap: Swap) {
  const [x, y] = [swap.x.chain, swap.y.chain];
  await mineTo(x, swap.regX.h1 + 1n);
  await mineTo(y, swap.regY.h1 + 1n);
  await relayView(y, x);
  await relayView(x, y);
}

/** Freezes `target` on `on` by submitting a view of `target` that conflicts with the accepted one. */
async function freeze(target: Chain, on: Chain) {
  const view = await on.registry.read.latestView([target.chainId]);
  const forged = { ...view, hashes: [...view.hashes.slice(0, -1), keccak256("0x01")] };
  await on.registry.write.submitView([forged, await sign(target, forged)]);
  assert.equal(await on.registry.read.isFrozen([target.chainId]), true);
}

describe("Gateway", () => {
  let a: Chain;
  let b: Chain;
  beforeEach(async () => {
    [a, b] = await deploySystem();
  });

  describe("terminate", () => {
    it("pays each user the other's asset when both sides pre-commit (ERC-20 for native coin)", async () => {
      const swap = await tokenForCoin(a, b);
      const alice = a.users.alice.account.address;
      const bob = b.users.bob.account.address;
      const aliceCoinBefore = await b.publicClient.getBalance({ address: alice });

      await registerBoth(swap);
      assert.equal(await a.token.read.balanceOf([a.gateway.address]), 100n);
      await precommitBoth(swap);
      assert.equal(await statusOf(a, swap.idX), Status.Committed);
      assert.equal(await statusOf(b, swap.idY), Status.Committed);
      assert.deepEqual(await a.gateway.read.waitingListHead(), [swap.regX.h1, [swap.idX]]);

      await expireBoth(swap);
      await a.gateway.write.terminate([swap.idX, await recordProof(b, a, swap.idY)]);
      await b.gateway.write.terminate([swap.idY, await recordProof(a, b, swap.idX)]);

      assert.equal(await statusOf(a, swap.idX), Status.Released);
      assert.equal(await statusOf(b, swap.idY), Status.Released);
      assert.equal(await a.token.read.balanceOf([bob]), 100n);
      assert.equal(await a.token.read.balanceOf([alice]), 900n);
      assert.equal(await b.publicClient.getBalance({ address: alice }), aliceCoinBefore + parseEther("1"));
      assert.equal(await a.token.read.balanceOf([a.gateway.address]), 0n);
      assert.equal(await b.publicClient.getBalance({ address: b.gateway.address }), 0n);
      assert.deepEqual(await a.gateway.read.waitingListHead(), [0n, []]);
      assert.equal(await a.gateway.read.exposureOf([b.chainId]), 0n);
    });

    it("refunds with tx1' when the counterparty registered but never pre-committed before h2", async () => {
      const swap = await tokenForCoin(a, b);
      const bob = b.users.bob.account.address;
      await registerBoth(swap);
      await relayView(b, a);
      await a.gateway.write.precommit([swap.idX, await recordProof(b, a, swap.idY)]);
      await expireBoth(swap);
      const bobCoinBefore = await b.publicClient.getBalance({ address: bob });

      await a.gateway.write.terminate([swap.idX, await recordProof(b, a, swap.idY)]);
      await b.gateway.write.cancel([swap.idY], { account: a.users.carol.account }); // anyone may cancel

      assert.equal(await statusOf(a, swap.idX), Status.Refunded);
      assert.equal(await statusOf(b, swap.idY), Status.Cancelled);
      assert.equal(await a.token.read.balanceOf([a.users.alice.account.address]), 1000n);
      assert.equal(await b.publicClient.getBalance({ address: bob }), bobCoinBefore + parseEther("1"));
    });

    it("refuses before this chain passed h1 (GatewayNotExpired)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      await mineTo(b, swap.regY.h1 + 1n);
      await relayView(b, a);
      await assert.rejects(a.gateway.write.terminate([swap.idX, await recordProof(b, a, swap.idY)]), revertsWith("GatewayNotExpired"));
    });

    it("refuses before the counterparty's accepted view passed h2 (GatewayCounterpartyViewBehind)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      await mineTo(a, swap.regX.h1 + 1n);
      await mineTo(b, swap.regY.h1 + 1n); // B passed h2, but A has not heard of it
      await assert.rejects(a.gateway.write.terminate([swap.idX, await recordProof(b, a, swap.idY)]), revertsWith("GatewayCounterpartyViewBehind"));
    });

    it("refuses a proof taken below h2, even at an accepted height (GatewayProofTooOld)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      const early = await a.registry.read.latestHeight([b.chainId]);
      await expireBoth(swap);
      await assert.rejects(a.gateway.write.terminate([swap.idX, await recordProof(b, a, swap.idY, early)]), revertsWith("GatewayProofTooOld"));
    });

    it("makes a second termination of the same contract harmless (replay)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      await expireBoth(swap);
      const proof = await recordProof(b, a, swap.idY);
      await a.gateway.write.terminate([swap.idX, proof]);
      await assert.rejects(a.gateway.write.terminate([swap.idX, proof]), revertsWith("GatewayWrongStatus"));
      assert.equal(await a.token.read.balanceOf([a.users.bob.account.address]), 100n);
    });
  });

  describe("cancel", () => {
    it("returns both escrows at expiry when neither side could pre-commit", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await assert.rejects(b.gateway.write.cancel([swap.idY]), revertsWith("GatewayNotExpired"));
      await mineTo(a, swap.regX.h1 + 1n);
      await mineTo(b, swap.regY.h1 + 1n);
      const bob = b.users.bob.account.address;
      const bobCoinBefore = await b.publicClient.getBalance({ address: bob });
      await a.gateway.write.cancel([swap.idX]);
      await b.gateway.write.cancel([swap.idY]);
      assert.equal(await a.token.read.balanceOf([a.users.alice.account.address]), 1000n);
      assert.equal(await b.publicClient.getBalance({ address: bob }), bobCoinBefore + parseEther("1"));
      assert.equal(await a.gateway.read.exposureOf([b.chainId]), 0n);
    });

    it("returns the escrow when the counterparty never registers, and pre-commit finds no mirror", async () => {
      const swap = await tokenForCoin(a, b);
      await registerLeg(swap.x, swap.regX);
      await relayView(b, a);
      // The record slot is empty: its proof is an exclusion proof, which OpenZeppelin's TrieProof refuses.
      await assert.rejects(a.gateway.write.precommit([swap.idX, await recordProof(b, a, swap.idY)]), revertsWith("RLPInvalidEncoding"));
      await mineTo(a, swap.regX.h1 + 1n);
      await a.gateway.write.cancel([swap.idX]);
      assert.equal(await statusOf(a, swap.idX), Status.Cancelled);
      assert.equal(await a.token.read.balanceOf([a.users.alice.account.address]), 1000n);
    });

    it("refuses to pre-commit after h1 (GatewayExpired)", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await mineTo(a, swap.regX.h1 + 1n);
      await relayView(b, a);
      await assert.rejects(a.gateway.write.precommit([swap.idX, await recordProof(b, a, swap.idY)]), revertsWith("GatewayExpired"));
    });
  });

  describe("forged proofs", () => {
    let swap: Swap;
    beforeEach(async () => {
      swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await relayView(b, a);
    });

    it("refuses a proof of the wrong slot (another contract's record)", async () => {
      const other = await tokenForCoin(b, a, keccak256("0x02"));
      await registerLeg(other.x, other.regX);
      await relayView(b, a);
      const proof = await recordProof(b, a, other.idX);
      await assert.rejects(a.gateway.write.precommit([swap.idX, proof]), revertsWith("StateProofInvalid"));
    });

    it("refuses a proof whose value was changed (tampered leaf)", async () => {
      const proof = await recordProof(b, a, swap.idY);
      const leaf = proof.storageProof.length - 1;
      const storageProof = proof.storageProof.map((n, i) => (i === leaf ? flipByte(n, -1) : n));
      await assert.rejects(a.gateway.write.precommit([swap.idX, { ...proof, storageProof }]), revertsWith("StateProofInvalid"));
    });

    it("refuses a header that is not under an accepted block hash", async () => {
      const proof = await recordProof(b, a, swap.idY);
      const header = flipByte(proof.header, 100); // inside the state root
      await assert.rejects(a.gateway.write.precommit([swap.idX, { ...proof, header }]), revertsWith("GatewayHeaderNotAccepted"));
      await mine(b, 1); // a block of B that A has not accepted
      const head = await b.publicClient.getBlockNumber();
      await assert.rejects(a.gateway.write.precommit([swap.idX, await recordProof(b, a, swap.idY, head)]), revertsWith("GatewayHeaderNotAccepted"));
    });

    it("refuses a proof from another chain (chain C's state presented as chain B's)", async () => {
      const [x, y, z] = await deploySystem({ networks: ["chainA", "chainB", "chainC"] });
      const onX = await tokenForCoin(x, y);
      await registerLeg(onX.x, onX.regX);
      // The same registration on C, where the attacker controls nothing but can mirror the id's slot.
      const onZ = await tokenForCoin(z, x);
      await registerLeg(onZ.x, onZ.regX);
      await mineTo(z, await y.publicClient.getBlockNumber());
      await relayView(y, x);
      const height = await x.registry.read.latestHeight([y.chainId]);
      const fromZ = await getStorageProof({ client: z.publicClient, address: z.gateway.address, slot: await z.gateway.read.recordSlot([onZ.idX]), blockNumber: height });
      await assert.rejects(x.gateway.write.precommit([onX.idX, fromZ]), revertsWith("GatewayHeaderNotAccepted"));
    });

    it("refuses a tampered trie node in the account proof", async () => {
      const proof = await recordProof(b, a, swap.idY);
      const accountProof = proof.accountProof.map((n, i) => (i === 0 ? flipByte(n, 40) : n));
      await assert.rejects(a.gateway.write.precommit([swap.idX, { ...proof, accountProof }]), revertsWith("StateProofInvalid"));
    });

    it("refuses a proof of another Gateway's storage (an attacker contract claiming the record)", async () => {
      const writer = await b.viem.deployContract("SlotWriter");
      const slot = await b.gateway.read.recordSlot([swap.idY]);
      const [, registeredAt] = await b.gateway.read.recordOf([swap.idY]);
      await writer.write.write([slot, BigInt(Status.Committed) | (registeredAt << 8n) | (registeredAt << 72n)]);
      await relayView(b, a);
      const proof = await getStorageProof({
        client: b.publicClient,
        address: writer.address,
        slot,
        blockNumber: await a.registry.read.latestHeight([b.chainId]),
      });
      await assert.rejects(a.gateway.write.precommit([swap.idX, proof]), revertsWith("StateProofInvalid"));
    });
  });

  describe("the counterparty's bond", () => {
    it("refuses a contract that would take exposure past the bond (exposure cap)", async () => {
      const [x, y] = await deploySystem({ bond: parseEther("1.5") });
      const first = await tokenForCoin(y, x); // y's native leg is worth 1 coin against x's bond on y
      await registerLeg(first.y, first.regY);
      const second = await tokenForCoin(y, x, keccak256("0x03"));
      await assert.rejects(registerLeg(second.y, second.regY), revertsWith("GatewayExposureCapExceeded"));
      assert.equal(await x.gateway.read.exposureOf([y.chainId]), parseEther("1"));
      await mineTo(x, first.regY.h1 + 1n);
      await x.gateway.write.cancel([first.idY]);
      const third = await tokenForCoin(y, x, keccak256("0x04"));
      await registerLeg(third.y, third.regY); // capacity is back once the first contract closed
      assert.equal(await x.gateway.read.exposureOf([y.chainId]), parseEther("1"));
    });

    it("refuses a new contract with a frozen counterparty", async () => {
      await freeze(b, a);
      const swap = await tokenForCoin(a, b);
      await assert.rejects(registerLeg(swap.x, swap.regX), revertsWith("GatewayCounterpartyFrozen"));
      assert.equal(await a.registry.read.bondOf([b.chainId]), 0n);
      assert.equal(await a.registry.read.compensationOf([b.chainId]), (BOND * 9n) / 10n);
    });

    it("refunds a pre-committed contract once its counterparty is frozen, without a proof", async () => {
      const swap = await tokenForCoin(a, b);
      await registerBoth(swap);
      await precommitBoth(swap);
      await expireBoth(swap); // B's view already past h2: a proof would release, but B is not believed any more
      await freeze(b, a);
      await a.gateway.write.terminate([swap.idX, { header: "0x", accountProof: [], storageProof: [] }]);
      assert.equal(await statusOf(a, swap.idX), Status.Refunded);
      assert.equal(await a.token.read.balanceOf([a.users.alice.account.address]), 1000n);
    });
  });

  describe("claimCompensation", () => {
    it("pays the payer of a contract released on the word of a chain caught forking, once, from its slashed bond", async () => {
      const swap = await tokenForCoin(b, a); // Alice pays 100 tokens on B; Bob pays 1 coin on A to Alice
      await registerBoth(swap);
      await precommitBoth(swap);
      await expireBoth(swap);
      await a.gateway.write.terminate([swap.idY, await recordProof(b, a, swap.idX)]); // A releases Bob's coin to Alice
      // A's released contract: its payer (Bob on A) was paid on B, which B may now rewrite.
      await assert.rejects(a.gateway.write.claimCompensation([swap.idY]), revertsWith("GatewayNotCompensable"));
      await freeze(b, a);
      const payer = swap.regY.refundTo;
      const before = await a.publicClient.getBalance({ address: payer });
      const pool = await a.registry.read.compensationOf([b.chainId]);
      await a.gateway.write.claimCompensation([swap.idY], { account: a.users.carol.account }); // anyone may trigger it
      assert.equal(await a.publicClient.getBalance({ address: payer }), before + parseEther("1"));
      assert.equal(await a.registry.read.compensationOf([b.chainId]), pool - parseEther("1"));
      await assert.rejects(a.gateway.write.claimCompensation([swap.idY]), revertsWith("GatewayNotCompensable"));
    });

    it("refuses compensation from the registry to anyone but its Gateway (pool-draining attack)", async () => {
      await freeze(b, a);
      await assert.rejects(
        a.registry.write.compensate([b.chainId, a.users.mallory.account.address, parseEther("1")], { account: a.users.mallory.account }),
        revertsWith("ViewRegistryOnlyGateway"),
      );
    });

    it("refuses a contract released longer than the window before the freeze", async () => {
      const swap = await tokenForCoin(b, a);
      await registerBoth(swap);
      await precommitBoth(swap);
      await expireBoth(swap);
      await a.gateway.write.terminate([swap.idY, await recordProof(b, a, swap.idX)]);
      await mine(a, Number(COMPENSATION_WINDOW) + 5);
      await freeze(b, a);
      await assert.rejects(a.gateway.write.claimCompensation([swap.idY]), revertsWith("GatewayNotCompensable"));
    });
  });

  describe("reentrancy", () => {
    for (const attack of ["Terminate", "Cancel"] as const) {
      it(`pays once when the token re-enters ${attack.toLowerCase()} during its transfer`, async () => {
        const token = await a.viem.deployContract("ReentrantToken");
        await a.gateway.write.setAssetValue([token.address, 10n ** 18n]);
        const alice = a.users.alice;
        await token.write.mint([alice.account.address, 1000n]);
        const swap = await prepareSwap(
          { chain: a, payer: alice, beneficiary: a.users.bob.account.address, asset: token.address, amount: 100n, expiry: (await a.publicClient.getBlockNumber()) + TTL },
          { chain: b, payer: b.users.bob, beneficiary: alice.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await b.publicClient.getBlockNumber()) + TTL },
        );
        await token.write.approve([a.gateway.address, 100n], { account: alice.account });
        await a.gateway.write.register([swap.regX], { account: alice.account });
        let proof = { header: "0x" as Hex, accountProof: [] as Hex[], storageProof: [] as Hex[] };
        if (attack === "Terminate") {
          await registerLeg(swap.y, swap.regY);
          await precommitBoth(swap);
          await expireBoth(swap);
          proof = await recordProof(b, a, swap.idY);
        } else {
          await mineTo(a, swap.regX.h1 + 1n);
        }
        await token.write.arm([a.gateway.address, swap.idX, attack === "Terminate" ? 1 : 2, proof]);
        if (attack === "Terminate") await a.gateway.write.terminate([swap.idX, proof]);
        else await a.gateway.write.cancel([swap.idX]);

        assert.equal(await token.read.attempts(), 1n);
        assert.equal(await token.read.successes(), 0n);
        assert.equal(await token.read.balanceOf([a.gateway.address]), 0n);
        const paid = attack === "Terminate" ? a.users.bob.account.address : alice.account.address;
        assert.equal(await token.read.balanceOf([paid]), attack === "Terminate" ? 100n : 1000n);
      });
    }
  });

  describe("ids", () => {
    it("derives the mirror id on one chain exactly as the other chain derives its own id", async () => {
      const swap = await tokenForCoin(a, b);
      const [, mirrorOfY] = await b.gateway.read.contractIds([swap.regY]);
      assert.equal(mirrorOfY, swap.idX);
      assert.equal(
        await a.gateway.read.recordSlot([swap.idX]),
        keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }], [swap.idX, keccak256(new TextEncoder().encode("finality-ibc.gateway.records"))])),
      );
    });
  });

});
