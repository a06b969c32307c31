import assert from "node:assert/strict";
import fc from "fast-check";
import { bytesToHex, recoverAddress, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { recoverSigner, UnreadableSignatureError } from "../../relayer/util/recoverSigner.js";
import { hash32, privateKey } from "../fixtures/secp256k1Arbitraries.js";

/** viem's answer for the same input: the address, or "refused" when it throws (the library recoverSigner replaces). */
async function viemRecovers(hash: Uint8Array, signature: Uint8Array): Promise<Address | "refused"> {
  try {
    return await recoverAddress({ hash: bytesToHex(hash), signature: bytesToHex(signature) });
  } catch {
    return "refused";
  }
}

function ours(hash: Uint8Array, signature: Uint8Array): Address | "refused" {
  try {
    return recoverSigner(hash, signature);
  } catch (error) {
    assert.ok(error instanceof UnreadableSignatureError, `${String(error)} is not an UnreadableSignatureError`);
    return "refused";
  }
}

describe("recoverSigner (libsecp256k1 in WebAssembly, in place of viem's recoverAddress)", () => {
  it("recovers the signer of every signature as viem does, with v 27/28 and with the y parity 0/1", async () => {
    await fc.assert(
      fc.asyncProperty(privateKey, hash32, async (key, hash) => {
        const account = privateKeyToAccount(bytesToHex(key));
        const signature = Buffer.from((await account.sign({ hash: bytesToHex(hash) })).slice(2), "hex");
        assert.equal(recoverSigner(hash, signature), account.address);
        assert.equal(recoverSigner(hash, signature), await viemRecovers(hash, signature));
        const parity = Uint8Array.from(signature);
        parity[64] = signature[64]! - 27;
        assert.equal(recoverSigner(hash, parity), account.address);
      }),
      { numRuns: 60 },
    );
  });

  it("agrees with viem on signatures an attacker shapes: one byte changed, r or s zero or past the group order, any recovery byte", async () => {
    const N = Buffer.from("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", "hex");
    const account = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
    const hash = new Uint8Array(32).fill(7);
    const valid = Buffer.from((await account.sign({ hash: bytesToHex(hash) })).slice(2), "hex");
    const mutation = fc.oneof(
      fc.record({ at: fc.integer({ min: 0, max: 64 }), value: fc.integer({ min: 0, max: 255 }) }).map(({ at, value }) => (s: Uint8Array) => ((s[at] = value), s)),
      fc.constantFrom("r", "s").map((part) => (s: Uint8Array) => (s.fill(0, part === "r" ? 0 : 32, part === "r" ? 32 : 64), s)),
      fc.constantFrom("r", "s").map((part) => (s: Uint8Array) => (s.set(N, part === "r" ? 0 : 32), s)),
      fc.uint8Array({ minLength: 65, maxLength: 65 }).map((random) => () => random),
    );
    await fc.assert(
      fc.asyncProperty(mutation, async (mutate) => {
        const signature = mutate(Uint8Array.from(valid));
        assert.equal(ours(hash, signature), await viemRecovers(hash, signature));
      }),
      { numRuns: 300 },
    );
  });

  it("refuses a signature of the wrong length or a hash that is not 32 bytes, naming the problem", () => {
    assert.throws(() => recoverSigner(new Uint8Array(32), new Uint8Array(64)), /64-byte signature; r ‖ s ‖ v is 65 bytes/);
    assert.throws(() => recoverSigner(new Uint8Array(31), new Uint8Array(65)), /31-byte hash/);
    const badV = new Uint8Array(65).fill(1);
    badV[64] = 29;
    assert.throws(() => recoverSigner(new Uint8Array(32), badV), UnreadableSignatureError);
  });
});
