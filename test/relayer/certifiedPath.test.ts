import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import fc from "fast-check";
import { Store } from "../../relayer/store/store.js";
import { MAX_VIEWS_PER_UPDATE } from "../../relayer/net/message.js";
import { certifiedPath } from "../../relayer/view/certifiedPath.js";
import { relate } from "../../relayer/view/relate.js";
import type { View } from "../../relayer/view/view.js";
import { testChain, viewAt } from "../fixtures/syntheticChain.js";

const CHAIN = 1001n;

describe("certifiedPath", () => {
  it("gives views the asker can check one after the other, the newest within k each time, in at most `limit` lookups", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }), // k
        fc.uniqueArray(fc.integer({ min: 0, max: 119 }), { maxLength: 120 }), // the heights whose views are certified
        fc.integer({ min: 0, max: 119 }), // the asker's height
        fc.integer({ min: 0, max: 12 }), // limit
        fc.integer({ min: 0, max: 40 }), // keptFrom
        (k, certifiedHeights, from, limit, keptFrom) => {
          const chain = testChain(CHAIN, k, { label: "certifiedPath", seed: 3, length: 120 });
          const certified = new Set(certifiedHeights);
          const newestCertified = (above: number, upTo: number): number | undefined => {
            for (let h = upTo; h > above; h--) if (certified.has(h)) return h;
            return undefined;
          };
          let lookups = 0;
          const path = certifiedPath({
            fromHeight: BigInt(from),
            k,
            limit,
            keptFrom: BigInt(keptFrom),
            newestWithin: (fromExclusive, toInclusive) => {
              lookups += 1;
              const height = newestCertified(Number(fromExclusive), Number(toInclusive));
              return height === undefined ? undefined : { height: BigInt(height), view: viewAt(chain, height) };
            },
          });

          assert.ok(lookups <= limit, `${lookups} lookups for a limit of ${limit}`);
          assert.ok(path.length <= limit);
          if (from < keptFrom) {
            assert.deepEqual(path, [], "nothing from below the retention window");
            assert.equal(lookups, 0);
            return;
          }
          // The asker holds the view at `from`; each view of the path must connect to the one before it.
          let held: View = viewAt(chain, from);
          for (const step of path) {
            assert.equal(step.height, BigInt(newestCertified(Number(held.height), Number(held.height) + k)!), "the newest certified view within k");
            assert.equal(relate(held, step.view), "consistent");
            held = step.view;
          }
          // The walk stops at the limit, or where no certified view lies within k.
          if (path.length < limit) assert.equal(newestCertified(Number(held.height), Number(held.height) + k), undefined);
        },
      ),
      { numRuns: 200 },
    );
  });

  describe("over the store", () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "fibc-path-"))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    /** A store file holding a certified view of CHAIN at every height 0..n − 1, written in one transaction. */
    function storeWithViews(n: number): Store {
      const path = join(dir, "node.sqlite");
      new Store({ path }).close(); // the schema
      const db = new DatabaseSync(path);
      const insert = db.prepare("INSERT INTO signed_views (chain_id, height, view, signatures) VALUES (?, ?, ?, ?)");
      db.exec("BEGIN");
      // The walk reads heights only: a one-hash window stands in for each view, to keep the file small.
      for (let h = 0; h < n; h++) {
        const hash = `0x${h.toString(16).padStart(64, "0")}`;
        insert.run(CHAIN.toString(), h, JSON.stringify({ chainId: CHAIN.toString(), height: h.toString(), acc: hash, hashes: [hash] }), "[]");
      }
      db.exec("COMMIT");
      db.close();
      return new Store({ path });
    }

    it("attack: a view-pull from height 0 against 100,000 stored views costs at most 64 lookups, not a walk of the history", () => {
      const store = storeWithViews(100_000);
      try {
        const k = 16;
        let lookups = 0;
        const walk = (fromHeight: bigint) =>
          certifiedPath({
            fromHeight,
            k,
            limit: MAX_VIEWS_PER_UPDATE,
            keptFrom: store.keptFrom(CHAIN),
            newestWithin: (fromExclusive, toInclusive) => {
              lookups += 1;
              return store.newestSignedViewWithin(CHAIN, fromExclusive, toInclusive);
            },
          });

        const fromGenesis = walk(0n);
        assert.equal(MAX_VIEWS_PER_UPDATE, 64);
        assert.ok(lookups <= 64, `${lookups} lookups`);
        assert.deepEqual(
          fromGenesis.map((s) => s.height),
          Array.from({ length: 64 }, (_, i) => BigInt(k * (i + 1))),
          "k apart, the most a pull answer holds",
        );

        // Near the head the path ends at the newest view: one lookup more than the views it found.
        lookups = 0;
        assert.deepEqual(walk(99_970n).map((s) => s.height), [99_986n, 99_999n]);
        assert.equal(lookups, 3);
      } finally {
        store.close();
      }
    });

    it("answers nothing for a pull from below what the store keeps, and a full path from its first kept height", async () => {
      const store = storeWithViews(2_000);
      try {
        await store.pruneHistory(CHAIN, 1_000n);
        let lookups = 0;
        const walk = (fromHeight: bigint) =>
          certifiedPath({
            fromHeight,
            k: 16,
            limit: MAX_VIEWS_PER_UPDATE,
            keptFrom: store.keptFrom(CHAIN),
            newestWithin: (fromExclusive, toInclusive) => {
              lookups += 1;
              return store.newestSignedViewWithin(CHAIN, fromExclusive, toInclusive);
            },
          });
        assert.deepEqual(walk(999n), []);
        assert.deepEqual(walk(0n), []);
        assert.equal(lookups, 0, "refused before any lookup");
        assert.equal(walk(1_000n)[0]?.height, 1_016n);
      } finally {
        store.close();
      }
    });
  });
});
