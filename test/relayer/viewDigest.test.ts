import assert from "node:assert/strict";
import fc from "fast-check";
import { bytesToHex, getAddress, hashTypedData, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { signView } from "../../relayer/view/signView.js";
import { VIEW_TYPES, viewDigest, viewDomain } from "../../relayer/view/viewDigest.js";
import type { View } from "../../relayer/view/view.js";

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b));
const uint64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(bytesToHex(b)));
const view = fc.record({ chainId: uint64, height: uint64, acc: bytes32, hashes: fc.array(bytes32, { maxLength: 20 }) });

describe("viewDigest (EIP-712 written out for View, in place of viem's hashTypedData)", () => {
  it("equals hashTypedData for any view and gateway, whatever the case of the hex", () => {
    fc.assert(
      fc.property(view, address, fc.boolean(), (v: View, gateway, upper) => {
        const expected = hashTypedData({ domain: viewDomain(v.chainId, gateway), types: VIEW_TYPES, primaryType: "View", message: v });
        const spelled = upper ? { ...v, acc: v.acc.toUpperCase().replace("0X", "0x") as Hex, hashes: v.hashes.map((h) => h.toUpperCase().replace("0X", "0x") as Hex) } : v;
        assert.equal(viewDigest(spelled, upper ? (gateway.toLowerCase() as Hex) : gateway), expected);
      }),
      { numRuns: 300 },
    );
  });

  it("signView makes the very signature signTypedData makes, for any key, view and gateway", async () => {
    const key = fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((b) => b.some((x) => x !== 0) && b[0]! < 0xff).map((b) => bytesToHex(b));
    await fc.assert(
      fc.asyncProperty(key, view, address, async (k, v: View, gateway) => {
        const account = privateKeyToAccount(k);
        const expected = await account.signTypedData({ domain: viewDomain(v.chainId, gateway), types: VIEW_TYPES, primaryType: "View", message: v });
        assert.deepEqual(await signView(account, v, gateway), { signer: account.address, signature: expected });
      }),
      { numRuns: 40 },
    );
  });

  it("refuses what hashTypedData refuses: a height past uint64, an acc or a hash that is not 32 bytes", () => {
    const gateway = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");
    const valid: View = { chainId: 1n, height: 5n, acc: `0x${"11".repeat(32)}`, hashes: [`0x${"22".repeat(32)}`] };
    assert.throws(() => viewDigest({ ...valid, height: 1n << 64n }, gateway), /uint64/);
    assert.throws(() => viewDigest({ ...valid, acc: "0x11" }, gateway), /32 bytes/);
    assert.throws(() => viewDigest({ ...valid, hashes: [`0x${"22".repeat(31)}`] }, gateway), /32 bytes/);
  });
});
