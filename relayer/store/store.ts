import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { setImmediate } from "node:timers/promises";
import { DatabaseSync, type SQLOutputValue, type StatementSync } from "node:sqlite";
import type { Address, Hex } from "viem";
import type { Registration } from "../chain/registration.js";
import type { WireView } from "../net/message.js";
import { RelayerError } from "../util/relayerError.js";

/** Where a contract transaction on the node's own chain stands. */
export type TaskState = "registered" | "precommitted" | "released" | "refunded" | "cancelled";
export const TASK_STATES: readonly TaskState[] = ["registered", "precommitted", "released", "refunded", "cancelled"];
/** States in which the node still has work to do for the task. */
export const OPEN_TASK_STATES: readonly TaskState[] = ["registered", "precommitted"];

/** One contract transaction on the node's own chain. */
export type Task = {
  contractId: Hex;
  /** The id of the mirrored contract transaction on the counterparty chain. */
  mirrorId: Hex;
  /** Its full terms, as ContractRegistered carried them: every Gateway step takes them back. */
  terms: Registration;
  /** chainId of the counterparty chain (terms.counterparty). */
  counterparty: bigint;
  /** Expiry here (terms.h1) and on the counterparty (terms.h2). */
  h1: bigint;
  h2: bigint;
  state: TaskState;
  /** Milliseconds (the store's clock) of the last write. */
  updatedAt: number;
};

/** What upsertTask takes: counterparty, h1 and h2 come from the terms. */
export type NewTask = Pick<Task, "contractId" | "mirrorId" | "terms" | "state">;

/** A transaction the node sent for one step of its work, so that a restarted node looks for its receipt instead of sending again. */
export type SentTransaction = { key: string; hash: Hex; nonce: number; at: number };

/** A view with the committee signatures that certify it. */
export type StoredSignedView = { chainId: bigint; height: bigint; view: WireView; signatures: Hex[] };

export type StoreParameters = {
  /** A file path, or ":memory:". Missing parent directories are created. */
  path: string;
  /** Time of `updatedAt`; defaults to Date.now. */
  now?: () => number;
};

/**
 * Rows of each table one pruning batch deletes at most: a few milliseconds of SQLite work, so that other events run
 * between batches.
 */
export const PRUNE_BATCH = 1_000;

/**
 * The node prunes its store once every this many blocks: rarely enough that the cost per block is nil, often enough that
 * a batch or two clears what accumulated since.
 */
export const PRUNE_EVERY_BLOCKS = 256n;

/** SQLite's result code for a database file locked by another connection. */
const SQLITE_BUSY = 5;

/** The schema version this code writes; a file with another one is refused. */
export const STORE_SCHEMA_VERSION = 2;

/**
 * The file was written by a relayer of another schema version: a newer one, or version 1 (contracts v1), whose tasks lack
 * the registration terms every Gateway step of contracts v2 takes and cannot be carried over.
 */
export class StoreSchemaVersionError extends RelayerError {
  constructor(readonly path: string, readonly found: number, readonly supported: number) {
    super(
      found < supported
        ? `store ${path} has schema version ${found}, written for contracts v1: its tasks lack the registration terms this relayer needs; start with a new store file`
        : `store ${path} has schema version ${found}, this relayer supports up to ${supported}`,
    );
  }
}

/** Another process (another node, or this node not yet stopped) holds the store file: two nodes never share one. */
export class StoreInUseError extends RelayerError {
  constructor(readonly path: string, cause: unknown) {
    super(`store ${path} is held by another process (a node on the same store?); each node needs its own store file`, { cause });
  }
}

export class StoreUnknownTaskError extends RelayerError {
  constructor(readonly contractId: Hex) {
    super(`no task with contractId ${contractId}`);
  }
}

/** The view's own chainId/height disagree with the ones it is filed under. */
export class StoreViewMismatchError extends RelayerError {
  constructor(readonly chainId: bigint, readonly height: bigint, readonly view: WireView) {
    super(`view of chain ${view.chainId} at height ${view.height} filed as chain ${chainId} height ${height}`);
  }
}

/**
 * A different certified view is already stored at this chain and height. Two certified views at one height are
 * equivocation evidence; the store keeps the first and leaves the evidence to the caller.
 */
export class StoreConflictingViewError extends RelayerError {
  constructor(readonly stored: StoredSignedView, readonly offered: WireView) {
    super(`chain ${stored.chainId} already has a different certified view at height ${stored.height}`);
  }
}

const SCHEMA_V2 = `
  CREATE TABLE tasks (
    contract_id  TEXT PRIMARY KEY,
    counterparty TEXT NOT NULL,
    mirror_id    TEXT NOT NULL,
    h1           INTEGER NOT NULL,
    h2           INTEGER NOT NULL,
    terms        TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('registered', 'precommitted', 'released', 'refunded', 'cancelled')),
    updated_at   INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX tasks_by_state ON tasks (state);
  CREATE TABLE sent (
    key   TEXT PRIMARY KEY,
    hash  TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    at    INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE signed_views (
    chain_id   TEXT NOT NULL,
    height     INTEGER NOT NULL,
    view       TEXT NOT NULL,
    signatures TEXT NOT NULL,
    PRIMARY KEY (chain_id, height)
  ) STRICT;
  CREATE TABLE cursors (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  CREATE TABLE block_hashes (
    height INTEGER PRIMARY KEY,
    hash   TEXT NOT NULL
  ) STRICT;
`;

type Row = Record<string, SQLOutputValue>;

/**
 * What a relayer node needs to resume after being killed, in SQLite (`node:sqlite`). Every write is its own
 * transaction (a pruning batch is one), committed before the method returns, with WAL and `synchronous = NORMAL`: a
 * killed process loses nothing, and only a power cut or an OS crash can lose the last commits, all of which the node
 * gets back from its chain (scan cursors, tasks, block hashes, views it certifies again on demand) or redoes safely (a
 * step whose record is lost is simulated again, and a step already landed counts as done). FULL would fsync on every
 * commit: several times a block, on the main thread.
 */
export class Store {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly now: () => number;
  private readonly statements: ReturnType<Store["prepare"]>;
  private pruning = false;
  /**
   * The newest certified view of each chain, as latestSignedView last read it: a node asks for it every block and stores
   * a new one every few blocks, so the row is parsed again only after a put or a prune.
   */
  private readonly latest = new Map<bigint, StoredSignedView | undefined>();

  constructor({ path, now = Date.now }: StoreParameters) {
    this.path = path;
    this.now = now;
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path);
    try {
      // The node is its store's only user, so the store holds its file from the first read until closed (EXCLUSIVE): a
      // statement then takes no file lock and reads no shared WAL index (2.6× less CPU for a pass's statements here),
      // and a second process on the same file is refused instead of sharing the node's state. busy_timeout lets a node
      // restarted right after its old process wait for that one to let go.
      this.db.exec("PRAGMA busy_timeout = 5000; PRAGMA locking_mode = EXCLUSIVE");
      try {
        this.db.exec("PRAGMA journal_mode = WAL");
      } catch (error) {
        if ((error as { errcode?: number }).errcode === SQLITE_BUSY) throw new StoreInUseError(path, error);
        throw error;
      }
      this.db.exec("PRAGMA synchronous = NORMAL");
      this.migrate();
      this.statements = this.prepare();
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  /** Closes the database; calling it twice is harmless. */
  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  // ---- tasks

  /** Inserts the task or replaces every field of the stored one. */
  upsertTask(task: NewTask): Task {
    const { terms } = task;
    const stored: Task = {
      contractId: normalizeId(task.contractId),
      mirrorId: task.mirrorId,
      terms: { ...terms },
      counterparty: terms.counterparty,
      h1: terms.h1,
      h2: terms.h2,
      state: task.state,
      updatedAt: Math.trunc(this.now()),
    };
    this.statements.upsertTask.run({
      contract_id: stored.contractId,
      counterparty: stored.counterparty.toString(),
      mirror_id: stored.mirrorId,
      h1: stored.h1,
      h2: stored.h2,
      terms: encodeTerms(terms),
      state: stored.state,
      updated_at: stored.updatedAt,
    });
    return stored;
  }

  /** Moves a stored task to `state`; throws StoreUnknownTaskError when there is none. */
  setTaskState(contractId: Hex, state: TaskState): void {
    const { changes } = this.statements.setTaskState.run({ contract_id: normalizeId(contractId), state, updated_at: Math.trunc(this.now()) });
    if (Number(changes) === 0) throw new StoreUnknownTaskError(contractId);
  }

  task(contractId: Hex): Task | undefined {
    const row = this.statements.task.get({ contract_id: normalizeId(contractId) });
    return row === undefined ? undefined : toTask(row);
  }

  /** Tasks still registered or precommitted, oldest write first. */
  openTasks(): Task[] {
    return this.statements.openTasks.all().map(toTask);
  }

  countTasksByState(): Record<TaskState, number> {
    const counts = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
    for (const row of this.statements.countTasks.all()) counts[row.state as TaskState] = Number(row.n);
    return counts;
  }

  // ---- sent transactions

  /** Records (or replaces, e.g. after a fee bump) the transaction sent for step `key`. */
  recordSent({ key, hash, nonce, at }: SentTransaction): void {
    this.statements.recordSent.run({ key, hash, nonce, at: Math.trunc(at) });
  }

  sent(key: string): SentTransaction | undefined {
    const row = this.statements.sent.get({ key });
    if (row === undefined) return undefined;
    return { key: row.key as string, hash: row.hash as Hex, nonce: Number(row.nonce), at: Number(row.at) };
  }

  forget(key: string): void {
    this.statements.forget.run({ key });
  }

  // ---- certified views

  /**
   * Stores a certified view. Storing the same view again replaces its signatures; a different view at the same
   * chain and height throws StoreConflictingViewError and keeps the stored one.
   */
  putSignedView({ chainId, height, view, signatures }: StoredSignedView): void {
    if (view.chainId !== chainId.toString() || view.height !== height.toString()) throw new StoreViewMismatchError(chainId, height, view);
    const stored = this.signedView(chainId, height);
    if (stored !== undefined && !sameView(stored.view, view)) throw new StoreConflictingViewError(stored, view);
    this.latest.delete(chainId);
    this.statements.putSignedView.run({
      chain_id: chainId.toString(),
      height,
      view: JSON.stringify({ chainId: view.chainId, height: view.height, acc: view.acc, hashes: view.hashes }),
      signatures: JSON.stringify(signatures),
    });
  }

  signedView(chainId: bigint, height: bigint): StoredSignedView | undefined {
    const row = this.statements.signedView.get({ chain_id: chainId.toString(), height });
    return row === undefined ? undefined : toSignedView(row);
  }

  latestSignedView(chainId: bigint): StoredSignedView | undefined {
    if (this.latest.has(chainId)) return this.latest.get(chainId);
    const row = this.statements.latestSignedView.get({ chain_id: chainId.toString() });
    const latest = row === undefined ? undefined : toSignedView(row);
    this.latest.set(chainId, latest);
    return latest;
  }

  /**
   * The newest certified view of `chainId` with fromExclusive < height ≤ toInclusive, or undefined: one lookup in the
   * (chain_id, height) index however many views are stored, the step of a certified path (view/certifiedPath).
   */
  newestSignedViewWithin(chainId: bigint, fromExclusive: bigint, toInclusive: bigint): StoredSignedView | undefined {
    const row = this.statements.newestSignedViewWithin.get({ chain_id: chainId.toString(), from: fromExclusive, to: toInclusive });
    return row === undefined ? undefined : toSignedView(row);
  }

  // ---- block hashes of the node's own chain (what a check() answer bridges)

  /** Records the hash of the node's own chain's block at `height`. */
  putBlockHash(height: bigint, hash: Hex): void {
    this.statements.putBlockHash.run({ height, hash });
  }

  /** The stored block hashes of heights from..to, in order; a missing height ends the list there. */
  blockHashes(from: bigint, to: bigint): Hex[] {
    const hashes: Hex[] = [];
    let next = from;
    for (const row of this.statements.blockHashes.all({ from, to })) {
      if (BigInt(row.height as bigint) !== next) break;
      hashes.push(row.hash as Hex);
      next += 1n;
    }
    return hashes;
  }

  // ---- retention

  /** The lowest height of `chainId` whose certified view and block hash the store still keeps: 0 until pruned. */
  keptFrom(chainId: bigint): bigint {
    return this.getCursor(keptFromCursor(chainId)) ?? 0n;
  }

  /**
   * Forgets the history of the node's own chain `chainId` below height `below`: its certified views and its block hashes.
   * keptFrom rises to `below` first (it never falls), so that a request for what is about to go is refused as too old
   * instead of being half answered. Rows go in batches of at most `batch` of each table, each batch one transaction, with
   * a turn of the event loop between batches: a large backlog (a store that was never pruned) does not stall the node.
   * Returns how many rows went. A call while another runs only raises keptFrom, which the running one then follows; a
   * store closed meanwhile ends the run.
   */
  async pruneHistory(chainId: bigint, below: bigint, { batch = PRUNE_BATCH }: { batch?: number } = {}): Promise<number> {
    if (below > this.keptFrom(chainId)) this.setCursor(keptFromCursor(chainId), below);
    if (this.pruning) return 0;
    this.pruning = true;
    try {
      let deleted = 0;
      while (this.db.isOpen) {
        const floor = this.keptFrom(chainId);
        this.db.exec("BEGIN IMMEDIATE");
        let views: number;
        let hashes: number;
        try {
          views = Number(this.statements.pruneSignedViews.run({ chain_id: chainId.toString(), below: floor, limit: batch }).changes);
          this.latest.delete(chainId);
          hashes = Number(this.statements.pruneBlockHashes.run({ below: floor, limit: batch }).changes);
          this.db.exec("COMMIT");
        } catch (error) {
          this.db.exec("ROLLBACK");
          throw error;
        }
        deleted += views + hashes;
        if (views < batch && hashes < batch) break;
        await setImmediate();
      }
      return deleted;
    } finally {
      this.pruning = false;
    }
  }

  // ---- cursors

  getCursor(name: string): bigint | undefined {
    const row = this.statements.getCursor.get({ name });
    return row === undefined ? undefined : BigInt(row.value as string);
  }

  setCursor(name: string, value: bigint): void {
    this.statements.setCursor.run({ name, value: value.toString() });
  }

  // ---- internals

  private migrate(): void {
    this.db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const row = this.db.prepare("SELECT MAX(version) AS version FROM schema_version").get();
    const found = row?.version === null || row?.version === undefined ? 0 : Number(row.version);
    if (found === STORE_SCHEMA_VERSION) return;
    if (found !== 0) throw new StoreSchemaVersionError(this.path, found, STORE_SCHEMA_VERSION);
    // Versions are applied in one transaction each, so a crash mid-migration leaves the previous version intact.
    this.db.exec("BEGIN IMMEDIATE");
    try {
      this.db.exec(SCHEMA_V2);
      this.db.prepare("INSERT INTO schema_version (version) VALUES (?)").run(STORE_SCHEMA_VERSION);
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }

  private prepare() {
    const select = (sql: string): StatementSync => {
      const statement = this.db.prepare(sql);
      statement.setReadBigInts(true);
      return statement;
    };
    const taskColumns = "contract_id, counterparty, mirror_id, h1, h2, terms, state, updated_at";
    const viewColumns = "chain_id, height, view, signatures";
    return {
      upsertTask: this.db.prepare(
        `INSERT INTO tasks (${taskColumns}) VALUES (:contract_id, :counterparty, :mirror_id, :h1, :h2, :terms, :state, :updated_at)
         ON CONFLICT (contract_id) DO UPDATE SET counterparty = excluded.counterparty, mirror_id = excluded.mirror_id,
           h1 = excluded.h1, h2 = excluded.h2, terms = excluded.terms, state = excluded.state, updated_at = excluded.updated_at`,
      ),
      setTaskState: this.db.prepare("UPDATE tasks SET state = :state, updated_at = :updated_at WHERE contract_id = :contract_id"),
      task: select(`SELECT ${taskColumns} FROM tasks WHERE contract_id = :contract_id`),
      openTasks: select(
        `SELECT ${taskColumns} FROM tasks WHERE state IN (${OPEN_TASK_STATES.map((s) => `'${s}'`).join(", ")}) ORDER BY updated_at, contract_id`,
      ),
      countTasks: select("SELECT state, COUNT(*) AS n FROM tasks GROUP BY state"),
      recordSent: this.db.prepare(
        "INSERT INTO sent (key, hash, nonce, at) VALUES (:key, :hash, :nonce, :at) ON CONFLICT (key) DO UPDATE SET hash = excluded.hash, nonce = excluded.nonce, at = excluded.at",
      ),
      sent: select("SELECT key, hash, nonce, at FROM sent WHERE key = :key"),
      forget: this.db.prepare("DELETE FROM sent WHERE key = :key"),
      putSignedView: this.db.prepare(
        `INSERT INTO signed_views (${viewColumns}) VALUES (:chain_id, :height, :view, :signatures)
         ON CONFLICT (chain_id, height) DO UPDATE SET view = excluded.view, signatures = excluded.signatures`,
      ),
      signedView: select(`SELECT ${viewColumns} FROM signed_views WHERE chain_id = :chain_id AND height = :height`),
      latestSignedView: select(`SELECT ${viewColumns} FROM signed_views WHERE chain_id = :chain_id ORDER BY height DESC LIMIT 1`),
      newestSignedViewWithin: select(
        `SELECT ${viewColumns} FROM signed_views WHERE chain_id = :chain_id AND height > :from AND height <= :to ORDER BY height DESC LIMIT 1`,
      ),
      // SQLite's DELETE takes no LIMIT by default: the batch is the lowest `limit` keys below the floor, found in the index.
      pruneSignedViews: this.db.prepare(
        `DELETE FROM signed_views WHERE chain_id = :chain_id AND height IN
           (SELECT height FROM signed_views WHERE chain_id = :chain_id AND height < :below ORDER BY height LIMIT :limit)`,
      ),
      pruneBlockHashes: this.db.prepare(
        "DELETE FROM block_hashes WHERE height IN (SELECT height FROM block_hashes WHERE height < :below ORDER BY height LIMIT :limit)",
      ),
      putBlockHash: this.db.prepare("INSERT INTO block_hashes (height, hash) VALUES (:height, :hash) ON CONFLICT (height) DO UPDATE SET hash = excluded.hash"),
      blockHashes: select("SELECT height, hash FROM block_hashes WHERE height >= :from AND height <= :to ORDER BY height"),
      getCursor: select("SELECT value FROM cursors WHERE name = :name"),
      setCursor: this.db.prepare("INSERT INTO cursors (name, value) VALUES (:name, :value) ON CONFLICT (name) DO UPDATE SET value = excluded.value"),
    };
  }
}

/** The cursor that holds keptFrom of a chain. */
function keptFromCursor(chainId: bigint): string {
  return `kept-from:${chainId}`;
}

/** Hex ids are keys: one spelling per id. */
function normalizeId(id: Hex): Hex {
  return id.toLowerCase() as Hex;
}

function sameView(a: WireView, b: WireView): boolean {
  return (
    a.chainId === b.chainId &&
    a.height === b.height &&
    a.acc.toLowerCase() === b.acc.toLowerCase() &&
    a.hashes.length === b.hashes.length &&
    a.hashes.every((h, i) => h.toLowerCase() === b.hashes[i]?.toLowerCase())
  );
}

const TERM_NUMBERS = ["amount", "counterparty", "h1", "h2", "registerBy", "mirrorBy"] as const;

/** Registration terms as JSON: the integers as decimal strings. */
function encodeTerms(terms: Registration): string {
  const json: Record<string, string> = { ...(terms as unknown as Record<string, string>) };
  for (const key of TERM_NUMBERS) json[key] = terms[key].toString();
  return JSON.stringify(json);
}

function decodeTerms(text: string): Registration {
  const json = JSON.parse(text) as Record<string, string>;
  return {
    asset: json.asset as Address,
    amount: BigInt(json.amount!),
    beneficiary: json.beneficiary as Address,
    refundTo: json.refundTo as Address,
    salt: json.salt as Hex,
    tx2: json.tx2 as Hex,
    tx2r: json.tx2r as Hex,
    counterparty: BigInt(json.counterparty!),
    h1: BigInt(json.h1!),
    h2: BigInt(json.h2!),
    registerBy: BigInt(json.registerBy!),
    mirrorBy: BigInt(json.mirrorBy!),
  };
}

function toTask(row: Row): Task {
  const terms = decodeTerms(row.terms as string);
  return {
    contractId: row.contract_id as Hex,
    mirrorId: row.mirror_id as Hex,
    terms,
    counterparty: terms.counterparty,
    h1: terms.h1,
    h2: terms.h2,
    state: row.state as TaskState,
    updatedAt: Number(row.updated_at),
  };
}

function toSignedView(row: Row): StoredSignedView {
  return {
    chainId: BigInt(row.chain_id as string),
    height: BigInt(row.height as bigint),
    view: JSON.parse(row.view as string) as WireView,
    signatures: JSON.parse(row.signatures as string) as Hex[],
  };
}
