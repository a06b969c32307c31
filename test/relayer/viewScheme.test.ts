import assert from "node:assert/strict";
import { privateKeyToAccount } from "viem/accounts";
import { keccak256, stringToHex, type Address, type Hex } from "viem";
import { systemClock } from "../../relayer/clock.js";
import type { Message } from "../../relayer/net/message.js";
import { decodeMessage } from "../../relayer/net/messageSchema.js";
import { Cosigner } from "../../relayer/node/cosigner.js";
import { Store } from "../../relayer/store/store.js";
import { signersOf, signViewBls } from "../../relayer/view/blsScheme.js";
import { toWireSignedView } from "../../relayer/view/signedView.js";
import { signView } from "../../relayer/view/signView.js";
import { SignedViewError, verifySignedView, type Committee } from "../../relayer/view/verifySignedView.js";
import { viewSchemeOf } from "../../relayer/view/viewScheme.js";
import { fromWireView } from "../../relayer/view/wireView.js";
import { blsCommitteeOf, signBls, syntheticChain, syntheticView } from "../fixtures/blsCommittee.js";
import { committeeKeys } from "../fixtures/system.js";

type Cosign = Extract<Message, { kind: "cosign" }>;

describe("ViewScheme: a BLS12-381 committee through the relayer's one signing path", () => {
  const CHAIN_ID = 7301n;
  const chain = syntheticChain(CHAIN_ID, 4, 4);
  const members = chain.members.map((m) => m.address);
  const keys = chain.members.map((m) => m.key);
  const committee: Committee = { gateway: chain.gateway, members, threshold: 3, k: 4, blsKeys: keys };
  /** The ECDSA accounts behind the members' addresses (the fixture derives both from the same labels). */
  const accounts = committeeKeys(CHAIN_ID, 4)
    .map((key) => privateKeyToAccount(key))
    .sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));

  it("certifies a view with one aggregate of the threshold's shares, which verifySignedView takes and a wire message carries", async () => {
    const queue: { from: Address; to: Address; message: Cosign }[] = [];
    const nodes = accounts.map((account, i) => {
      const store = new Store({ path: ":memory:" });
      const send = (to: Address, message: Message) => queue.push({ from: account.address, to, message: message as Cosign });
      const bls = { keys, secretKey: chain.members[i]!.secretKey };
      return { store, cosigner: new Cosigner({ account, chainId: CHAIN_ID, gateway: chain.gateway, members, bls, threshold: 3, signEvery: 1, store, send, clock: systemClock }) };
    });
    try {
      const view = syntheticView(chain, 6n);
      for (const i of [0, 1, 3]) await nodes[i]!.cosigner.onOwnView(view);
      for (const { from, to, message } of queue.splice(0)) {
        assert.equal(message.signature.length, 2 + 2 * 128, "a share is one G1 point");
        if (to !== members[2]) assert.equal(await nodes[members.indexOf(to)]!.cosigner.onCosign(from, message), true);
      }
      const stored = nodes[0]!.store.signedView(CHAIN_ID, 6n);
      assert.ok(stored, "node 0 certified height 6");
      assert.equal(stored.signatures.length, 1);
      assert.deepEqual(signersOf(stored.signatures[0]!), [0, 1, 3]);
      assert.deepEqual(fromWireView(stored.view), view);
      await verifySignedView(view, stored.signatures, committee);
      const update = { kind: "view-update", views: [toWireSignedView({ view, signatures: stored.signatures })] };
      assert.equal(decodeMessage(JSON.parse(JSON.stringify(update))).ok, true);
    } finally {
      for (const node of nodes) node.store.close();
    }
  });

  it("attack: a co-signature of another view, of another member or of another domain is not counted", () => {
    const scheme = viewSchemeOf(committee);
    const view = syntheticView(chain, 7n);
    const own = signViewBls(chain.members[1]!.secretKey, view, chain.gateway);
    assert.equal(scheme.checkShare(view, members[1]!, own), true);
    assert.equal(scheme.checkShare(syntheticView(chain, 8n), members[1]!, own), false, "another view");
    assert.equal(scheme.checkShare(view, members[2]!, own), false, "claimed for another member");
    assert.equal(scheme.checkShare(view, members[1]!, signViewBls(chain.members[1]!.secretKey, view, members[0]!)), false, "another Gateway's domain");
    const outsider = blsCommitteeOf(7399n, 1)[0]!;
    assert.equal(scheme.checkShare(view, outsider.address, signViewBls(outsider.secretKey, view, chain.gateway)), false, "not a member");
    assert.equal(scheme.checkShare(view, members[1]!, `0x${"00".repeat(128)}`), false, "the point at infinity");
  });

  it("attack: verifySignedView refuses below-threshold bitmaps, ECDSA signatures and a committee's aggregate under other keys", async () => {
    const view = syntheticView(chain, 9n);
    const refuses = (signatures: Hex[], against = committee) => assert.rejects(verifySignedView(view, signatures, against), SignedViewError);
    await verifySignedView(view, signBls(chain, view, [0, 2, 3]), committee);
    await refuses(signBls(chain, view, [0, 3]));
    await refuses(await Promise.all(accounts.slice(0, 3).map(async (a) => (await signView(a, view, chain.gateway)).signature)));
    await refuses(signBls(chain, view, [0, 2, 3]), { ...committee, blsKeys: blsCommitteeOf(7398n, 4).map((m) => m.key) });
  });

  it("keeps the ECDSA path for a committee without BLS keys (the registry's order of signatures)", async () => {
    const ecdsa: Committee = { gateway: chain.gateway, members, threshold: 3, k: 4 };
    const scheme = viewSchemeOf(ecdsa);
    const view = syntheticView(chain, 10n);
    const shares = new Map(
      await Promise.all(accounts.slice(1).map(async (a) => [a.address.toLowerCase(), await signView(a, view, chain.gateway)] as const)),
    );
    for (const [member, share] of shares) assert.equal(scheme.checkShare(view, member as Address, share.signature), true);
    await verifySignedView(view, scheme.combine(shares), ecdsa);
    assert.equal(scheme.checkShare(view, accounts[0]!.address, keccak256(stringToHex("junk"))), false);
  });
});
