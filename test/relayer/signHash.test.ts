import assert from "node:assert/strict";
import fc from "fast-check";
import { bytesToHex, type Hex } from "viem";
import { privateKeyToAccount, sign } from "viem/accounts";
import { relayerAccount } from "../../relayer/util/relayerAccount.js";
import { signHash, UnsignableError } from "../../relayer/util/signHash.js";
import { hash32, privateKey } from "../fixtures/secp256k1Arbitraries.js";

describe("signHash (libsecp256k1 in WebAssembly, in place of viem's sign)", () => {
  it("gives the bytes viem's sign gives, for every key and hash", async () => {
    await fc.assert(
      fc.asyncProperty(privateKey, hash32, async (key, hash) => {
        assert.equal(signHash(hash, key), await sign({ hash: bytesToHex(hash), privateKey: bytesToHex(key), to: "hex" }));
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a hash or a key of the wrong length, and a key of zero or past the group order, with UnsignableError", () => {
    const hash = new Uint8Array(32).fill(7);
    const key = new Uint8Array(32).fill(1);
    assert.throws(() => signHash(hash.subarray(1), key), (e: unknown) => e instanceof UnsignableError && /31-byte hash/.test(e.message));
    assert.throws(() => signHash(hash, key.subarray(1)), (e: unknown) => e instanceof UnsignableError && /31-byte private key/.test(e.message));
    assert.throws(() => signHash(hash, new Uint8Array(32)), (e: unknown) => e instanceof UnsignableError && /not a secp256k1 key/.test(e.message));
    assert.throws(() => signHash(hash, new Uint8Array(32).fill(0xff)), (e: unknown) => e instanceof UnsignableError && /not a secp256k1 key/.test(e.message));
  });
});

describe("relayerAccount", () => {
  it("signs hashes and messages (a handshake's raw bytes, text) with the bytes of viem's private-key account, and keeps its address", async () => {
    await fc.assert(
      fc.asyncProperty(privateKey, hash32, fc.string(), async (key, hash, text) => {
        const hex: Hex = bytesToHex(key);
        const ours = relayerAccount(hex);
        const viem = privateKeyToAccount(hex);
        assert.equal(ours.address, viem.address);
        assert.equal(await ours.sign({ hash: bytesToHex(hash) }), await viem.sign({ hash: bytesToHex(hash) }));
        assert.equal(await ours.signMessage({ message: { raw: hash } }), await viem.signMessage({ message: { raw: hash } }));
        assert.equal(await ours.signMessage({ message: text }), await viem.signMessage({ message: text }));
      }),
      { numRuns: 60 },
    );
  });
});
