import assert from "node:assert/strict";
import fc from "fast-check";
import { bytesToHex, getAddress, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { signHash } from "../../relayer/util/signHash.js";
import { UnreadableSignatureError } from "../../relayer/util/recoverSigner.js";
import { recoverViewSigner, rememberViewSigner } from "../../relayer/view/recoverViewSigner.js";
import { signView } from "../../relayer/view/signView.js";
import { viewDigest } from "../../relayer/view/viewDigest.js";
import { hash32, privateKey } from "../fixtures/secp256k1Arbitraries.js";

/** 65 bytes that no recovery reads: v is 29. */
const unreadable = (fill: number): Hex => `0x${fill.toString(16).padStart(2, "0").repeat(64)}1d`;

describe("recoverViewSigner (each recovery remembered per process)", () => {
  it("gives the signer of a view digest's signature, the same when asked again, and refuses an unreadable signature every time", () => {
    fc.assert(
      fc.property(hash32, privateKey, (digest, key) => {
        const signature = signHash(digest, key);
        const signer = privateKeyToAccount(bytesToHex(key)).address;
        assert.equal(recoverViewSigner(bytesToHex(digest), signature), signer);
        assert.equal(recoverViewSigner(bytesToHex(digest), signature), signer, "asked again");
        const bad = unreadable(digest[0]!);
        for (let i = 0; i < 2; i++) assert.throws(() => recoverViewSigner(bytesToHex(digest), bad), UnreadableSignatureError, "a refusal is not remembered");
      }),
      { numRuns: 50, seed: 20261202 },
    );
  });

  it("takes the signer that rememberViewSigner was given for a signature this process made, without recovering it", async () => {
    // signView remembers its own signatures: the node's co-signature comes back in every certified view of its chain.
    const account = privateKeyToAccount(`0x${"42".repeat(32)}`);
    const gateway = getAddress(`0x${"ee".repeat(20)}`);
    const view = { chainId: 1001n, height: 7n, acc: `0x${"11".repeat(32)}` as Hex, hashes: [`0x${"22".repeat(32)}` as Hex] };
    const { signature } = await signView(account, view, gateway);
    assert.equal(recoverViewSigner(viewDigest(view, gateway), signature), account.address);

    // What is remembered is answered as it was given: here for a signature no recovery reads, which would throw.
    const digest = viewDigest({ ...view, height: 8n }, gateway);
    const bad = unreadable(0xab);
    rememberViewSigner(digest, bad, account.address);
    assert.equal(recoverViewSigner(digest, bad), account.address);
    assert.equal(recoverViewSigner(digest.toUpperCase().replace("0X", "0x") as Hex, bad.toUpperCase().replace("0X", "0x") as Hex), account.address, "found whatever the case of the hex");
  });
});
