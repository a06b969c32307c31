import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getAddress, keccak256, stringToHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { DEFAULT_RATES, NodeConfigError, defaultRefreshBlocks, loadNodeConfig, parseNodeConfig } from "../../relayer/config/nodeConfig.js";
import { MAX_BRIDGE, MAX_COMMITTEE, MAX_K } from "../../relayer/net/message.js";
import { blsPublicKey, blsSecretKey } from "../../relayer/view/blsScheme.js";

const keyOf = (label: string): Hex => keccak256(stringToHex(label));
const addressOf = (label: string): Address => privateKeyToAccount(keyOf(label)).address;
const committee = (chain: string) => [0, 1, 2].map((i) => addressOf(`${chain}/${i}`));

/** Node 0 of chain 1001, which also knows chain 1002. */
function validConfig(): Record<string, any> {
  return {
    chainId: 1001,
    key: keyOf("1001/0"),
    rpcUrl: "http://127.0.0.1:8545",
    listen: { port: 9001 },
    store: "node.sqlite",
    k: 8,
    chains: [
      { chainId: 1001, gateway: addressOf("gateway A"), registry: addressOf("registry A"), committee: committee("1001"), k: 8 },
      {
        chainId: "1002",
        rpcUrl: "wss://chain-b.example/rpc",
        gateway: addressOf("gateway B"),
        registry: addressOf("registry B"),
        committee: committee("1002"),
        k: 16,
      },
    ],
    peers: [
      { address: addressOf("1001/1"), url: "ws://10.0.0.2:9001" },
      { address: addressOf("1002/0"), url: "wss://node-b0.example:9001" },
    ],
  };
}

/** The NodeConfigError thrown by `fn`, after checking that it is one. */
function configError(fn: () => unknown): NodeConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof NodeConfigError, `expected NodeConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the configuration to be rejected");
}

describe("nodeConfig", () => {
  describe("parseNodeConfig", () => {
    it("parses a valid configuration and fills in the defaults", () => {
      const config = parseNodeConfig(validConfig(), { env: {} });
      assert.equal(config.chainId, 1001n);
      assert.equal(config.address, addressOf("1001/0"));
      assert.equal(config.key, keyOf("1001/0"));
      assert.deepEqual(config.listen, { host: "0.0.0.0", port: 9001 });
      assert.equal(config.metrics, undefined);
      assert.deepEqual(config.r, { numerator: 2, denominator: 3 });
      assert.deepEqual(config.rates, DEFAULT_RATES);
      assert.deepEqual(
        config.chains.map((c) => [c.chainId, c.k, c.rpcUrl]),
        [
          [1001n, 8, undefined],
          [1002n, 16, "wss://chain-b.example/rpc"],
        ],
      );
      assert.ok(!("rpcUrl" in config.chains[0]!));
      assert.deepEqual(config.chains[1]!.committee, committee("1002"));
    });

    it("keeps the rates it is given and defaults only the missing ones", () => {
      const config = parseNodeConfig({ ...validConfig(), rates: { pollMs: 250, takeoverMs: 5_000 }, metrics: { port: 9100 } }, { env: {} });
      assert.deepEqual(config.rates, { ...DEFAULT_RATES, pollMs: 250, takeoverMs: 5_000 });
      assert.deepEqual(config.metrics, { host: "127.0.0.1", port: 9100 });
    });

    it("leaves refreshBlocks to the Gateway's maxLifetime unless set, and keeps it within half the longest bridge served", () => {
      assert.ok(!("refreshBlocks" in parseNodeConfig(validConfig(), { env: {} })), "unset: the node derives it from maxLifetime");
      assert.equal(parseNodeConfig({ ...validConfig(), refreshBlocks: 40 }, { env: {} }).refreshBlocks, 40);
      assert.deepEqual(
        [1000n, 120n, 3n, 0n, 10n ** 9n].map(defaultRefreshBlocks),
        [250, 30, 1, 1, MAX_BRIDGE / 2],
        "a quarter of maxLifetime, at least 1, at most MAX_BRIDGE / 2",
      );
      for (const bad of [0, -5, 2.5, MAX_BRIDGE / 2 + 1, "40"]) {
        const error = configError(() => parseNodeConfig({ ...validConfig(), refreshBlocks: bad }, { env: {} }));
        assert.deepEqual(error.issues.map((i) => i.path), ["refreshBlocks"], `refreshBlocks ${bad}`);
      }
    });

    it("keeps MAX_BRIDGE + k blocks of history unless set, and refuses a retention window shorter than a bridge", () => {
      assert.equal(parseNodeConfig(validConfig(), { env: {} }).retentionBlocks, MAX_BRIDGE + 8);
      assert.equal(parseNodeConfig({ ...validConfig(), retentionBlocks: 50_000 }, { env: {} }).retentionBlocks, 50_000);
      for (const bad of [0, 2.5, "9000", MAX_BRIDGE + 7]) {
        const error = configError(() => parseNodeConfig({ ...validConfig(), retentionBlocks: bad }, { env: {} }));
        assert.deepEqual(error.issues.map((i) => i.path), ["retentionBlocks"], `retentionBlocks ${bad}`);
      }
    });

    it("signs each chain's views at finalityDepth 0 unless set, and refuses a depth that is not a whole number of blocks", () => {
      assert.deepEqual(parseNodeConfig(validConfig(), { env: {} }).chains.map((c) => c.finalityDepth), [0, 0], "instant finality by default");
      const deep = validConfig();
      deep.chains[1].finalityDepth = 64;
      assert.deepEqual(parseNodeConfig(deep, { env: {} }).chains.map((c) => c.finalityDepth), [0, 64]);
      for (const bad of [-1, 2.5, "12"]) {
        const config = validConfig();
        config.chains[0].finalityDepth = bad;
        const error = configError(() => parseNodeConfig(config, { env: {} }));
        assert.deepEqual(error.issues.map((i) => i.path), ["chains[0].finalityDepth"], `finalityDepth ${bad}`);
      }
    });

    it("checksums lower-case addresses", () => {
      const raw = validConfig();
      raw.chains[0].gateway = addressOf("gateway A").toLowerCase();
      assert.equal(parseNodeConfig(raw, { env: {} }).chains[0]!.gateway, addressOf("gateway A"));
    });

    it("reads the key from the environment variable named by keyEnv", () => {
      const { key, ...raw } = validConfig();
      const config = parseNodeConfig({ ...raw, keyEnv: "FIBC_KEY" }, { env: { FIBC_KEY: key } });
      assert.equal(config.address, addressOf("1001/0"));
    });

    it("names the field of a bad address", () => {
      const raw = validConfig();
      raw.chains[1].gateway = "0x1234";
      const error = configError(() => parseNodeConfig(raw, { env: {} }));
      assert.deepEqual(error.issues, [{ path: "chains[1].gateway", message: "Invalid address" }]);
      assert.match(error.message, /chains\[1\]\.gateway: Invalid address/);
    });

    it("names the field of an address with a wrong checksum", () => {
      const raw = validConfig();
      const good = addressOf("1002/2");
      // Flip the case of one letter: still hex, no longer its checksum.
      const i = [...good].findIndex((c, j) => j > 1 && /[a-fA-F]/.test(c));
      raw.chains[1].committee[2] = good.slice(0, i) + (good[i] === good[i]!.toUpperCase() ? good[i]!.toLowerCase() : good[i]!.toUpperCase()) + good.slice(i + 1);
      assert.match(configError(() => parseNodeConfig(raw, { env: {} })).message, /chains\[1\]\.committee\[2\]: Invalid address/);
    });

    it("requires a key or keyEnv", () => {
      const { key: _key, ...raw } = validConfig();
      const error = configError(() => parseNodeConfig(raw, { env: {} }));
      assert.equal(error.issues.length, 1);
      assert.equal(error.issues[0]!.path, "key");
      assert.match(error.issues[0]!.message, /^Required: set key .* or keyEnv /);
    });

    it("names keyEnv when its variable is not set, without printing any key", () => {
      const { key: _key, ...raw } = validConfig();
      const error = configError(() => parseNodeConfig({ ...raw, keyEnv: "FIBC_KEY" }, { env: {} }));
      assert.deepEqual(error.issues.map((i) => i.path), ["keyEnv"]);
      assert.match(error.message, /FIBC_KEY is not set/);
    });

    it("never echoes a malformed key in its message", () => {
      const raw = { ...validConfig(), key: `${keyOf("1001/0")}ff` };
      const error = configError(() => parseNodeConfig(raw, { env: {} }));
      assert.deepEqual(error.issues.map((i) => i.path), ["key"]);
      assert.ok(!error.message.includes(keyOf("1001/0").slice(2)));
    });

    it("rejects a node whose address is not in its own chain's committee", () => {
      // The key of a member of chain 1002's committee, configured as a node of chain 1001.
      const raw = { ...validConfig(), key: keyOf("1002/0"), peers: [] };
      const error = configError(() => parseNodeConfig(raw, { env: {} }));
      assert.equal(error.issues.length, 1);
      assert.equal(error.issues[0]!.path, "key");
      assert.match(error.issues[0]!.message, new RegExp(`${addressOf("1002/0")} is not in the committee .*chains\\[0\\]\\.committee`));
    });

    it("rejects a configuration whose own chain is missing from chains", () => {
      const raw = validConfig();
      raw.chains = raw.chains.slice(1);
      raw.peers = [];
      const error = configError(() => parseNodeConfig(raw, { env: {} }));
      assert.deepEqual(error.issues.map((i) => i.path), ["chainId"]);
      assert.match(error.message, /chainId: Own chain 1001 is missing from chains/);
    });

    it("rejects r > 1", () => {
      const error = configError(() => parseNodeConfig({ ...validConfig(), r: { numerator: 4, denominator: 3 } }, { env: {} }));
      assert.deepEqual(error.issues.map((i) => i.path), ["r"]);
      assert.match(error.message, /r: Expected 0 < r ≤ 1/);
    });

    it("rejects r = 0", () => {
      const error = configError(() => parseNodeConfig({ ...validConfig(), r: { numerator: 0, denominator: 3 } }, { env: {} }));
      assert.deepEqual(error.issues.map((i) => i.path), ["r.numerator"]);
    });

    it("takes a BLS committee's keys in committee order, and refuses a count that differs or an own key the node's key does not make", () => {
      const raw = validConfig();
      const blsKeyOf = (label: string) => blsPublicKey(blsSecretKey(keyOf(label)));
      const ownKeys = [0, 1, 2].map((i) => blsKeyOf(`1001/${i}`));
      raw.chains[0].blsKeys = ownKeys;
      raw.chains[1].blsKeys = [0, 1, 2].map((i) => blsKeyOf(`1002/${i}`));
      const config = parseNodeConfig(raw, { env: {} });
      assert.deepEqual(config.chains[0]!.blsKeys, ownKeys);
      assert.equal(parseNodeConfig(validConfig(), { env: {} }).chains[0]!.blsKeys, undefined);

      raw.chains[1].blsKeys.pop();
      raw.chains[0].blsKeys = [ownKeys[1], ownKeys[0], ownKeys[2]];
      const error = configError(() => parseNodeConfig(raw, { env: {} }));
      assert.deepEqual(error.issues.map((i) => i.path).sort(), ["chains[0].blsKeys[0]", "chains[1].blsKeys"]);
    });

    it("rejects a committee with a duplicate member, whatever its case", () => {
      const raw = validConfig();
      raw.chains[1].committee.push(raw.chains[1].committee[0].toLowerCase());
      const error = configError(() => parseNodeConfig(raw, { env: {} }));
      assert.deepEqual(error.issues.map((i) => i.path), ["chains[1].committee[3]"]);
      assert.match(error.message, /Duplicate committee member/);
    });

    it("refuses a window k above MAX_K and a committee above MAX_COMMITTEE, which no ViewRegistry or peer would take, and takes both at the bound", () => {
      const atBound = validConfig();
      atBound.k = MAX_K;
      atBound.chains[0].k = MAX_K;
      // The peer of chain 1002 stays a member; the others are addresses of no key, which a configuration cannot tell.
      atBound.chains[1].committee = [addressOf("1002/0"), ...Array.from({ length: MAX_COMMITTEE - 1 }, (_, i) => getAddress(keccak256(stringToHex(`member ${i}`)).slice(0, 42)))];
      const parsed = parseNodeConfig(atBound, { env: {} });
      assert.equal(parsed.k, MAX_K);
      assert.equal(parsed.chains[1]!.committee.length, MAX_COMMITTEE);

      const wide = validConfig();
      wide.k = MAX_K + 1;
      wide.chains[0].k = MAX_K + 1;
      wide.chains[1].k = MAX_K + 1;
      const wideError = configError(() => parseNodeConfig(wide, { env: {} }));
      assert.deepEqual(wideError.issues.map((i) => i.path).sort(), ["chains[0].k", "chains[1].k", "k"]);
      assert.match(wideError.message, /at most 256 blocks/);

      const large = atBound;
      large.chains[1].committee.push(addressOf("one too many"));
      const largeError = configError(() => parseNodeConfig(large, { env: {} }));
      assert.deepEqual(largeError.issues.map((i) => i.path), ["chains[1].committee"]);
      assert.match(largeError.message, /at most 256 members/);
    });

    it("rejects a chain listed twice", () => {
      const raw = validConfig();
      raw.chains.push({ ...raw.chains[1], chainId: 1002 });
      assert.deepEqual(configError(() => parseNodeConfig(raw, { env: {} })).issues.map((i) => i.path), ["chains[2].chainId"]);
    });

    it("rejects an own chain whose k differs from the node's k", () => {
      const raw = validConfig();
      raw.chains[0].k = 9;
      assert.deepEqual(configError(() => parseNodeConfig(raw, { env: {} })).issues.map((i) => i.path), ["chains[0].k"]);
    });

    it("rejects a peer that is in no committee, and the node itself as a peer", () => {
      const raw = validConfig();
      raw.peers.push({ address: addressOf("stranger"), url: "ws://10.0.0.9:9001" }, { address: addressOf("1001/0"), url: "ws://10.0.0.1:9001" });
      const error = configError(() => parseNodeConfig(raw, { env: {} }));
      assert.deepEqual(error.issues.map((i) => i.path), ["peers[2].address", "peers[3].address"]);
    });

    it("rejects a peer URL that is not ws(s) and an RPC URL that is not http(s)", () => {
      const raw: Record<string, any> = { ...validConfig(), rpcUrl: "ftp://127.0.0.1" };
      raw.peers[0].url = "http://10.0.0.2:9001";
      const error = configError(() => parseNodeConfig(raw, { env: {} }));
      assert.deepEqual(error.issues.map((i) => i.path).sort(), ["peers[0].url", "rpcUrl"]);
    });

    it("rejects a WebSocket RPC URL: viem's WebSocket transport never recovers once the endpoint restarted", () => {
      for (const rpcUrl of ["ws://127.0.0.1:8545", "wss://chain.example/rpc"]) {
        const error = configError(() => parseNodeConfig({ ...validConfig(), rpcUrl }, { env: {} }));
        assert.deepEqual(error.issues.map((i) => i.path), ["rpcUrl"]);
        assert.match(error.message, /rpcUrl: Expected a http or https URL/);
      }
    });

    it("lists every bad field at once, and unknown fields by name", () => {
      const raw: Record<string, any> = { ...validConfig(), k: 0, rates: { pollMs: -1, polMs: 5 } };
      raw.listen = { port: 70_000 };
      const error = configError(() => parseNodeConfig(raw, { env: {} }));
      assert.deepEqual(error.issues.map((i) => i.path).sort(), ["k", "listen.port", "rates", "rates.pollMs"]);
      assert.match(error.message, /rates: Unrecognized key\(s\) in object: 'polMs'/);
    });
  });

  describe("loadNodeConfig", () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "fibc-config-"))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("reads a JSON file and resolves a relative store path against the file's directory", async () => {
      const path = join(dir, "node.json");
      writeFileSync(path, JSON.stringify(validConfig()));
      const config = await loadNodeConfig({ path, env: {} });
      assert.equal(config.store, join(dir, "node.sqlite"));
    });

    it("names the file when it is not JSON", async () => {
      const path = join(dir, "node.json");
      writeFileSync(path, "{ chainId: 1001");
      await assert.rejects(loadNodeConfig({ path, env: {} }), (error: unknown) => {
        assert.ok(error instanceof NodeConfigError);
        assert.match(error.message, new RegExp(`${path}.*\\n.*not JSON`));
        return true;
      });
    });

    it("fails with NodeConfigError when the file does not exist", async () => {
      await assert.rejects(loadNodeConfig({ path: join(dir, "missing.json"), env: {} }), NodeConfigError);
    });
  });
});
