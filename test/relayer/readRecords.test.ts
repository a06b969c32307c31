import assert from "node:assert/strict";
import { keccak256, parseEther, stringToHex, type Hex } from "viem";
import { Status } from "../../relayer/chain/abis.js";
import { getRecordProofs } from "../../relayer/chain/recordProof.js";
import { readRecords } from "../../relayer/chain/readRecords.js";
import { recordSlot } from "../../relayer/chain/recordSlot.js";
import { TrieProofError } from "../../relayer/chain/trieProof.js";
import { accBeforeHead } from "../../relayer/view/view.js";
import { deploySystem, relayView, viewOf, type Chain } from "../fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg, type Swap } from "../fixtures/swap.js";
import { flipByte } from "../fixtures/tamper.js";

/**
 * The relayer reads a check() answer's records out of its eth_getProof proofs before believing it: what the Gateway will
 * read from them, and nothing a forger could make up.
 */
describe("readRecords", function () {
  this.timeout(120_000);
  let a: Chain;
  let b: Chain;
  let swaps: Swap[];
  const unknownId = keccak256(stringToHex("never registered"));

  before(async () => {
    [a, b] = (await deploySystem({ networks: ["chainA", "chainB"], q: 4 })) as [Chain, Chain];
    swaps = [];
    for (const salt of ["one", "two"]) {
      const expiry = (await b.publicClient.getBlockNumber()) + 60n;
      const swap = await prepareSwap(
        { chain: a, payer: a.users.alice, beneficiary: a.users.bob.account.address, asset: NATIVE, amount: parseEther("1"), expiry: (await a.publicClient.getBlockNumber()) + 60n },
        { chain: b, payer: b.users.bob, beneficiary: b.users.alice.account.address, asset: NATIVE, amount: parseEther("2"), expiry },
        keccak256(stringToHex(salt)),
      );
      await registerLeg(swap.y, swap.regY);
      swaps.push(swap);
    }
  });

  /** One eth_getProof of B's Gateway at `height` (default: head) for the ids, as serveCheck takes it. */
  async function proofsOf(ids: readonly Hex[], height?: bigint) {
    const blockNumber = height ?? (await b.publicClient.getBlockNumber());
    const { at, storageProofs } = await getRecordProofs({ client: b.publicClient, address: b.gateway.address, slots: ids.map(recordSlot), blockNumber, accBefore: accBeforeHead(await viewOf(b, undefined, blockNumber)) });
    return { at, storageProofs, blockNumber };
  }

  it("reads every record of one proof, an absent one as None, and agrees with the Gateway's provenMirror", async () => {
    const ids = [swaps[0]!.idY, unknownId, swaps[1]!.idY];
    const { at, storageProofs, blockNumber } = await proofsOf(ids);
    const { height, records } = await readRecords({ header: at.header, gateway: b.gateway.address, accountProof: at.accountProof, contractIds: ids, storageProofs });
    assert.equal(height, blockNumber);
    assert.deepEqual(records.map((r) => r.status), [Status.Registered, Status.None, Status.Registered]);
    for (const [i, id] of ids.entries()) {
      const [status, registeredAt, committedAt, finishedAt, valueWei] = await b.gateway.read.recordOf([id]);
      assert.deepEqual(records[i], { status, registeredAt, committedAt, finishedAt, valueGwei: valueWei / 10n ** 9n });
    }
    // A's Gateway reads the same out of the same proof, once the header is accepted there.
    await relayView(b, a, undefined, blockNumber);
    for (const i of [0, 2]) {
      const [status, registeredAt] = await a.gateway.read.provenMirror([at, swaps[i === 0 ? 0 : 1]!.regX, storageProofs[i]!]);
      assert.deepEqual([status, registeredAt], [records[i]!.status, records[i]!.registeredAt]);
    }
  });

  it("refuses a tampered leaf, a tampered account proof, and a truncated proof (forged-record attack)", async () => {
    const ids = [swaps[0]!.idY];
    const { at, storageProofs } = await proofsOf(ids);
    const read = (changes: { accountProof?: Hex[]; storageProof?: Hex[]; header?: Hex }) =>
      readRecords({ header: changes.header ?? at.header, gateway: b.gateway.address, accountProof: changes.accountProof ?? at.accountProof, contractIds: ids, storageProofs: [changes.storageProof ?? storageProofs[0]!] });
    const leaf = storageProofs[0]!;
    await assert.rejects(() => read({ storageProof: [...leaf.slice(0, -1), flipByte(leaf.at(-1)!, -1)] }), TrieProofError);
    await assert.rejects(() => read({ storageProof: leaf.slice(0, -1) }), TrieProofError);
    await assert.rejects(() => read({ accountProof: at.accountProof.map((n, i, all) => (i === all.length - 1 ? flipByte(n, -2) : n)) }), TrieProofError);
    await assert.rejects(() => read({ accountProof: [] }), TrieProofError);
  });

  it("refuses proofs under another block's header, and another contract's account (proof-substitution attack)", async () => {
    const ids = [swaps[0]!.idY];
    const old = await proofsOf(ids, (await b.publicClient.getBlockNumber()) - 3n);
    const now = await proofsOf(ids);
    await assert.rejects(() => readRecords({ header: old.at.header, gateway: b.gateway.address, accountProof: now.at.accountProof, contractIds: ids, storageProofs: now.storageProofs }), TrieProofError);
    // The proofs are of B's Gateway; read as if they were of B's registry (another account of the same state) they prove nothing.
    await assert.rejects(() => readRecords({ header: now.at.header, gateway: b.registry.address, accountProof: now.at.accountProof, contractIds: ids, storageProofs: now.storageProofs }), TrieProofError);
    // A record proof of one contract is not one of another.
    await assert.rejects(
      () => readRecords({ header: now.at.header, gateway: b.gateway.address, accountProof: now.at.accountProof, contractIds: [swaps[1]!.idY], storageProofs: now.storageProofs }),
      TrieProofError,
    );
  });
});
