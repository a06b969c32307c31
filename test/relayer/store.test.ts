import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DatabaseSync } from "node:sqlite";
import { getAddress, keccak256, stringToHex, zeroAddress, type Hex } from "viem";
import type { Registration } from "../../relayer/chain/registration.js";
import type { WireView } from "../../relayer/net/message.js";
import {
  STORE_SCHEMA_VERSION,
  Store,
  StoreConflictingViewError,
  StoreInUseError,
  StoreSchemaVersionError,
  StoreUnknownTaskError,
  StoreViewMismatchError,
  type NewTask,
  type Task,
} from "../../relayer/store/store.js";

const STORE_MODULE = fileURLToPath(new URL("../../relayer/store/store.ts", import.meta.url));
const id = (label: string): Hex => keccak256(stringToHex(label));
const termsOf = (label: string, changes: Partial<Registration> = {}): Registration => ({
  asset: zeroAddress,
  amount: 10n ** 18n,
  beneficiary: getAddress(`0x${"be".repeat(20)}`),
  refundTo: getAddress(`0x${"af".repeat(20)}`),
  salt: id(`${label}/salt`),
  tx2: id(`${label}/tx2`),
  tx2r: id(`${label}/tx2r`),
  counterparty: 1002n,
  h1: 100n,
  h2: 200n,
  registerBy: 90n,
  mirrorBy: 190n,
  ...changes,
});
const task = (label: string, state: Task["state"], changes: Partial<Registration> = {}): NewTask => ({
  contractId: id(label),
  mirrorId: id(`${label}/mirror`),
  terms: termsOf(label, changes),
  state,
});
/** The task as the store returns it: the terms, and the fields read from them. */
const stored = (label: string, state: Task["state"], updatedAt: number, changes: Partial<Registration> = {}): Task => {
  const terms = termsOf(label, changes);
  return { contractId: id(label), mirrorId: id(`${label}/mirror`), terms, counterparty: terms.counterparty, h1: terms.h1, h2: terms.h2, state, updatedAt };
};
const wireView = (chainId: bigint, height: bigint, salt = ""): WireView => ({
  chainId: chainId.toString(),
  height: height.toString(),
  acc: id(`acc ${chainId} ${height}${salt}`),
  hashes: [id(`h ${height - 1n}${salt}`), id(`h ${height}${salt}`)],
});
const signatures = (n: number): Hex[] => Array.from({ length: n }, (_, i) => `0x${(i + 1).toString(16).padStart(130, "0")}` as Hex);

describe("Store", () => {
  let dir: string;
  let clock: number;
  const now = () => clock;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "fibc-store-"));
    clock = 1_000;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe("persistence", () => {
    it("keeps tasks, sent transactions, views and cursors when closed and reopened from its file", () => {
      const path = join(dir, "nested", "node.sqlite");
      const first = new Store({ path, now });
      first.upsertTask(task("a", "registered"));
      const big = { amount: 2n ** 255n + 1n, h1: 2n ** 52n, h2: 2n ** 53n - 1n, counterparty: 2n ** 64n - 1n, registerBy: 2n ** 52n - 1n, mirrorBy: 2n ** 63n };
      first.upsertTask(task("b", "registered", big));
      clock = 2_000;
      first.setTaskState(id("b"), "precommitted");
      first.recordSent({ key: `${id("b")}:precommit`, hash: id("tx1"), nonce: 7, at: 1_500 });
      first.putSignedView({ chainId: 1001n, height: 10n, view: wireView(1001n, 10n), signatures: signatures(3) });
      first.setCursor("scanned:1001", 12_345n);
      first.close();

      const second = new Store({ path, now });
      try {
        assert.deepEqual(second.task(id("a")), stored("a", "registered", 1_000));
        assert.deepEqual(second.task(id("b")), stored("b", "precommitted", 2_000, big), "every term comes back, the integers exactly");
        assert.deepEqual(second.sent(`${id("b")}:precommit`), { key: `${id("b")}:precommit`, hash: id("tx1"), nonce: 7, at: 1_500 });
        assert.deepEqual(second.signedView(1001n, 10n), { chainId: 1001n, height: 10n, view: wireView(1001n, 10n), signatures: signatures(3) });
        assert.equal(second.getCursor("scanned:1001"), 12_345n);
      } finally {
        second.close();
      }
    });

    it("commits every write at once: a node killed (SIGKILL) right after a write finds it when it starts again", () => {
      const path = join(dir, "node.sqlite");
      const script = [
        `import { Store } from ${JSON.stringify(STORE_MODULE)};`,
        `const store = new Store({ path: ${JSON.stringify(path)} });`,
        `store.setCursor("scanned", 5n);`,
        `store.recordSent({ key: "k:precommit", hash: "${id("tx")}", nonce: 3, at: 1 });`,
        `process.kill(process.pid, "SIGKILL");`,
      ].join(" ");
      const killed = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
      assert.equal(killed.signal, "SIGKILL", killed.stderr);
      const store = new Store({ path, now });
      try {
        assert.equal(store.getCursor("scanned"), 5n);
        assert.deepEqual(store.sent("k:precommit"), { key: "k:precommit", hash: id("tx"), nonce: 3, at: 1 });
      } finally {
        store.close();
      }
    });

    it("refuses a store another node holds, and leaves that node's store working (two nodes on one store file)", function () {
      this.timeout(20_000);
      const path = join(dir, "node.sqlite");
      const first = new Store({ path, now });
      try {
        first.setCursor("scanned", 5n);
        assert.throws(() => new Store({ path, now }), (error: unknown) => error instanceof StoreInUseError && /held by another process/.test(error.message));
        const reader = new DatabaseSync(path, { readOnly: true, timeout: 100 });
        try {
          assert.throws(() => reader.prepare("SELECT value FROM cursors").get(), /database is locked/);
        } finally {
          reader.close();
        }
        first.setCursor("scanned", 6n);
        assert.equal(first.getCursor("scanned"), 6n);
      } finally {
        first.close();
      }
      const reopened = new Store({ path, now });
      try {
        assert.equal(reopened.getCursor("scanned"), 6n);
      } finally {
        reopened.close();
      }
    });

    it("refuses a file written by a newer schema version", () => {
      const path = join(dir, "node.sqlite");
      new Store({ path }).close();
      const db = new DatabaseSync(path);
      db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(STORE_SCHEMA_VERSION + 1);
      db.close();
      assert.throws(() => new Store({ path }), StoreSchemaVersionError);
    });

    it("refuses a version 1 file (contracts v1: tasks without their terms) with a message that says what to do, and leaves it as it was", () => {
      const path = join(dir, "node.sqlite");
      const db = new DatabaseSync(path);
      db.exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version (version) VALUES (1);
               CREATE TABLE tasks (contract_id TEXT PRIMARY KEY, counterparty TEXT NOT NULL, mirror_id TEXT NOT NULL, h1 INTEGER NOT NULL,
                 h2 INTEGER NOT NULL, state TEXT NOT NULL, updated_at INTEGER NOT NULL) STRICT;
               INSERT INTO tasks VALUES ('${id("old")}', '1002', '${id("old/mirror")}', 100, 200, 'registered', 1);`);
      db.close();
      assert.throws(
        () => new Store({ path }),
        (error: unknown) => error instanceof StoreSchemaVersionError && error.found === 1 && /lack the registration terms.*new store file/.test(error.message),
      );
      const after = new DatabaseSync(path, { readOnly: true });
      try {
        assert.equal(after.prepare("SELECT MAX(version) AS v FROM schema_version").get()?.v, 1);
        assert.equal(after.prepare("SELECT COUNT(*) AS n FROM tasks").get()?.n, 1);
      } finally {
        after.close();
      }
    });
  });

  describe("tasks", () => {
    let store: Store;
    beforeEach(() => (store = new Store({ path: ":memory:", now })));
    afterEach(() => store.close());

    it("openTasks returns only registered and precommitted tasks", () => {
      store.upsertTask(task("registered", "registered"));
      store.upsertTask(task("precommitted", "precommitted"));
      store.upsertTask(task("released", "released"));
      store.upsertTask(task("refunded", "refunded"));
      store.upsertTask(task("cancelled", "cancelled"));
      const open = store.openTasks().map((t) => t.contractId).sort();
      assert.deepEqual(open, [id("registered"), id("precommitted")].sort());
    });

    it("a task leaves openTasks once it is released", () => {
      store.upsertTask(task("a", "precommitted"));
      store.setTaskState(id("a"), "released");
      assert.deepEqual(store.openTasks(), []);
      assert.equal(store.task(id("a"))?.state, "released");
    });

    it("counts tasks by state, with zero for the states it has none of", () => {
      store.upsertTask(task("a", "registered"));
      store.upsertTask(task("b", "registered"));
      store.upsertTask(task("c", "refunded"));
      assert.deepEqual(store.countTasksByState(), { registered: 2, precommitted: 0, released: 0, refunded: 1, cancelled: 0 });
    });

    it("upsertTask replaces the stored task instead of adding a second one", () => {
      store.upsertTask(task("a", "registered"));
      store.upsertTask(task("a", "precommitted", { h2: 300n }));
      assert.equal(store.countTasksByState().registered, 0);
      assert.deepEqual(store.task(id("a")), stored("a", "precommitted", 1_000, { h2: 300n }));
    });

    it("finds a task whatever the case of its contractId", () => {
      store.upsertTask({ ...task("a", "registered"), contractId: id("a").toUpperCase().replace("0X", "0x") as Hex });
      assert.equal(store.task(id("a"))?.state, "registered");
    });

    it("setTaskState throws for a task it does not have", () => {
      assert.throws(() => store.setTaskState(id("missing"), "released"), StoreUnknownTaskError);
    });

    it("rejects a state outside the five", () => {
      assert.throws(() => store.upsertTask({ ...task("a", "registered"), state: "stolen" as Task["state"] }));
    });
  });

  describe("sent transactions", () => {
    it("replaces the transaction of a step and forgets it", () => {
      const store = new Store({ path: ":memory:" });
      try {
        assert.equal(store.sent("x:precommit"), undefined);
        store.recordSent({ key: "x:precommit", hash: id("tx1"), nonce: 1, at: 10 });
        store.recordSent({ key: "x:precommit", hash: id("tx2"), nonce: 1, at: 20 });
        assert.deepEqual(store.sent("x:precommit"), { key: "x:precommit", hash: id("tx2"), nonce: 1, at: 20 });
        store.forget("x:precommit");
        assert.equal(store.sent("x:precommit"), undefined);
      } finally {
        store.close();
      }
    });
  });

  describe("signed views", () => {
    let store: Store;
    beforeEach(() => {
      store = new Store({ path: ":memory:" });
      // Stored out of order, with a second chain in between and heights whose decimal strings sort differently, so that order comes from the query.
      for (const height of [30n, 9n, 100n, 20n, 40n]) {
        store.putSignedView({ chainId: 1002n, height, view: wireView(1002n, height), signatures: signatures(2) });
        store.putSignedView({ chainId: 1003n, height: height + 1n, view: wireView(1003n, height + 1n), signatures: signatures(2) });
      }
    });
    afterEach(() => store.close());

    it("newestSignedViewWithin returns the chain's newest view above from and up to to, or none", () => {
      const within = (chainId: bigint, from: bigint, to: bigint) => store.newestSignedViewWithin(chainId, from, to)?.height;
      assert.equal(within(1002n, 9n, 100n), 100n);
      assert.equal(within(1002n, 9n, 35n), 30n);
      assert.equal(within(1002n, 8n, 9n), 9n, "the upper end is included");
      assert.equal(within(1002n, 9n, 19n), undefined, "the lower end is not");
      assert.equal(within(1002n, 40n, 99n), undefined);
      assert.equal(within(1003n, 0n, 35n), 31n, "another chain's views are its own");
      assert.deepEqual(store.newestSignedViewWithin(1002n, 0n, 40n), { chainId: 1002n, height: 40n, view: wireView(1002n, 40n), signatures: signatures(2) });
    });

    it("latestSignedView is the highest view of that chain", () => {
      assert.equal(store.latestSignedView(1002n)?.height, 100n);
      assert.equal(store.latestSignedView(1003n)?.height, 101n);
      assert.equal(store.latestSignedView(9999n), undefined);
    });

    it("latestSignedView follows every put, a first view of a chain, new signatures of the latest and a prune (it is remembered between them)", async () => {
      assert.equal(store.latestSignedView(1002n)?.height, 100n);
      store.putSignedView({ chainId: 1002n, height: 120n, view: wireView(1002n, 120n), signatures: signatures(2) });
      assert.equal(store.latestSignedView(1002n)?.height, 120n);
      store.putSignedView({ chainId: 1002n, height: 120n, view: wireView(1002n, 120n), signatures: signatures(3) });
      assert.deepEqual(store.latestSignedView(1002n)?.signatures, signatures(3));
      store.putSignedView({ chainId: 1002n, height: 110n, view: wireView(1002n, 110n), signatures: signatures(2) });
      assert.equal(store.latestSignedView(1002n)?.height, 120n, "an older view stored later is not the latest");
      assert.equal(store.latestSignedView(9999n), undefined);
      store.putSignedView({ chainId: 9999n, height: 1n, view: wireView(9999n, 1n), signatures: signatures(2) });
      assert.equal(store.latestSignedView(9999n)?.height, 1n);
      await store.pruneHistory(1002n, 1_000n);
      assert.equal(store.latestSignedView(1002n), undefined, "pruned below a height above all of them");
    });


    it("storing the same view again replaces its signatures", () => {
      store.putSignedView({ chainId: 1002n, height: 20n, view: wireView(1002n, 20n), signatures: signatures(3) });
      assert.deepEqual(store.signedView(1002n, 20n)?.signatures, signatures(3));
    });

    it("refuses a conflicting view at a stored height and keeps the first", () => {
      const forged = wireView(1002n, 20n, "forged");
      assert.throws(() => store.putSignedView({ chainId: 1002n, height: 20n, view: forged, signatures: signatures(2) }), StoreConflictingViewError);
      assert.deepEqual(store.signedView(1002n, 20n)?.view, wireView(1002n, 20n));
    });

    it("refuses a view filed under another chain or height than its own", () => {
      assert.throws(() => store.putSignedView({ chainId: 1003n, height: 60n, view: wireView(1002n, 60n), signatures: [] }), StoreViewMismatchError);
      assert.throws(() => store.putSignedView({ chainId: 1002n, height: 61n, view: wireView(1002n, 60n), signatures: [] }), StoreViewMismatchError);
    });
  });

  describe("block hashes", () => {
    it("returns the hashes of a range in height order, up to the first height it lacks", () => {
      const store = new Store({ path: ":memory:" });
      try {
        for (const height of [3n, 1n, 2n, 0n, 5n, 2n ** 40n]) store.putBlockHash(height, id(`block ${height}`));
        assert.deepEqual(store.blockHashes(1n, 3n), [1n, 2n, 3n].map((h) => id(`block ${h}`)));
        assert.deepEqual(store.blockHashes(2n, 6n), [id("block 2"), id("block 3")], "height 4 is missing: a bridge cannot skip it");
        assert.deepEqual(store.blockHashes(4n, 5n), []);
        assert.deepEqual(store.blockHashes(2n ** 40n, 2n ** 40n), [id(`block ${2n ** 40n}`)]);
        assert.deepEqual(store.blockHashes(3n, 2n), []);
      } finally {
        store.close();
      }
    });
  });

  describe("retention", () => {
    const heights = (store: Store, chainId: bigint, upTo: bigint) => {
      const found: bigint[] = [];
      for (let h = 0n; h <= upTo; h++) if (store.signedView(chainId, h) !== undefined) found.push(h);
      return found;
    };
    /** Views of chains 1002 and 1003 and block hashes at heights 0..n − 1. */
    const filled = (path: string, n: bigint) => {
      const store = new Store({ path });
      for (let h = 0n; h < n; h++) {
        store.putSignedView({ chainId: 1002n, height: h, view: wireView(1002n, h), signatures: signatures(2) });
        store.putSignedView({ chainId: 1003n, height: h, view: wireView(1003n, h), signatures: signatures(2) });
        store.putBlockHash(h, id(`block ${h}`));
      }
      return store;
    };

    it("pruneHistory forgets the chain's views and the block hashes below a height, and keptFrom says from where it keeps them", async () => {
      const store = filled(":memory:", 10n);
      try {
        assert.equal(store.keptFrom(1002n), 0n, "nothing pruned yet");
        assert.equal(await store.pruneHistory(1002n, 4n), 8, "4 views and 4 block hashes");
        assert.deepEqual(heights(store, 1002n, 9n), [4n, 5n, 6n, 7n, 8n, 9n]);
        assert.deepEqual(store.blockHashes(0n, 9n), [], "the hash of block 0 is gone");
        assert.deepEqual(store.blockHashes(4n, 9n), [4n, 5n, 6n, 7n, 8n, 9n].map((h) => id(`block ${h}`)));
        assert.equal(heights(store, 1003n, 9n).length, 10, "another chain's views stay");
        assert.equal(store.keptFrom(1002n), 4n);
        assert.equal(store.keptFrom(1003n), 0n);
      } finally {
        store.close();
      }
    });

    it("keptFrom never falls, and survives a restart", async () => {
      const path = join(dir, "node.sqlite");
      const first = filled(path, 10n);
      try {
        await first.pruneHistory(1002n, 6n);
        assert.equal(await first.pruneHistory(1002n, 2n), 0, "a lower height deletes nothing");
        assert.equal(await first.pruneHistory(1002n, -5n), 0, "a height below 0 (a young chain) deletes nothing");
        assert.equal(first.keptFrom(1002n), 6n);
      } finally {
        first.close();
      }
      const second = new Store({ path });
      try {
        assert.equal(second.keptFrom(1002n), 6n);
      } finally {
        second.close();
      }
    });

    it("prunes a large backlog in batches, letting other events run between them", async () => {
      const store = filled(":memory:", 2_000n);
      try {
        // An event scheduled alongside the pruning samples the store at every turn of the event loop.
        const samples: { oldestGone: boolean; lastBelowThere: boolean }[] = [];
        let pruning = true;
        const sample = () => {
          if (!pruning) return;
          samples.push({ oldestGone: store.signedView(1002n, 0n) === undefined, lastBelowThere: store.signedView(1002n, 1_499n) !== undefined });
          setImmediate(sample);
        };
        setImmediate(sample);
        const deleted = await store.pruneHistory(1002n, 1_500n, { batch: 100 });
        pruning = false;
        assert.equal(deleted, 3_000);
        assert.ok(samples.length >= 14, `the event loop turned ${samples.length} times during 15 batches`);
        assert.ok(samples.some((s) => s.oldestGone && s.lastBelowThere), "an event ran while the backlog was half pruned");
        assert.deepEqual(heights(store, 1002n, 1_999n)[0], 1_500n);
      } finally {
        store.close();
      }
    });

    it("a prune asked for while one runs raises keptFrom, and the running one goes on to it", async () => {
      const store = filled(":memory:", 1_000n);
      try {
        const running = store.pruneHistory(1002n, 300n, { batch: 50 });
        assert.equal(await store.pruneHistory(1002n, 700n, { batch: 50 }), 0, "the second call deletes nothing itself");
        assert.equal(store.keptFrom(1002n), 700n, "but keptFrom is raised at once");
        assert.equal(await running, 1_400);
        assert.deepEqual(heights(store, 1002n, 999n)[0], 700n);
        assert.deepEqual(store.blockHashes(699n, 700n), []);
        assert.equal(store.blockHashes(700n, 999n).length, 300);
      } finally {
        store.close();
      }
    });

    it("a store closed while it prunes stops pruning, and its next run finishes the job", async () => {
      const path = join(dir, "node.sqlite");
      const first = filled(path, 100n);
      const running = first.pruneHistory(1002n, 90n, { batch: 10 });
      first.close();
      assert.equal(await running, 20, "the run stopped at the close, after its first batch");
      const second = new Store({ path });
      try {
        assert.equal(second.keptFrom(1002n), 90n);
        assert.ok(second.signedView(1002n, 89n) !== undefined, "rows below keptFrom are left");
        // Any later prune (even one that does not raise keptFrom) deletes what is left below it.
        assert.equal(await second.pruneHistory(1002n, 0n, { batch: 10 }), 160);
        assert.deepEqual(heights(second, 1002n, 99n)[0], 90n);
        assert.deepEqual(second.blockHashes(0n, 89n), []);
      } finally {
        second.close();
      }
    });
  });

  describe("cursors", () => {
    it("returns undefined for an unknown cursor and the last value set", () => {
      const store = new Store({ path: ":memory:" });
      try {
        assert.equal(store.getCursor("scanned"), undefined);
        store.setCursor("scanned", 1n);
        store.setCursor("scanned", 2n ** 70n);
        assert.equal(store.getCursor("scanned"), 2n ** 70n);
      } finally {
        store.close();
      }
    });
  });
});
