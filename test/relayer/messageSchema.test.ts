import assert from "node:assert/strict";
import fc from "fast-check";
import { keccak256, stringToHex, type Hex } from "viem";
import {
  MAX_BRIDGE,
  MAX_COMMITTEE,
  MAX_CONTRACTS_PER_REQUEST,
  MAX_HEADER_BYTES,
  MAX_K,
  MAX_PROOF_NODES,
  MAX_REASON_LENGTH,
  MAX_TRIE_NODE_BYTES,
  MAX_VIEWS_PER_UPDATE,
  MESSAGE_KINDS,
  type Message,
  type WireSignedView,
  type WireViewHead,
} from "../../relayer/net/message.js";
import { decodeMessage } from "../../relayer/net/messageSchema.js";
import { relate } from "../../relayer/view/relate.js";
import { verifySignedView } from "../../relayer/view/verifySignedView.js";
import { fromWireView } from "../../relayer/view/wireView.js";
import { headOf, toWireViewHead } from "../../relayer/view/viewHead.js";
import { signSynthetic, testChain, viewAt, wire } from "../fixtures/syntheticChain.js";

// ---------------------------------------------------------------------------------------------------------------------
// One valid message of every kind, with a real signed view of a synthetic chain (k = 4, q = 4, threshold 3).
// ---------------------------------------------------------------------------------------------------------------------

const A = testChain(1001n, 4, { label: "message schema test", seed: 17 });
const hashOf = (tag: string): Hex => keccak256(stringToHex(tag));
const REQUEST_ID = hashOf("request").slice(2, 34);

async function examples(): Promise<Message[]> {
  const newest = await signSynthetic(A, viewAt(A, 9));
  const signed = wire(newest);
  const older = wire(await signSynthetic(A, viewAt(A, 5)));
  const head = toWireViewHead(headOf(newest, 7n)!);
  const node = `0x${"e2".repeat(300)}` as Hex;
  return [
    { kind: "cosign", chainId: "1001", height: "9", signer: A.accounts[0]!.address, signature: signed.signatures[0]! },
    { kind: "request", requestId: REQUEST_ID, chainId: "1002", contractIds: [hashOf("a"), hashOf("b")], knownHeight: "10", minHeight: "12" },
    { kind: "request", requestId: REQUEST_ID, chainId: "1002", contractIds: [hashOf("a")], knownHeight: "30", minHeight: "30", atHeight: "30" },
    { kind: "answer", requestId: REQUEST_ID, height: "9", proof: { header: `0x${"f9".repeat(600)}`, accountProof: [node, node], storageProofs: [[node], []] }, view: signed, bridge: [hashOf("4"), hashOf("5")] },
    { kind: "answer", requestId: REQUEST_ID, height: "30", proof: { header: "0xc0", accountProof: [], storageProofs: [] } },
    { kind: "answer-error", requestId: REQUEST_ID, reason: "no certified view reaches the requested height yet" },
    { kind: "view-update", views: [signed, older] },
    { kind: "view-update", views: [], heads: [head] },
    { kind: "view-pull", chainId: "1001", fromHeight: "0" },
    { kind: "evidence", a: signed, b: older },
  ];
}

/** Re-reads a message as a transport does: the JSON text a peer sent, parsed. */
const overTheWire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

function refusal(value: unknown): string {
  const decoded = decodeMessage(value);
  assert.equal(decoded.ok, false, `expected a refusal of ${JSON.stringify(value).slice(0, 120)}`);
  return decoded.ok ? "" : decoded.reason;
}

// ---------------------------------------------------------------------------------------------------------------------
// An oracle of the bounds, written apart from the schema: what an accepted message must satisfy.
// ---------------------------------------------------------------------------------------------------------------------

const KEYS: Record<string, readonly string[]> = {
  cosign: ["kind", "chainId", "height", "signer", "signature"],
  request: ["kind", "requestId", "chainId", "contractIds", "knownHeight", "minHeight", "atHeight"],
  answer: ["kind", "requestId", "height", "proof", "view", "bridge"],
  "answer-error": ["kind", "requestId", "reason"],
  "view-update": ["kind", "views", "heads"],
  "view-pull": ["kind", "chainId", "fromHeight"],
  evidence: ["kind", "a", "b"],
};
const isDecimal = (v: unknown) => typeof v === "string" && /^(0|[1-9]\d*)$/.test(v) && BigInt(v) < 2n ** 64n;
const isHexOf = (v: unknown, bytes: number) => typeof v === "string" && v.length === 2 + 2 * bytes && v === v.toLowerCase() && /^0x[0-9a-f]*$/.test(v);
const isBytesUpTo = (v: unknown, max: number) => typeof v === "string" && v.length % 2 === 0 && v.length <= 2 + 2 * max && /^0x[0-9a-f]*$/.test(v);
const keysWithin = (o: object, allowed: readonly string[]) => Object.keys(o).every((k) => allowed.includes(k));
const listWithin = (v: unknown, min: number, max: number, each: (item: unknown) => boolean) => Array.isArray(v) && v.length >= min && v.length <= max && v.every(each);

function signedViewWithin(s: WireSignedView): boolean {
  return (
    keysWithin(s, ["view", "signatures"]) &&
    keysWithin(s.view, ["chainId", "height", "acc", "hashes"]) &&
    isDecimal(s.view.chainId) &&
    isDecimal(s.view.height) &&
    isHexOf(s.view.acc, 32) &&
    listWithin(s.view.hashes, 1, MAX_K, (h) => isHexOf(h, 32)) &&
    listWithin(s.signatures, 1, MAX_COMMITTEE, (sig) => isHexOf(sig, 65))
  );
}

function headWithin(h: WireViewHead): boolean {
  return (
    keysWithin(h, ["chainId", "height", "base", "baseAcc", "hashes", "signatures"]) &&
    isDecimal(h.chainId) &&
    isDecimal(h.height) &&
    isDecimal(h.base) &&
    isHexOf(h.baseAcc, 32) &&
    listWithin(h.hashes, 1, MAX_K, (x) => isHexOf(x, 32)) &&
    listWithin(h.signatures, 1, MAX_COMMITTEE, (sig) => isHexOf(sig, 65))
  );
}

function withinBounds(m: Message): boolean {
  if (!keysWithin(m, KEYS[m.kind]!)) return false;
  const requestIdOk = (id: string) => /^[0-9a-f]{32}$/.test(id);
  switch (m.kind) {
    case "cosign":
      return isDecimal(m.chainId) && isDecimal(m.height) && /^0x[0-9a-fA-F]{40}$/.test(m.signer) && isHexOf(m.signature, 65);
    case "request":
      return requestIdOk(m.requestId) && isDecimal(m.chainId) && isDecimal(m.knownHeight) && isDecimal(m.minHeight) && (m.atHeight === undefined || isDecimal(m.atHeight)) && listWithin(m.contractIds, 0, MAX_CONTRACTS_PER_REQUEST, (h) => isHexOf(h, 32));
    case "answer": {
      const trie = (p: unknown) => listWithin(p, 0, MAX_PROOF_NODES, (n) => isBytesUpTo(n, MAX_TRIE_NODE_BYTES));
      return (
        requestIdOk(m.requestId) &&
        isDecimal(m.height) &&
        keysWithin(m.proof, ["header", "accountProof", "storageProofs"]) &&
        isBytesUpTo(m.proof.header, MAX_HEADER_BYTES) &&
        trie(m.proof.accountProof) &&
        listWithin(m.proof.storageProofs, 0, MAX_CONTRACTS_PER_REQUEST, trie) &&
        (m.view === undefined || signedViewWithin(m.view)) &&
        (m.bridge === undefined || listWithin(m.bridge, 0, MAX_BRIDGE, (h) => isHexOf(h, 32)))
      );
    }
    case "answer-error":
      return requestIdOk(m.requestId) && m.reason.length <= MAX_REASON_LENGTH && !/[\u0000-\u001f\u007f]/.test(m.reason);
    case "view-update":
      return listWithin(m.views, 0, MAX_VIEWS_PER_UPDATE, (s) => signedViewWithin(s as WireSignedView)) && (m.heads === undefined || listWithin(m.heads, 0, MAX_VIEWS_PER_UPDATE, (h) => headWithin(h as WireViewHead)));
    case "view-pull":
      return isDecimal(m.chainId) && isDecimal(m.fromHeight);
    case "evidence":
      return signedViewWithin(m.a) && signedViewWithin(m.b);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Mutations an attacker may make to a valid message: any value at any place, keys removed or added, strings re-cased,
// lengthened or cut, arrays grown past their bounds.
// ---------------------------------------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Mutation =
  | { op: "replace"; at: number; value: Json }
  | { op: "delete"; at: number }
  | { op: "add"; at: number; key: string; value: Json }
  | { op: "upper"; at: number }
  | { op: "append"; at: number; text: string }
  | { op: "cut"; at: number; by: number }
  | { op: "grow"; at: number; copies: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("replace" as const), at: fc.nat(), value: fc.oneof(fc.jsonValue() as fc.Arbitrary<Json>, fc.constantFrom<Json>("-1", "01", "18446744073709551616", "18446744073709551615", "1e3", " 1", "0x", "0X00", `0x${"0".repeat(63)}`, 2 ** 53, -0, 1.5)) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("add" as const), at: fc.nat(), key: fc.oneof(fc.string(), fc.constantFrom("__proto__", "constructor", "kind", "view")), value: fc.jsonValue() as fc.Arbitrary<Json> }),
  fc.record({ op: fc.constant("upper" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("append" as const), at: fc.nat(), text: fc.oneof(fc.string(), fc.constantFrom("0", "00", "a", "\n", "x".repeat(5_000))) }),
  fc.record({ op: fc.constant("cut" as const), at: fc.nat(), by: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant("grow" as const), at: fc.nat(), copies: fc.constantFrom(1, 2, 31, 32, 33, 64, 65, 256, 257, MAX_BRIDGE + 1) }),
);

/** Every place in a JSON tree: the container and the key (or index) of each value, the root excluded. */
function places(root: Json): { parent: Json[] | { [key: string]: Json }; key: string | number }[] {
  const found: { parent: Json[] | { [key: string]: Json }; key: string | number }[] = [];
  const walk = (node: Json) => {
    if (Array.isArray(node)) node.forEach((child, i) => (found.push({ parent: node, key: i }), walk(child)));
    else if (node !== null && typeof node === "object") for (const [key, child] of Object.entries(node)) found.push({ parent: node, key }), walk(child);
  };
  walk(root);
  return found;
}

function mutate(message: Message, mutations: readonly Mutation[]): unknown {
  const root = structuredClone(message) as Json;
  for (const mutation of mutations) {
    const all = places(root);
    if (all.length === 0) break; // every key deleted
    const { parent, key } = all[mutation.at % all.length]!;
    const get = () => (parent as Record<string | number, Json>)[key]!;
    const set = (value: Json) => ((parent as Record<string | number, Json>)[key] = value);
    const value = get();
    switch (mutation.op) {
      case "replace":
        set(mutation.value);
        break;
      case "delete":
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        break;
      case "add":
        if (value !== null && typeof value === "object" && !Array.isArray(value)) Object.defineProperty(value, mutation.key, { value: mutation.value, enumerable: true, writable: true, configurable: true });
        break;
      case "upper":
        if (typeof value === "string") set(value.toUpperCase());
        break;
      case "append":
        if (typeof value === "string") set(value + mutation.text);
        break;
      case "cut":
        if (typeof value === "string") set(value.slice(0, -mutation.by));
        break;
      case "grow":
        if (Array.isArray(value) && value.length > 0) set([...value, ...Array.from({ length: mutation.copies }, () => structuredClone(value[0]!))]);
        break;
    }
  }
  return overTheWire(root);
}

// ---------------------------------------------------------------------------------------------------------------------

describe("decodeMessage", () => {
  let valid: Message[];
  let signed: WireSignedView;

  before(async () => {
    valid = await examples();
    signed = (valid.find((m) => m.kind === "view-update") as Extract<Message, { kind: "view-update" }>).views[0]!;
  });

  it("takes a valid message of every kind as it is, and each one is within the bounds", () => {
    assert.deepEqual([...new Set(valid.map((m) => m.kind))].sort(), [...MESSAGE_KINDS].sort());
    for (const message of valid) {
      assert.deepEqual(decodeMessage(overTheWire(message)), { ok: true, message });
      assert.ok(withinBounds(message), message.kind);
    }
  });

  it("refuses what is not a message of a known kind, saying so", () => {
    for (const value of ["view-update", 42, null, [], [{ kind: "cosign" }], true]) assert.match(refusal(value), /^message: .*expected object/);
    for (const value of [{}, { kind: "gossip" }, { kind: "Request" }, { kind: ["request"] }]) assert.equal(refusal(value), "kind: not a message kind");
  });

  it("refuses a field out of its bounds, naming the field", () => {
    const [cosign, request, , answer, , answerError, update, headsUpdate, pull, evidence] = valid as [Message, Extract<Message, { kind: "request" }>, Message, Extract<Message, { kind: "answer" }>, Message, Message, Message, Extract<Message, { kind: "view-update" }>, Message, Message];
    const head = headsUpdate.heads![0]!;
    const view = signed.view;
    const cases: [unknown, RegExp][] = [
      [{ ...request, requestId: REQUEST_ID.slice(1) }, /^requestId: expected 16 bytes in lower-case hex$/],
      [{ ...request, chainId: "01002" }, /^chainId: expected a decimal below 2\^64$/],
      [{ ...request, knownHeight: (2n ** 64n).toString() }, /^knownHeight: /],
      [{ ...request, minHeight: 12 }, /^minHeight: /],
      [{ ...request, atHeight: "-1" }, /^atHeight: /],
      [{ ...request, contractIds: Array.from({ length: MAX_CONTRACTS_PER_REQUEST + 1 }, (_, i) => hashOf(`${i}`)) }, /^contractIds: expected at most 32 contract ids/],
      [{ ...request, contractIds: [hashOf("a").toUpperCase().replace("0X", "0x")] }, /^contractIds: /],
      [{ ...request, extra: 1 }, /^message: Unrecognized key: "extra"$/],
      [{ ...cosign, signature: `0x${"1b".repeat(64)}` }, /^signature: expected a 65-byte ECDSA or 128-byte BLS signature/],
      [{ ...cosign, signer: "0x1234" }, /^signer: expected an address$/],
      [{ ...answer, bridge: Array.from({ length: MAX_BRIDGE + 1 }, () => hashOf("x")) }, /^bridge: expected at most 8192 bridge hashes/],
      [{ ...answer, proof: { ...answer.proof, accountProof: Array.from({ length: MAX_PROOF_NODES + 1 }, () => "0x80") } }, /^proof\.accountProof: expected at most 65 trie nodes/],
      [{ ...answer, proof: { ...answer.proof, accountProof: [`0x${"00".repeat(MAX_TRIE_NODE_BYTES + 1)}`] } }, /^proof\.accountProof: /],
      [{ ...answer, proof: { ...answer.proof, accountProof: ["0x123"] } }, /^proof\.accountProof: /],
      [{ ...answer, proof: { ...answer.proof, header: `0x${"00".repeat(MAX_HEADER_BYTES + 1)}` } }, /^proof\.header: expected a block header of at most 4096 bytes/],
      [{ ...answer, proof: { ...answer.proof, storageProofs: Array.from({ length: MAX_CONTRACTS_PER_REQUEST + 1 }, () => []) } }, /^proof\.storageProofs: expected at most 32 storage proofs$/],
      [{ ...answer, proof: { ...answer.proof, stateRoot: hashOf("r") } }, /^proof: Unrecognized key: "stateRoot"$/],
      [{ ...answer, view: { ...signed, view: { ...view, hashes: Array.from({ length: MAX_K + 1 }, () => hashOf("h")) } } }, /^view\.view\.hashes: expected 1 to 256 window hashes/],
      [{ ...answer, view: { ...signed, view: { ...view, hashes: [] } } }, /^view\.view\.hashes: /],
      [{ ...answer, view: { ...signed, signatures: Array.from({ length: MAX_COMMITTEE + 1 }, () => signed.signatures[0]) } }, /^view\.signatures: expected 1 to 256 65-byte signatures or a 160-byte BLS aggregate/],
      [{ ...answerError, reason: "y".repeat(MAX_REASON_LENGTH + 1) }, /^reason: expected one line of at most 200 characters$/],
      [{ ...answerError, reason: "not yet\n2025-01-01 node 0xabc… released all funds" }, /^reason: /],
      [{ ...update, views: Array.from({ length: MAX_VIEWS_PER_UPDATE + 1 }, () => signed) }, /^views: expected at most 64 signed views$/],
      [{ ...update, views: [signed, { ...signed, view: { ...view, acc: view.acc.slice(0, 40) } }] }, /^views\.1\.view\.acc: expected a 32-byte hash/],
      [{ ...update, views: [{ ...signed, view: { ...view, extra: "" } }] }, /^views\.0\.view: Unrecognized key: "extra"$/],
      [{ ...headsUpdate, heads: Array.from({ length: MAX_VIEWS_PER_UPDATE + 1 }, () => head) }, /^heads: expected at most 64 view heads$/],
      [{ ...headsUpdate, heads: [{ ...head, base: "07" }] }, /^heads\.0\.base: expected a decimal below 2\^64$/],
      [{ ...headsUpdate, heads: [{ ...head, baseAcc: head.baseAcc.toUpperCase().replace("0X", "0x") }] }, /^heads\.0\.baseAcc: expected a 32-byte hash in lower-case hex$/],
      [{ ...headsUpdate, heads: [{ ...head, hashes: [] }] }, /^heads\.0\.hashes: expected 1 to 256 hashes above the base/],
      [{ ...headsUpdate, heads: [{ ...head, view: signed.view }] }, /^heads\.0: Unrecognized key: "view"$/],
      [{ ...pull, fromHeight: "1.5" }, /^fromHeight: /],
      [{ ...evidence, b: undefined }, /^b: /],
    ];
    for (const [value, reason] of cases) assert.match(refusal(overTheWire(value)), reason);
  });

  it("attack: a signed view re-spelled in upper-case hex is refused (it verifies, yet relates to the original as a fork)", async () => {
    const respelled: WireSignedView = { ...signed, view: { ...signed.view, hashes: signed.view.hashes.map((h, i) => (i === 1 ? (`0x${h.slice(2).toUpperCase()}` as Hex) : h)) } };
    // Why it must not pass: the signatures cover the bytes, and the view list compares the spelling.
    await verifySignedView(fromWireView(respelled.view), respelled.signatures, A.committee);
    assert.equal(relate(fromWireView(signed.view), fromWireView(respelled.view)), "conflicting");
    assert.match(refusal(overTheWire({ kind: "view-update", views: [respelled] })), /^views\.0\.view\.hashes: .*lower-case hex/);
    assert.match(refusal(overTheWire({ kind: "evidence", a: signed, b: respelled })), /^b\.view\.hashes: /);
    const upperSignature = { ...signed, signatures: [signed.signatures[0]!.toUpperCase().replace("0X", "0x"), ...signed.signatures.slice(1)] };
    assert.match(refusal(overTheWire({ kind: "view-update", views: [upperSignature] })), /^views\.0\.signatures: /);
  });

  it("attack: a 1 MiB frame of junk array items is refused at its length, in bounded time and memory", () => {
    const frames = [
      JSON.stringify({ kind: "view-update", views: Array.from({ length: 500_000 }, () => 0) }),
      JSON.stringify({ kind: "answer", requestId: REQUEST_ID, height: "1", proof: { header: "0x", accountProof: [], storageProofs: [] }, bridge: Array.from({ length: 500_000 }, () => 0) }),
      JSON.stringify({ kind: "answer", requestId: REQUEST_ID, height: "1", proof: { header: "0x", accountProof: [], storageProofs: Array.from({ length: 32 }, () => Array.from({ length: 65 }, () => 0)) }, bridge: Array.from({ length: MAX_BRIDGE }, () => 0) }),
    ];
    for (const frame of frames) {
      const value = JSON.parse(frame);
      const started = performance.now();
      const heap = process.memoryUsage().heapUsed;
      assert.match(refusal(value), /^(views|bridge|proof\.storageProofs\.0): expected/);
      const ms = performance.now() - started;
      const grewMB = (process.memoryUsage().heapUsed - heap) / 2 ** 20;
      // An issue per item would take seconds and hundreds of MB here (zod checks an array's length after its items).
      assert.ok(ms < 250, `refused in ${ms.toFixed(0)} ms`);
      assert.ok(grewMB < 32, `heap grew ${grewMB.toFixed(0)} MB`);
    }
  });

  it("takes a mutated message only within its bounds and as it was sent, refuses it otherwise, and never throws (fast-check)", () => {
    fc.assert(
      fc.property(fc.nat({ max: valid.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (which, mutations) => {
        const value = mutate(valid[which]!, mutations);
        const decoded = decodeMessage(value);
        if (decoded.ok) {
          assert.deepEqual(decoded.message, value, "nothing dropped, added or coerced");
          assert.ok(withinBounds(decoded.message), `out of bounds: ${JSON.stringify(decoded.message).slice(0, 200)}`);
        } else {
          assert.ok(decoded.reason.length > 0 && decoded.reason.length <= 120 && !/[\u0000-\u001f]/.test(decoded.reason), decoded.reason);
        }
      }),
      { numRuns: 600 },
    );
  });
});
