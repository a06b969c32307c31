import assert from "node:assert/strict";
import { getAddress, keccak256, parseEther, parseEventLogs, sha256, stringToHex, zeroAddress, type Address, type Hex, type TransactionReceipt } from "viem";
import { deploySystem, mineTo, type Chain } from "../fixtures/system.js";
import { revertsWith } from "../fixtures/tamper.js";

const State = { None: 0, Locked: 1, Claimed: 2, Refunded: 3 } as const;
/** Blocks to the responder's timelock; the initiator's is twice as far, so the responder can always claim after her. */
const TTL = 20n;
const TOKENS = 100n;
const COIN = parseEther("1");
const SECRET = keccak256(stringToHex("HtlcSwap.test secret"));
const HASHLOCK = sha256(SECRET);

type Wallet = Chain["users"]["alice"];
type Htlc = Awaited<ReturnType<typeof deployHtlc>>;
/** One chain of a test: its fixtures and an HtlcSwap deployed on it. */
type Side = { chain: Chain; htlc: Htlc };
type Terms = { asset: Address; receiver: Address; amount: bigint; hashlock: Hex; timelock: bigint };

async function deployHtlc(chain: Chain) {
  return chain.viem.deployContract("HtlcSwap");
}

async function receiptOf(side: Side, hash: Promise<Hex>): Promise<TransactionReceipt> {
  return side.chain.publicClient.waitForTransactionReceipt({ hash: await hash });
}

async function head(side: Side): Promise<bigint> {
  return side.chain.publicClient.getBlockNumber();
}

/** `sender` locks: approves the HTLC for an ERC-20 first, or sends the coin. Returns the id from the Locked event. */
async function lock(side: Side, sender: Wallet, t: Terms): Promise<Hex> {
  const { htlc, chain } = side;
  const account = sender.account;
  if (t.asset !== zeroAddress) await chain.token.write.approve([htlc.address, t.amount], { account });
  const receipt = await receiptOf(
    side,
    htlc.write.lock([t.asset, t.receiver, t.amount, t.hashlock, t.timelock], { account, value: t.asset === zeroAddress ? t.amount : 0n }),
  );
  const [locked] = parseEventLogs({ abi: htlc.abi, logs: receipt.logs, eventName: "Locked" });
  assert.ok(locked, "no Locked event");
  // Events carry checksummed addresses; the test wallets' are lowercase.
  assert.deepEqual(locked.args, { ...t, id: locked.args.id, sender: getAddress(account.address), asset: getAddress(t.asset), receiver: getAddress(t.receiver) });
  assert.equal(locked.args.id, await htlc.read.idOf([account.address, t.asset, t.receiver, t.amount, t.hashlock, t.timelock]));
  return locked.args.id;
}

async function stateOf(side: Side, id: Hex): Promise<number> {
  return (await side.htlc.read.lockOf([id])).state;
}

/** Native coin gained by `who` across `action`, its own gas added back when it sent the transaction. */
async function coinGained(side: Side, who: Address, action: () => Promise<TransactionReceipt>): Promise<bigint> {
  const before = await side.chain.publicClient.getBalance({ address: who });
  const receipt = await action();
  const paid = receipt.from.toLowerCase() === who.toLowerCase() ? receipt.gasUsed * receipt.effectiveGasPrice : 0n;
  return (await side.chain.publicClient.getBalance({ address: who })) - before + paid;
}

describe("HtlcSwap", () => {
  let a: Side;
  let b: Side;
  let alice: Wallet;
  let bob: Wallet;
  let carol: Wallet;

  beforeEach(async () => {
    const [chainA, chainB] = (await deploySystem()) as [Chain, Chain];
    a = { chain: chainA, htlc: await deployHtlc(chainA) };
    b = { chain: chainB, htlc: await deployHtlc(chainB) };
    ({ alice, bob, carol } = chainA.users);
    await chainA.token.write.mint([alice.account.address, 1000n]);
  });

  /** Alice's 100 tokens on A for Bob, until 2 × TTL blocks from now. */
  async function aliceLocksTokens(hashlock: Hex = HASHLOCK): Promise<{ id: Hex; timelock: bigint }> {
    const timelock = (await head(a)) + 2n * TTL;
    const id = await lock(a, alice, { asset: a.chain.token.address, receiver: bob.account.address, amount: TOKENS, hashlock, timelock });
    return { id, timelock };
  }

  /** Bob's 1 coin on B for Alice, until TTL blocks from now. */
  async function bobLocksCoin(timelock?: bigint): Promise<{ id: Hex; timelock: bigint }> {
    const until = timelock ?? (await head(b)) + TTL;
    const id = await lock(b, bob, { asset: zeroAddress, receiver: alice.account.address, amount: COIN, hashlock: HASHLOCK, timelock: until });
    return { id, timelock: until };
  }

  const tokensOf = (who: Wallet | Address) => a.chain.token.read.balanceOf([typeof who === "string" ? who : who.account.address]);

  describe("swap", () => {
    it("swaps 100 tokens on A for 1 coin on B: both lock, Alice claims on B, Bob claims on A with the secret she revealed", async () => {
      const onA = await aliceLocksTokens();
      const onB = await bobLocksCoin();
      assert.equal(await tokensOf(a.htlc.address), TOKENS);
      assert.equal(await b.chain.publicClient.getBalance({ address: b.htlc.address }), COIN);

      let claimOnB: TransactionReceipt | undefined;
      const aliceGain = await coinGained(b, alice.account.address, async () => {
        claimOnB = await receiptOf(b, b.htlc.write.claim([onB.id, SECRET], { account: alice.account }));
        return claimOnB;
      });
      assert.equal(aliceGain, COIN);
      const [claimed] = parseEventLogs({ abi: b.htlc.abi, logs: claimOnB!.logs, eventName: "Claimed" });
      assert.ok(claimed, "no Claimed event");
      assert.deepEqual(claimed.args, { id: onB.id, receiver: getAddress(alice.account.address), secret: SECRET });

      const claimOnA = await receiptOf(a, a.htlc.write.claim([onA.id, claimed.args.secret], { account: bob.account }));
      assert.equal(parseEventLogs({ abi: a.htlc.abi, logs: claimOnA.logs, eventName: "Claimed" }).length, 1);

      assert.equal(await tokensOf(bob), TOKENS);
      assert.equal(await tokensOf(alice), 1000n - TOKENS);
      assert.equal(await tokensOf(a.htlc.address), 0n);
      assert.equal(await b.chain.publicClient.getBalance({ address: b.htlc.address }), 0n);
      assert.equal(await stateOf(a, onA.id), State.Claimed);
      assert.equal(await stateOf(b, onB.id), State.Claimed);
    });

    it("refunds the sender after the timelock, whoever calls", async () => {
      const { id, timelock } = await aliceLocksTokens();
      await mineTo(a.chain, timelock - 1n); // the refund lands in block `timelock`, the first one refunds are allowed

      const receipt = await receiptOf(a, a.htlc.write.refund([id], { account: carol.account }));

      const [refunded] = parseEventLogs({ abi: a.htlc.abi, logs: receipt.logs, eventName: "Refunded" });
      assert.deepEqual(refunded?.args, { id, sender: getAddress(alice.account.address) });
      assert.equal(receipt.blockNumber, timelock);
      assert.equal(await tokensOf(alice), 1000n);
      assert.equal(await tokensOf(carol), 0n);
      assert.equal(await tokensOf(a.htlc.address), 0n);
      assert.equal(await stateOf(a, id), State.Refunded);
    });

    it("claims in the last block before the timelock", async () => {
      const { id, timelock } = await bobLocksCoin();
      await mineTo(b.chain, timelock - 2n);
      const receipt = await receiptOf(b, b.htlc.write.claim([id, SECRET]));
      assert.equal(receipt.blockNumber, timelock - 1n);
      assert.equal(await stateOf(b, id), State.Claimed);
    });
  });

  describe("attacks", () => {
    it("claim with a wrong secret (HtlcSwapWrongSecret)", async () => {
      const { id } = await aliceLocksTokens();
      await assert.rejects(a.htlc.write.claim([id, keccak256(SECRET)], { account: bob.account }), revertsWith("HtlcSwapWrongSecret"));
      assert.equal(await stateOf(a, id), State.Locked);
      assert.equal(await tokensOf(a.htlc.address), TOKENS);
    });

    it("claim with the secret against a keccak256 hashlock: the hashlock is sha256 (HtlcSwapWrongSecret)", async () => {
      const { id } = await aliceLocksTokens(keccak256(SECRET));
      await assert.rejects(a.htlc.write.claim([id, SECRET], { account: bob.account }), revertsWith("HtlcSwapWrongSecret"));
    });

    it("claim at the timelock (HtlcSwapExpired)", async () => {
      const { id, timelock } = await aliceLocksTokens();
      await mineTo(a.chain, timelock - 1n); // the claim would land in block `timelock`
      await assert.rejects(a.htlc.write.claim([id, SECRET], { account: bob.account }), revertsWith("HtlcSwapExpired"));
      assert.equal(await stateOf(a, id), State.Locked);
      assert.equal(await tokensOf(bob), 0n);
    });

    it("refund before the timelock (HtlcSwapNotExpired)", async () => {
      const { id, timelock } = await aliceLocksTokens();
      await mineTo(a.chain, timelock - 2n); // the refund would land in block `timelock - 1`
      await assert.rejects(a.htlc.write.refund([id], { account: alice.account }), revertsWith("HtlcSwapNotExpired"));
      assert.equal(await stateOf(a, id), State.Locked);
    });

    it("double claim (HtlcSwapNotLocked)", async () => {
      const { id } = await aliceLocksTokens();
      await a.htlc.write.claim([id, SECRET], { account: bob.account });
      await assert.rejects(a.htlc.write.claim([id, SECRET], { account: bob.account }), revertsWith("HtlcSwapNotLocked"));
      assert.equal(await tokensOf(bob), TOKENS);
      assert.equal(await stateOf(a, id), State.Claimed);
    });

    it("refund after claim (HtlcSwapNotLocked)", async () => {
      const { id, timelock } = await aliceLocksTokens();
      await a.htlc.write.claim([id, SECRET], { account: bob.account });
      await mineTo(a.chain, timelock);
      await assert.rejects(a.htlc.write.refund([id], { account: alice.account }), revertsWith("HtlcSwapNotLocked"));
      assert.equal(await tokensOf(alice), 1000n - TOKENS);
      assert.equal(await tokensOf(bob), TOKENS);
    });

    it("claim after refund, with the right secret (HtlcSwapNotLocked)", async () => {
      const { id, timelock } = await aliceLocksTokens();
      await mineTo(a.chain, timelock);
      await a.htlc.write.refund([id], { account: alice.account });
      await assert.rejects(a.htlc.write.claim([id, SECRET], { account: bob.account }), revertsWith("HtlcSwapNotLocked"));
      assert.equal(await tokensOf(alice), 1000n);
      assert.equal(await tokensOf(bob), 0n);
      assert.equal(await stateOf(a, id), State.Refunded);
    });

    it("double refund (HtlcSwapNotLocked)", async () => {
      const { id, timelock } = await aliceLocksTokens();
      await mineTo(a.chain, timelock);
      await a.htlc.write.refund([id], { account: alice.account });
      await assert.rejects(a.htlc.write.refund([id], { account: alice.account }), revertsWith("HtlcSwapNotLocked"));
      assert.equal(await tokensOf(alice), 1000n);
    });

    it("claim or refund of an id nobody locked (HtlcSwapNotLocked)", async () => {
      const unknown = keccak256(stringToHex("no such lock"));
      await assert.rejects(a.htlc.write.claim([unknown, SECRET]), revertsWith("HtlcSwapNotLocked"));
      await assert.rejects(a.htlc.write.refund([unknown]), revertsWith("HtlcSwapNotLocked"));
      assert.equal(await stateOf(a, unknown), State.None);
    });

    it("someone else claiming with the secret pays the receiver, not the caller", async () => {
      const { id } = await aliceLocksTokens();
      const receipt = await receiptOf(a, a.htlc.write.claim([id, SECRET], { account: carol.account }));
      const [claimed] = parseEventLogs({ abi: a.htlc.abi, logs: receipt.logs, eventName: "Claimed" });
      assert.equal(claimed?.args.receiver, getAddress(bob.account.address));
      assert.equal(await tokensOf(bob), TOKENS);
      assert.equal(await tokensOf(carol), 0n);
    });

    it("someone else refunding pays the sender, not the caller", async () => {
      const { id, timelock } = await bobLocksCoin();
      await mineTo(b.chain, timelock);
      const bobBefore = await b.chain.publicClient.getBalance({ address: bob.account.address });
      const carolGain = await coinGained(b, carol.account.address, () => receiptOf(b, b.htlc.write.refund([id], { account: carol.account })));
      assert.equal(carolGain, 0n);
      assert.equal(await b.chain.publicClient.getBalance({ address: bob.account.address }), bobBefore + COIN);
      assert.equal(await stateOf(b, id), State.Refunded);
    });

    it("locking the same terms again once the secret is public (HtlcSwapAlreadyExists)", async () => {
      const { id, timelock } = await aliceLocksTokens();
      await a.htlc.write.claim([id, SECRET], { account: bob.account });
      const terms = { asset: a.chain.token.address, receiver: bob.account.address, amount: TOKENS, hashlock: HASHLOCK, timelock };
      await assert.rejects(lock(a, alice, terms), revertsWith("HtlcSwapAlreadyExists"));
      assert.equal(await tokensOf(alice), 1000n - TOKENS);
    });

    it("locking with a payment that differs from the amount (HtlcSwapWrongPayment)", async () => {
      const timelock = (await head(b)) + TTL;
      const coinLock = [zeroAddress, alice.account.address, COIN, HASHLOCK, timelock] as const;
      await assert.rejects(b.htlc.write.lock([...coinLock], { account: bob.account, value: COIN - 1n }), revertsWith("HtlcSwapWrongPayment"));
      const tokenLock = [a.chain.token.address, bob.account.address, TOKENS, HASHLOCK, (await head(a)) + TTL] as const;
      await a.chain.token.write.approve([a.htlc.address, TOKENS], { account: alice.account });
      await assert.rejects(a.htlc.write.lock([...tokenLock], { account: alice.account, value: 1n }), revertsWith("HtlcSwapWrongPayment"));
      assert.equal(await b.chain.publicClient.getBalance({ address: b.htlc.address }), 0n);
      assert.equal(await tokensOf(a.htlc.address), 0n);
    });

    it("locking with no amount, no receiver or a timelock already reached (HtlcSwapInvalidLock)", async () => {
      const now = await head(b);
      const valid = { asset: zeroAddress, receiver: alice.account.address, amount: COIN, hashlock: HASHLOCK, timelock: now + TTL };
      for (const t of [
        { ...valid, amount: 0n },
        { ...valid, receiver: zeroAddress },
        { ...valid, timelock: now + 1n }, // the lock itself lands in block now + 1
      ]) {
        await assert.rejects(lock(b, bob, t), revertsWith("HtlcSwapInvalidLock"));
      }
    });

    it("a responder who claims only after the initiator's timelock loses both sides: Alice claims on B and refunds on A", async () => {
      const onA = await aliceLocksTokens();
      const onB = await bobLocksCoin();
      await b.htlc.write.claim([onB.id, SECRET], { account: alice.account });
      await mineTo(a.chain, onA.timelock); // Bob was offline until Alice's timelock on A

      await assert.rejects(a.htlc.write.claim([onA.id, SECRET], { account: bob.account }), revertsWith("HtlcSwapExpired"));
      await a.htlc.write.refund([onA.id], { account: alice.account });
      assert.equal(await tokensOf(alice), 1000n);
      assert.equal(await tokensOf(bob), 0n);
      assert.equal(await stateOf(b, onB.id), State.Claimed);
    });

    it("a responder whose timelock outlasts the initiator's can be robbed: Alice refunds on A, then claims on B", async () => {
      const onA = await aliceLocksTokens();
      const onB = await bobLocksCoin((await head(b)) + 4n * TTL); // Bob's mistake: longer than Alice's
      await mineTo(a.chain, onA.timelock);
      await a.htlc.write.refund([onA.id], { account: alice.account });

      const gain = await coinGained(b, alice.account.address, () => receiptOf(b, b.htlc.write.claim([onB.id, SECRET], { account: alice.account })));
      assert.equal(gain, COIN);
      assert.equal(await tokensOf(alice), 1000n);
      assert.equal(await tokensOf(bob), 0n);
    });
  });
});
