import assert from "node:assert/strict";
import fc from "fast-check";
import { keccak256, stringToHex, type Address, type Hex } from "viem";
import { bloomBits, bloomMayHold } from "../../relayer/chain/logsBloom.js";
import { QuietBlocks } from "../../relayer/chain/quietBlocks.js";
import { deploySystem, mine, type Chain } from "../fixtures/system.js";
import { NATIVE, prepareSwap, registerLeg } from "../fixtures/swap.js";

const EMPTY_BLOOM: Hex = `0x${"00".repeat(256)}`;
const FULL_BLOOM: Hex = `0x${"ff".repeat(256)}`;

describe("bloomMayHold: a block's logs bloom, read as the chain wrote it", function () {
  this.timeout(120_000);

  it("holds every contract that emitted in a block (no log is ever missed) and, here, none that did not", async () => {
    const [a, b] = (await deploySystem()) as [Chain, Chain];
    // Blocks with token transfers only, with a Gateway registration (token approval and transfer in the same block's
    // history), and empty ones.
    await a.token.write.mint([a.users.alice.account.address, 1_000n]);
    const swap = await prepareSwap(
      { chain: a, payer: a.users.alice, beneficiary: a.users.bob.account.address, asset: a.token.address, amount: 10n, expiry: (await a.publicClient.getBlockNumber()) + 50n },
      { chain: b, payer: b.users.bob, beneficiary: a.users.alice.account.address, asset: NATIVE, amount: 1n, expiry: (await b.publicClient.getBlockNumber()) + 50n },
      keccak256(stringToHex("bloom")),
    );
    await registerLeg(swap.x, swap.regX);
    await mine(a, 3);
    const watched: Address[] = [a.gateway.address, a.registry.address, a.token.address];
    const head = await a.publicClient.getBlockNumber();
    let checked = 0;
    for (let n = 0n; n <= head; n++) {
      const block = await a.publicClient.getBlock({ blockNumber: n });
      for (const address of watched) {
        const emitted = (await a.publicClient.getLogs({ address, fromBlock: n, toBlock: n })).length > 0;
        assert.equal(bloomMayHold(block.logsBloom!, bloomBits(address)), emitted, `block ${n}, ${address}: emitted ${emitted}`);
        checked += emitted ? 1 : 0;
      }
    }
    assert.ok(checked >= 3, `the chain's history has logs of the Gateway, the registry and the token (${checked} block-contract pairs)`);
  });

  it("reads an empty bloom as holding nothing, a full one as holding anything, and refuses a bloom of the wrong size", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), (bytes) => {
        const address = `0x${Buffer.from(bytes).toString("hex")}` as Address;
        assert.equal(bloomMayHold(EMPTY_BLOOM, bloomBits(address)), false);
        assert.equal(bloomMayHold(FULL_BLOOM, bloomBits(address)), true);
      }),
    );
    assert.throws(() => bloomMayHold("0x00", bloomBits(NATIVE)), /a logs bloom is 256 bytes, not 1/);
  });
});

describe("QuietBlocks", () => {
  const watched: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

  it("calls a range quiet only when every block of it was delivered and none may hold a watched log", () => {
    fc.assert(
      fc.property(fc.nat(1_000), fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }), fc.nat(80), fc.nat(80), (start, loud, x, y) => {
        const quiet = new QuietBlocks([watched]);
        loud.forEach((isLoud, i) => quiet.record(BigInt(start + i), isLoud ? FULL_BLOOM : EMPTY_BLOOM));
        const [from, to] = [Math.min(x, y), Math.max(x, y)].map((h) => start - 10 + h) as [number, number];
        const delivered = from >= start && to < start + loud.length;
        const expected = delivered && loud.slice(from - start, to - start + 1).every((isLoud) => !isLoud);
        assert.equal(quiet.quiet(BigInt(from), BigInt(to)), expected);
      }),
    );
  });

  it("forgets blocks more than 4,096 behind the newest: a scan that lags that far reads the logs", () => {
    const quiet = new QuietBlocks([watched]);
    for (let h = 0n; h < 5_000n; h++) quiet.record(h, EMPTY_BLOOM);
    assert.equal(quiet.quiet(0n, 10n), false);
    assert.equal(quiet.quiet(4_999n - 4_095n, 4_999n), true);
  });
});
