import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { network } from "hardhat";
import {
  bytesToHex,
  concat,
  fromRlp,
  getAddress,
  hexToBytes,
  keccak256,
  numberToHex,
  pad,
  size,
  slice,
  toHex,
  toRlp,
  type Address,
  type Hex,
} from "viem";
import { encodeBlockHeader, type RpcBlock } from "../../relayer/chain/blockHeader.js";
import { flipByte, revertsWith } from "../fixtures/tamper.js";
import { measureProofStepGas } from "../../scripts/bench/proofStepGas.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const MAINNET_FIXTURE = path.resolve(repoRoot, "../shared/fixtures/mainnet-proof/block-14297900.json");

/** Storage slots and accounts written into the in-process chain's state, so its tries are several nodes deep. */
const SLOTS = 20_000;
const ACCOUNTS = 3_000;
/** Present slots and accounts whose `eth_getProof` is checked against OpenZeppelin and the node. */
const SAMPLED_SLOTS = 120;
const SAMPLED_ACCOUNTS = 40;
/** keccak256(rlp("")): the storage root of an account without storage. */
const EMPTY_TRIE_ROOT = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421";

type Mainnet = {
  blockNumber: number;
  blockHash: Hex;
  stateRoot: Hex;
  headerRlp: Hex;
  address: Address;
  accountProof: Hex[];
  storageProofs: { key: Hex; value: Hex; proof: Hex[] }[];
};

type Connection = Awaited<ReturnType<typeof network.create>>;
type Harness = Awaited<ReturnType<typeof deployHarness>>;

async function deployHarness(conn: Connection) {
  return conn.viem.deployContract("StateProofHarness");
}

// ---------------------------------------------------------------------------------------------------------------
// A reference Merkle-Patricia trie, to craft proofs the chain never produces: embedded (inlined) nodes, branch
// values, relabelled nodes. Checked against the node's own storage root below, so its encoding is Ethereum's.
// ---------------------------------------------------------------------------------------------------------------

type Rlp = Hex | readonly Rlp[];

const nibblesOf = (key: Hex): number[] => [...key.slice(2)].map((c) => Number.parseInt(c, 16));

/** Hex-prefix encoding of a path: flag nibble (2 for a leaf, +1 when odd), a zero pad nibble when even. */
function hexPrefix(nibbles: readonly number[], leaf: boolean): Hex {
  const odd = nibbles.length % 2;
  const all = [(leaf ? 2 : 0) + odd, ...(odd ? [] : [0]), ...nibbles];
  const bytes = new Uint8Array(all.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (all[2 * i]! << 4) | all[2 * i + 1]!;
  return bytesToHex(bytes);
}

class ReferenceTrie {
  /** Hash-referenced nodes (and the root) by hash: their structure and their encoding. */
  readonly nodes = new Map<Hex, { node: readonly Rlp[]; encoded: Hex }>();
  readonly root: Hex;
  /** Child references that are embedded nodes rather than hashes. */
  embedded = 0;

  /** `entries`: hashed key (32 bytes) to leaf value (the bytes the leaf's string holds). */
  constructor(entries: ReadonlyMap<Hex, Hex>) {
    const list = [...entries].map(([key, value]) => ({ path: nibblesOf(key), value }));
    const node = list.length === 0 ? ("0x" as Hex) : this.build(list, 0);
    const encoded = toRlp(node as never);
    this.root = keccak256(encoded);
    if (typeof node !== "string") this.nodes.set(this.root, { node, encoded });
  }

  private build(list: { path: number[]; value: Hex }[], depth: number): readonly Rlp[] {
    if (list.length === 1) return [hexPrefix(list[0]!.path.slice(depth), true), list[0]!.value];
    let common = 0;
    while (list.every((e) => e.path[depth + common] === list[0]!.path[depth + common])) common++;
    if (common > 0) return [hexPrefix(list[0]!.path.slice(depth, depth + common), false), this.ref(this.build(list, depth + common))];
    const branch: Rlp[] = [];
    for (let n = 0; n < 16; n++) {
      const group = list.filter((e) => e.path[depth] === n);
      branch.push(group.length === 0 ? "0x" : this.ref(this.build(group, depth + 1)));
    }
    branch.push("0x");
    return branch;
  }

  /** How a parent refers to `node`: by hash, or the node itself when its encoding is under 32 bytes. */
  ref(node: readonly Rlp[]): Rlp {
    const encoded = toRlp(node as never);
    if (size(encoded) < 32) {
      this.embedded++;
      return node;
    }
    const hash = keccak256(encoded);
    this.nodes.set(hash, { node, encoded });
    return hash;
  }

  /**
   * The proof of `key`, root first: every hash-referenced node on its path, as geth's eth_getProof lists them;
   * with `listEmbedded`, embedded nodes too, each as its own element (as ethereumjs does).
   */
  proof(key: Hex, listEmbedded = false): Hex[] {
    const path = nibblesOf(key);
    const root = this.nodes.get(this.root);
    if (root === undefined) return [];
    const out: Hex[] = [root.encoded];
    let node = root.node;
    let depth = 0;
    for (;;) {
      let next: Rlp;
      if (node.length === 17) {
        next = node[path[depth]!]!;
        depth++;
      } else {
        const hp = nibblesOf(node[0] as Hex);
        const nibbles = hp.slice(hp[0]! % 2 ? 1 : 2);
        if (hp[0]! >= 2) return out; // leaf
        if (nibbles.join() !== path.slice(depth, depth + nibbles.length).join()) return out; // diverges: exclusion
        depth += nibbles.length;
        next = node[1]!;
      }
      if (next === "0x") return out; // empty branch slot: exclusion
      if (typeof next === "string") {
        const child = this.nodes.get(next)!;
        out.push(child.encoded);
        node = child.node;
      } else {
        if (listEmbedded) out.push(toRlp(next as never));
        node = next as readonly Rlp[];
      }
    }
  }
}

/** The leaf value of a storage slot: the RLP of the word as a minimal big-endian integer. */
const slotLeaf = (word: bigint): Hex => toRlp(word === 0n ? "0x" : numberToHex(word));
/** The secure tries' keys: keccak256(abi.encode(slot)) and keccak256(abi.encodePacked(account)). */
const slotKey = (slot: Hex): Hex => keccak256(pad(slot));
const accountKey = (account: Address): Hex => keccak256(account);
/** The RLP list of an already encoded `payload` (which may be malformed on purpose). */
function rlpList(payload: Hex): Hex {
  const n = size(payload);
  if (n < 56) return concat([toHex(0xc0 + n, { size: 1 }), payload]);
  const length = numberToHex(n);
  return concat([toHex(0xf7 + size(length), { size: 1 }), length, payload]);
}
/** `proof` with node `index` replaced by `node`, and every node above it re-pointed at the new hashes: a proof that
 * passes all hash checks under the returned root, to exercise the decoding of `node` itself. Needs nodes of 32+ bytes. */
function rehash(proof: readonly Hex[], index: number, node: Hex): { root: Hex; proof: Hex[] } {
  const out = [...proof];
  out[index] = node;
  for (let i = index; i > 0; i--) {
    const before = keccak256(proof[i]!).slice(2);
    const after = keccak256(out[i]!).slice(2);
    assert.ok(out[i - 1]!.includes(before), "the parent refers to its child by hash");
    out[i - 1] = out[i - 1]!.replace(before, after) as Hex;
  }
  return { root: keccak256(out[0]!), proof: out };
}

/** A call that may revert (OpenZeppelin does on RLP it cannot decode): undefined when it does. */
async function orRevert<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch {
    return undefined;
  }
}

/** Our verdict and OpenZeppelin's on one trie proof; OpenZeppelin reverting counts as refusing. */
async function bothGet(h: Harness, root: Hex, key: Hex, proof: readonly Hex[]) {
  const [[value, ok], oz] = await Promise.all([h.read.tryGet([root, key, proof]), orRevert(h.read.ozTryGet([root, key, proof]))]);
  return { ours: ok ? value : undefined, oz: oz !== undefined && oz[1] === 0 ? oz[0] : undefined };
}

async function assertBothRefuse(h: Harness, root: Hex, key: Hex, proof: readonly Hex[], what: string) {
  const { ours, oz } = await bothGet(h, root, key, proof);
  assert.equal(ours, undefined, `${what}: CalldataTrie refuses`);
  assert.equal(oz, undefined, `${what}: OpenZeppelin refuses`);
}

describe("StateProof", function () {
  let conn: Connection;
  let h: Harness;
  let mainnet: Mainnet;

  before(async () => {
    conn = await network.create("chainA");
    h = await deployHarness(conn);
    mainnet = JSON.parse(readFileSync(MAINNET_FIXTURE, "utf8")) as Mainnet;
  });

  describe("mainnet block 14,297,900 (8-node account proof, 6–7-node storage proofs)", () => {
    it("reads the header's hash, number and state root like OpenZeppelin's BlockHeader and the JSON", async () => {
      const ours = await h.read.headerFields([mainnet.headerRlp]);
      const oz = await h.read.ozHeaderFields([mainnet.headerRlp]);
      assert.deepEqual(ours, oz);
      assert.deepEqual(ours, [mainnet.blockHash, BigInt(mainnet.blockNumber), mainnet.stateRoot]);
    });

    it("proves the account's storage root and all 20 slots like OpenZeppelin", async () => {
      assert.equal(mainnet.accountProof.length, 8);
      const [storageRoot, ok] = await h.read.tryStorageRoot([mainnet.stateRoot, mainnet.address, mainnet.accountProof]);
      assert.equal(ok, true);
      assert.deepEqual(await h.read.ozStorageRoot([mainnet.stateRoot, mainnet.address, mainnet.accountProof]), [storageRoot, true]);
      assert.equal(mainnet.storageProofs.length, 20);
      for (const { key, value, proof } of mainnet.storageProofs) {
        const ours = await h.read.tryReadSlot([storageRoot, key, proof]);
        assert.deepEqual(ours, [BigInt(value), true], `slot ${key}`);
        assert.deepEqual(await h.read.ozReadSlot([storageRoot, key, proof]), ours, `slot ${key}`);
      }
    });

    it("refuses every node with a byte flipped (0, 1, middle, last of each node), like OpenZeppelin", async () => {
      const { key, proof } = mainnet.storageProofs[3]!; // the 7-node one
      const [storageRoot] = await h.read.tryStorageRoot([mainnet.stateRoot, mainnet.address, mainnet.accountProof]);
      const cases: { root: Hex; key: Hex; proof: Hex[]; what: string }[] = [];
      for (const [name, root, hashedKey, nodes] of [
        ["account", mainnet.stateRoot, accountKey(mainnet.address), mainnet.accountProof],
        ["storage", storageRoot, slotKey(key), proof],
      ] as const) {
        nodes.forEach((node, i) => {
          for (const at of new Set([0, 1, Math.floor(size(node) / 2), size(node) - 1])) {
            cases.push({ root, key: hashedKey, proof: nodes.map((n, j) => (j === i ? flipByte(n, at) : n)), what: `${name} node ${i} byte ${at}` });
          }
        });
      }
      for (const c of cases) await assertBothRefuse(h, c.root, c.key, c.proof, c.what);
    });

    it("refuses a truncated proof, an extended proof, a wrong key and a wrong root", async () => {
      const { key, proof } = mainnet.storageProofs[0]!;
      const [storageRoot] = await h.read.tryStorageRoot([mainnet.stateRoot, mainnet.address, mainnet.accountProof]);
      const k = slotKey(key);
      await assertBothRefuse(h, storageRoot, k, proof.slice(0, -1), "last node dropped");
      await assertBothRefuse(h, storageRoot, k, [...proof, proof.at(-1)!], "leaf repeated");
      await assertBothRefuse(h, storageRoot, k, [...proof, mainnet.accountProof.at(-1)!], "another leaf appended");
      await assertBothRefuse(h, storageRoot, k, [...proof, "0xc0"], "empty list appended");
      await assertBothRefuse(h, storageRoot, slotKey(mainnet.storageProofs[1]!.key), proof, "another present slot's key");
      await assertBothRefuse(h, storageRoot, keccak256("0x01"), proof, "an absent key");
      await assertBothRefuse(h, mainnet.stateRoot, k, proof, "the state root");
      await assertBothRefuse(h, keccak256(storageRoot), k, proof, "a random root");
      assert.deepEqual(await h.read.tryStorageRoot([mainnet.stateRoot, getAddress(mainnet.address.replace(/.$/, "0")), mainnet.accountProof]), [
        "0x0000000000000000000000000000000000000000000000000000000000000000",
        false,
      ]);
      assert.deepEqual(await h.read.tryReadSlot([storageRoot, key, []]), [0n, false]);
    });

    it("refuses random truncations and random byte flips (fast-check)", async () => {
      const [storageRoot] = await h.read.tryStorageRoot([mainnet.stateRoot, mainnet.address, mainnet.accountProof]);
      const proofs = mainnet.storageProofs.map((s) => ({ root: storageRoot, key: slotKey(s.key), proof: s.proof }));
      proofs.push({ root: mainnet.stateRoot, key: accountKey(mainnet.address), proof: mainnet.accountProof });
      await fc.assert(
        fc.asyncProperty(fc.nat(proofs.length - 1), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), async (p, node, at, mask) => {
          const { root, key, proof } = proofs[p]!;
          const i = node % proof.length;
          const j = at % size(proof[i]!);
          const flipped = proof.map((n, k) => {
            if (k !== i) return n;
            const bytes = hexToBytes(n);
            bytes[j]! ^= mask;
            return bytesToHex(bytes);
          });
          await assertBothRefuse(h, root, key, flipped, `proof ${p} node ${i} byte ${j} ^ ${mask}`);
          await assertBothRefuse(h, root, key, proof.slice(0, 1 + (at % (proof.length - 1))), `proof ${p} truncated`);
        }),
        { numRuns: 60 },
      );
    });

    it("never reverts on re-hashed garbage inside the nodes, and accepts only what OpenZeppelin accepts (fast-check)", async () => {
      // Each mutated node is re-hashed into its parents: hash checks pass, so the RLP reader itself meets the garbage.
      const { key, proof } = mainnet.storageProofs[3]!;
      const k = slotKey(key);
      const outcomes = { accepted: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(
          fc.nat(proof.length - 1),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
          async (index, edits) => {
            const bytes = hexToBytes(proof[index]!);
            for (const [at, byte] of edits) bytes[at % bytes.length] = byte;
            const forged = rehash(proof, index, bytesToHex(bytes));
            const { ours, oz } = await bothGet(h, forged.root, k, forged.proof);
            if (ours !== undefined) assert.equal(oz, ours, "whatever CalldataTrie accepts, OpenZeppelin accepts with the same value");
            outcomes[ours === undefined ? "refused" : "accepted"]++;
          },
        ),
        { numRuns: 150 },
      );
      // Edits inside sibling hashes keep a valid proof; edits of the structure do not: both sides were exercised.
      assert.ok(outcomes.accepted > 0 && outcomes.refused > 0, JSON.stringify(outcomes));
    });
  });

  describe("deep tries of the in-process chain", () => {
    let holder: Address;
    let words: Map<Hex, bigint>;
    let header: Hex;
    let block: RpcBlock;
    let accounts: Address[];

    before(async function () {
      this.timeout(600_000);
      const { provider } = conn;
      const publicClient = await conn.viem.getPublicClient();
      holder = (await deployHarness(conn)).address; // its storage is empty until the writes below
      // Slots 0.. and hashed ones; values 1 (tiny leaves, the likeliest to be inlined), 2-byte and full words.
      words = new Map();
      for (let i = 0; i < SLOTS; i++) {
        const slot = i % 2 ? keccak256(toHex(`slot ${i}`)) : pad(toHex(i));
        const word = i % 3 === 0 ? 1n : i % 3 === 1 ? BigInt(i) : BigInt(keccak256(toHex(`word ${i}`)));
        words.set(slot, word);
      }
      const writes = [...words].map(([slot, word]) => () =>
        provider.request({ method: "hardhat_setStorageAt", params: [holder, numberToHex(BigInt(slot)), pad(numberToHex(word))] }),
      );
      accounts = Array.from({ length: ACCOUNTS }, (_, i) => getAddress(slice(keccak256(toHex(`account ${i}`)), 12)));
      const funds = accounts.map((account, i) => () =>
        provider.request({ method: "hardhat_setBalance", params: [account, numberToHex(BigInt(i + 1))] }),
      );
      const calls = [...writes, ...funds];
      for (let i = 0; i < calls.length; i += 1000) await Promise.all(calls.slice(i, i + 1000).map((call) => call()));
      await provider.request({ method: "hardhat_mine", params: ["0x1"] });
      block = (await publicClient.request({ method: "eth_getBlockByNumber", params: ["latest", false] })) as RpcBlock;
      header = encodeBlockHeader(block);
    });

    it("reads the header like OpenZeppelin's BlockHeader and the node", async () => {
      const ours = await h.read.headerFields([header]);
      assert.deepEqual(ours, await h.read.ozHeaderFields([header]));
      assert.deepEqual(ours, [block.hash, BigInt(block.number), block["stateRoot"] as Hex]);
    });

    it("the reference trie of the written slots has the node's storage root (and embeds no node)", async () => {
      const publicClient = await conn.viem.getPublicClient();
      const slots = [...words.keys()].slice(0, 20);
      const proof = await publicClient.getProof({ address: holder, storageKeys: slots, blockNumber: BigInt(block.number) });
      const trie = new ReferenceTrie(new Map([...words].map(([slot, word]) => [slotKey(slot), slotLeaf(word)])));
      assert.equal(trie.root, proof.storageHash);
      for (const s of proof.storageProof) assert.deepEqual(trie.proof(slotKey(s.key)), s.proof, `proof of ${s.key}`);
      // Keys are hashes: two sharing the ~10 nibbles a short leaf needs is a 1-in-1,000 event at this size.
      assert.equal(trie.embedded, 0);
    });

    it("proves sampled slots of a 20,000-slot contract like OpenZeppelin and eth_getStorageAt", async () => {
      const publicClient = await conn.viem.getPublicClient();
      const blockNumber = BigInt(block.number);
      const [, , stateRoot] = await h.read.headerFields([header]);
      const all = [...words.keys()];
      const sample = Array.from({ length: SAMPLED_SLOTS }, (_, i) => all[Math.floor((i * all.length) / SAMPLED_SLOTS) + (i % 7)]!);
      const proof = await publicClient.getProof({ address: holder, storageKeys: sample, blockNumber });
      assert.ok(proof.accountProof.length >= 3, `account proof of ${proof.accountProof.length} nodes`);
      const [storageRoot, ok] = await h.read.tryStorageRoot([stateRoot, holder, proof.accountProof]);
      assert.deepEqual([storageRoot, ok], [proof.storageHash, true]);
      assert.deepEqual(await h.read.ozStorageRoot([stateRoot, holder, proof.accountProof]), [storageRoot, true]);
      const depths = new Set<number>();
      for (const s of proof.storageProof) {
        depths.add(s.proof.length);
        const ours = await h.read.tryReadSlot([storageRoot, s.key, s.proof]);
        assert.deepEqual(ours, [words.get(s.key), true], `slot ${s.key}`);
        assert.deepEqual(await h.read.ozReadSlot([storageRoot, s.key, s.proof]), ours);
        const stored = await publicClient.getStorageAt({ address: holder, slot: s.key, blockNumber });
        assert.equal(BigInt(stored!), ours[0]);
      }
      assert.ok(Math.max(...depths) >= 5, `storage proofs of ${[...depths]} nodes`);
    });

    it("proves the storage root of sampled accounts of a 3,000-account state like OpenZeppelin", async () => {
      const publicClient = await conn.viem.getPublicClient();
      const [, , stateRoot] = await h.read.headerFields([header]);
      for (let i = 0; i < SAMPLED_ACCOUNTS; i++) {
        const account = accounts[Math.floor((i * ACCOUNTS) / SAMPLED_ACCOUNTS)]!;
        const proof = await publicClient.getProof({ address: account, storageKeys: [], blockNumber: BigInt(block.number) });
        const ours = await h.read.tryStorageRoot([stateRoot, account, proof.accountProof]);
        assert.deepEqual(ours, [EMPTY_TRIE_ROOT, true], account);
        assert.deepEqual(await h.read.ozStorageRoot([stateRoot, account, proof.accountProof]), ours);
      }
    });

    it("refuses exclusion proofs: an absent slot, an absent account", async () => {
      const publicClient = await conn.viem.getPublicClient();
      const blockNumber = BigInt(block.number);
      const [, , stateRoot] = await h.read.headerFields([header]);
      const absent = [keccak256("0xdead"), pad(toHex(SLOTS + 1)), pad(toHex(SLOTS * 2))];
      const proof = await publicClient.getProof({ address: holder, storageKeys: absent, blockNumber });
      for (const s of proof.storageProof) {
        assert.equal(s.value, 0n);
        assert.deepEqual(await h.read.tryReadSlot([proof.storageHash, s.key, s.proof]), [0n, false]);
        // OpenZeppelin reverts when the path ends in an empty branch slot, or refuses: a refusal either way.
        const oz = await orRevert(h.read.ozReadSlot([proof.storageHash, s.key, s.proof]));
        assert.ok(oz === undefined || oz[1] === false);
        // Not even a shorter proof of the same path proves anything.
        await assertBothRefuse(h, proof.storageHash, slotKey(s.key), s.proof.slice(0, -1), "exclusion, truncated");
      }
      const nobody = getAddress(slice(keccak256("0xbeef"), 12));
      const none = await publicClient.getProof({ address: nobody, storageKeys: [], blockNumber });
      assert.deepEqual(await h.read.tryStorageRoot([stateRoot, nobody, none.accountProof]), [`0x${"0".repeat(64)}`, false]);
      const oz = await orRevert(h.read.ozStorageRoot([stateRoot, nobody, none.accountProof]));
      assert.ok(oz === undefined || oz[1] === false);
    });

    it("refuses flipped bytes, truncations and extensions of devnet proofs (fast-check)", async () => {
      const publicClient = await conn.viem.getPublicClient();
      const all = [...words.keys()];
      const slots = [all[1]!, all[2]!, all[3]!, all[SLOTS - 1]!];
      const proof = await publicClient.getProof({ address: holder, storageKeys: slots, blockNumber: BigInt(block.number) });
      await fc.assert(
        fc.asyncProperty(fc.nat(slots.length - 1), fc.nat(), fc.nat(), async (p, node, at) => {
          const s = proof.storageProof[p]!;
          const i = node % s.proof.length;
          const flipped = s.proof.map((n, k) => (k === i ? flipByte(n, at % size(n)) : n));
          const key = slotKey(s.key);
          await assertBothRefuse(h, proof.storageHash, key, flipped, `slot ${p} node ${i} byte ${at % size(s.proof[i]!)}`);
          await assertBothRefuse(h, proof.storageHash, key, s.proof.slice(0, i), `slot ${p} cut to ${i} nodes`);
          await assertBothRefuse(h, proof.storageHash, key, [...s.proof, s.proof[i]!], `slot ${p} with node ${i} appended`);
        }),
        { numRuns: 40 },
      );
    });
  });

  describe("crafted tries", () => {
    /** Keys that share long prefixes, so that subtries near the leaves are small enough to be embedded. */
    function clusteredKeys(): Hex[] {
      const keys: Hex[] = [];
      for (let c = 0; c < 6; c++) {
        const base = keccak256(toHex(`cluster ${c}`));
        // Differing in the last 1–3 nibbles: tiny leaves under tiny branches, embedded in their parents.
        const w = 1 + (c % 3);
        for (let v = 0; v < 5 + c; v++) keys.push(`${base.slice(0, 66 - w)}${keccak256(toHex(`${c}/${v}`)).slice(2, 2 + w)}` as Hex);
      }
      for (let i = 0; i < 40; i++) keys.push(keccak256(toHex(`lone ${i}`)));
      return [...new Set(keys)];
    }

    it("walks embedded nodes (listed separately or not) to the same values as OpenZeppelin", async () => {
      const keys = clusteredKeys();
      const entries = new Map(keys.map((key, i) => [key, i % 4 === 3 ? keccak256(key) : slotLeaf(BigInt(i % 3) + 1n)]));
      const trie = new ReferenceTrie(entries);
      assert.ok(trie.embedded >= 10, `${trie.embedded} embedded nodes`);
      let walkedThroughEmbedded = 0;
      for (const [key, value] of entries) {
        const plain = trie.proof(key);
        const listed = trie.proof(key, true);
        if (listed.length > plain.length) walkedThroughEmbedded++;
        for (const proof of [plain, listed]) {
          const { ours, oz } = await bothGet(h, trie.root, key, proof);
          assert.equal(ours, value, `key ${key}, ${proof.length} nodes`);
          assert.equal(oz, value, `OpenZeppelin, key ${key}, ${proof.length} nodes`);
        }
        // A listed embedded node must be the embedded bytes, and nothing may follow the leaf.
        if (listed.length > plain.length) {
          const bent = [...listed];
          bent[bent.length - 1] = flipByte(bent.at(-1)!, -1);
          assert.equal((await bothGet(h, trie.root, key, bent)).ours, undefined, "a listed embedded node that differs");
          assert.equal((await bothGet(h, trie.root, key, [...listed, listed.at(-1)!])).ours, undefined, "the embedded leaf twice");
        }
        await assertBothRefuse(h, trie.root, key, [...plain, plain.at(-1)!], "node repeated after the leaf");
      }
      assert.ok(walkedThroughEmbedded >= 10, `${walkedThroughEmbedded} keys end in embedded nodes`);
      // Absent keys next to the clusters end in an embedded branch's empty slot or a sibling embedded leaf.
      for (const key of keys.slice(0, 12)) {
        const absent = `${key.slice(0, 65)}${((Number.parseInt(key.slice(65), 16) + 9) % 16).toString(16)}` as Hex;
        if (entries.has(absent)) continue;
        await assertBothRefuse(h, trie.root, absent, trie.proof(absent), `absent key ${absent}`);
        await assertBothRefuse(h, trie.root, absent, trie.proof(absent, true), `absent key ${absent}, embedded listed`);
      }
    });

    it("refuses a leaf taken for an extension and an extension taken for a leaf", async () => {
      const key = keccak256("0x1234");
      const other = keccak256("0x5678");
      const value = keccak256("0x9abc"); // 32 bytes: the leaf's value has the shape of a child hash
      const trie = new ReferenceTrie(new Map([[key, value], [other, value]]));
      const honest = trie.proof(key);
      assert.equal(honest.length, 2, "a root branch over two leaves");
      const [rootNode, leaf] = honest;
      const leafItems = fromRlp(leaf!) as Hex[];
      const nibbles = nibblesOf(leafItems[0]!).slice(nibblesOf(leafItems[0]!)[0]! % 2 ? 1 : 2);
      // The leaf relabelled as an extension, re-hashed into the root: the walk now wants a node after it.
      const asExtension = toRlp([hexPrefix(nibbles, false), value]);
      const forged = rehash([rootNode!, leaf!], 1, asExtension);
      await assertBothRefuse(h, forged.root, key, forged.proof, "leaf relabelled as an extension");
      await assertBothRefuse(h, forged.root, key, [...forged.proof, leaf!], "… followed by some node");
      // An extension relabelled as a leaf: its path stops short of the key's 64 nibbles.
      const extension = toRlp([hexPrefix(nibblesOf(key).slice(0, 5), true), keccak256(leaf!)]);
      const shortLeaf = { root: keccak256(extension), proof: [extension] };
      await assertBothRefuse(h, shortLeaf.root, key, shortLeaf.proof, "extension relabelled as a leaf");
      // And the honest proof of the honest trie is accepted.
      assert.equal((await bothGet(h, trie.root, key, trie.proof(key))).ours, value);
    });

    it("refuses a node under 32 bytes referenced by hash, at any depth", async () => {
      const key = keccak256("0x01");
      const path = nibblesOf(key);
      // A leaf of 31 nibbles' path and a 1-byte value: 19 bytes, which a trie embeds; here its hash is used instead.
      const shortLeaf = toRlp([hexPrefix(path.slice(33), true), "0x2a"]);
      assert.ok(size(shortLeaf) < 32);
      const branchWith = (child: Rlp): Hex => {
        const items: Rlp[] = Array.from({ length: 17 }, () => "0x" as Hex);
        items[path[32]!] = child;
        items[(path[32]! + 1) % 16] = keccak256("0x05");
        return toRlp(items as never);
      };
      // Element 1: an extension of 33 nibbles straight onto the leaf's hash.
      const extension = toRlp([hexPrefix(path.slice(0, 33), false), keccak256(shortLeaf)]);
      await assertBothRefuse(h, keccak256(extension), key, [extension, shortLeaf], "short leaf by hash, element 1");
      // Element 2: an extension of 32 nibbles, a branch, the leaf's hash in it.
      const branch = branchWith(keccak256(shortLeaf));
      const top = toRlp([hexPrefix(path.slice(0, 32), false), keccak256(branch)]);
      await assertBothRefuse(h, keccak256(top), key, [top, branch, shortLeaf], "short leaf by hash, element 2");
      // The same leaf embedded in the branch is proven.
      const embedding = branchWith(fromRlp(shortLeaf) as Rlp[]);
      const top2 = toRlp([hexPrefix(path.slice(0, 32), false), keccak256(embedding)]);
      assert.deepEqual(await bothGet(h, keccak256(top2), key, [top2, embedding]), { ours: "0x2a", oz: "0x2a" });
      assert.deepEqual(await bothGet(h, keccak256(top2), key, [top2, embedding, shortLeaf]), { ours: "0x2a", oz: "0x2a" });
    });

    it("refuses an even hex-prefix path whose pad nibble is not zero (OpenZeppelin ignores it)", async () => {
      const key = keccak256("0x01");
      const honest = toRlp([hexPrefix(nibblesOf(key), true), "0x2a"]); // a one-leaf trie: flag byte 0x20
      assert.deepEqual(await bothGet(h, keccak256(honest), key, [honest]), { ours: "0x2a", oz: "0x2a" });
      for (const pad of [1, 2, 8, 15]) {
        const padded = honest.replace(/^0xe3a120/, `0xe3a12${pad.toString(16)}`) as Hex;
        assert.notEqual(padded, honest);
        const { ours, oz } = await bothGet(h, keccak256(padded), key, [padded]);
        assert.equal(ours, undefined, `pad nibble ${pad}`);
        assert.equal(oz, "0x2a");
      }
    });

    it("refuses branch values, which Ethereum's secure tries never hold (OpenZeppelin returns them)", async () => {
      const key = keccak256("0x01");
      const path = nibblesOf(key);
      // An extension over all 64 nibbles, then a branch whose value is the 17th item: the key ends at the branch.
      const branch: Rlp[] = Array.from({ length: 16 }, () => "0x" as Hex);
      branch[0] = keccak256("0x02");
      branch[1] = keccak256("0x03");
      branch.push(keccak256("0x04"));
      const branchRlp = toRlp(branch as never);
      const extension = toRlp([hexPrefix(path, false), keccak256(branchRlp)]);
      const { ours, oz } = await bothGet(h, keccak256(extension), key, [extension, branchRlp]);
      assert.equal(ours, undefined);
      assert.equal(oz, keccak256("0x04"));
      // A branch holding a value is refused even on the way to a leaf.
      const leaf = toRlp([hexPrefix(path.slice(1), true), "0x2a"]);
      const valued: Rlp[] = Array.from({ length: 17 }, () => "0x" as Hex);
      valued[path[0]!] = keccak256(leaf);
      valued[(path[0]! + 1) % 16] = keccak256("0x05");
      valued[16] = "0x07";
      const valuedRlp = toRlp(valued as never);
      assert.equal((await bothGet(h, keccak256(valuedRlp), key, [valuedRlp, leaf])).ours, undefined);
      // The same branch without its value proves the leaf.
      valued[16] = "0x";
      const cleanRlp = toRlp(valued as never);
      assert.deepEqual(await bothGet(h, keccak256(cleanRlp), key, [cleanRlp, leaf]), { ours: "0x2a", oz: "0x2a" });
    });

    it("refuses RLP lengths that point past the item, never reverting", async () => {
      const key = keccak256("0x01");
      const hash = keccak256("0x02");
      const empties = (n: number) => `0x${"80".repeat(n)}` as Hex;
      const garbage: Hex[] = [
        "0x", // nothing
        "0xc0", // an empty list
        "0xf9ffff", // a long list whose length runs past the node
        "0xffffffffffffffffff", // a list with an 8-byte length, past everything
        concat(["0xf8ff", empties(17)]), // a branch-like list claiming more than it holds
        concat(["0xd1", empties(16)]), // a short list claiming one byte more than it holds
        rlpList(concat([empties(16), "0xb8ff"])), // a branch whose value is a long string running past the node
        rlpList(concat(["0xbfffffffffffffffff", empties(16)])), // a branch whose first child claims an 8-byte length
        concat(["0xf843", toRlp(hash), toRlp(hash)]), // two hashes claimed as 67 bytes: one short
        rlpList(concat(["0xa1", hash])), // a leaf-like list whose path claims 33 bytes and holds 32
        rlpList(concat(["0xbfffffffffffffffff", "0x00", hash])), // an 8-byte item length inside a small list
        rlpList(concat(["0xb8ff", hash, empties(13)])), // a path as a long string running past the node
        rlpList(concat([toRlp(hash), toRlp(hash), toRlp(hash), "0xa0010203"])), // a fourth hash cut short
        rlpList(concat([toRlp(hash), "0xb90100", hash])), // a leaf whose value claims 256 bytes
      ];
      for (const node of garbage) {
        const [value, ok] = await h.read.tryGet([keccak256(node), key, [node]]);
        assert.deepEqual([value, ok], ["0x", false], node);
        const oz = await orRevert(h.read.ozTryGet([keccak256(node), key, [node]]));
        assert.ok(oz === undefined || oz[1] !== 0, `OpenZeppelin on ${node}`);
      }
      // The same garbage as a hash-referenced child of a valid branch.
      for (const node of garbage.filter((n) => size(n) >= 32)) {
        const branch: Rlp[] = Array.from({ length: 17 }, () => "0x" as Hex);
        branch[nibblesOf(key)[0]!] = keccak256(node);
        branch[(nibblesOf(key)[0]! + 1) % 16] = keccak256("0x05");
        const rlp = toRlp(branch as never);
        assert.deepEqual(await h.read.tryGet([keccak256(rlp), key, [rlp, node]]), ["0x", false], node);
      }
      assert.deepEqual(await h.read.tryGet([keccak256("0x"), key, []]), ["0x", false]);
    });

    it("never reverts on random bytes hashed as the root, and accepts only what OpenZeppelin accepts (fast-check)", async () => {
      const key = keccak256("0x01");
      const prefixes = fc.constantFrom<Hex>("0x", "0xc2", "0xe1", "0xf8", "0xf9", "0xf851", "0xe2a1", "0xf844a0");
      await fc.assert(
        fc.asyncProperty(prefixes, fc.uint8Array({ maxLength: 80 }), async (prefix, rest) => {
          const node = concat([prefix, bytesToHex(rest)]);
          const { ours, oz } = await bothGet(h, keccak256(node), key, [node]);
          if (ours !== undefined) assert.equal(oz, ours);
        }),
        { numRuns: 150 },
      );
    });
  });

  describe("headerFields on malformed headers", () => {
    it("reverts with StateProofInvalidHeader", async () => {
      const header = mainnet.headerRlp;
      const fields = fromRlp(header) as Hex[];
      const malformed: [string, Hex][] = [
        ["empty", "0x"],
        ["last byte dropped", slice(header, 0, size(header) - 1)],
        ["a byte appended", concat([header, "0x00"])],
        ["a string, not a list", concat(["0xb9", slice(header, 1)])],
        ["8 fields", toRlp(fields.slice(0, 8))],
        ["state root of 31 bytes", toRlp([...fields.slice(0, 3), slice(fields[3]!, 1), ...fields.slice(4)])],
        ["number of 9 bytes", toRlp([...fields.slice(0, 8), "0x010000000000000000", ...fields.slice(9)])],
        ["a list as a field", toRlp([...fields.slice(0, 5), [fields[5]!], ...fields.slice(6)] as never)],
        ["a field length past the header", rlpList(concat([...fields.slice(0, 2).map((f) => toRlp(f)), "0xbfffffffffffffffff", "0x00"]))],
        ["a field length past the list", rlpList(concat([...fields.slice(0, 4).map((f) => toRlp(f)), "0xb90200"]))],
      ];
      for (const [what, bad] of malformed) {
        await assert.rejects(h.read.headerFields([bad]), revertsWith("StateProofInvalidHeader"), what);
      }
      // A header of 9 fields is enough: every fork has fields 0..8.
      const [, number, stateRoot] = await h.read.headerFields([toRlp(fields.slice(0, 9))]);
      assert.deepEqual([number, stateRoot], [BigInt(mainnet.blockNumber), mainnet.stateRoot]);
      assert.equal((await h.read.headerFields([toRlp([...fields.slice(0, 8), "0x"])]))[1], 0n);
    });
  });

  it("proveSlot: one transaction from header to slot, matching OpenZeppelin's", async () => {
    const { key, value, proof } = mainnet.storageProofs[0]!;
    const args = [mainnet.headerRlp, mainnet.blockHash, mainnet.address, mainnet.accountProof, key, proof] as const;
    assert.equal((await h.simulate.proveSlot([...args])).result, BigInt(value));
    assert.equal((await h.simulate.ozProveSlot([...args])).result, BigInt(value));
    const [header, , account, accountProof] = args;
    await assert.rejects(h.simulate.proveSlot([header, keccak256("0x"), account, accountProof, key, proof]), revertsWith("HarnessHeaderNotAccepted"));
    await assert.rejects(
      h.simulate.proveSlot([header, mainnet.blockHash, account, accountProof, mainnet.storageProofs[1]!.key, proof]),
      revertsWith("HarnessBadStorageProof"),
    );
    await assert.rejects(
      h.simulate.proveSlot([header, mainnet.blockHash, account, accountProof.slice(1), key, proof]),
      revertsWith("HarnessBadAccountProof"),
    );
  });

  it("gas: one transaction proving a mainnet slot, a fraction of OpenZeppelin's execution, at the calldata floor", async () => {
    const gas = await measureProofStepGas();
    assert.ok(gas.mainnetExecution * 4n < gas.mainnetExecutionOpenZeppelin, JSON.stringify(gas, (_, v) => (typeof v === "bigint" ? `${v}` : v)));
    assert.ok(gas.devnet < gas.mainnetDepth && gas.mainnetDepth < gas.mainnetDepthOpenZeppelin);
    // Under Prague a transaction carrying ~6.5 KB of trie nodes pays EIP-7623's calldata floor, not its execution.
    assert.equal(gas.mainnetDepth, gas.mainnetCalldataFloor);
  });
});
