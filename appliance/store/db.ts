// The sqlite3 database: one writer connection whose transactions are queued and group-committed
// (durable, synchronous=FULL), one reader connection for committed state, versioned migrations.
import { copyFileSync, existsSync } from "node:fs";
import sqlite3 from "sqlite3";
import { ApplianceError } from "../errors.js";
import type { Migration } from "./migrations/index.js";

export type SqlParam = string | number | bigint | Buffer | null;
export type SqlParams = SqlParam[] | Record<string, SqlParam>;

export interface RunResult {
  changes: number;
  lastID: number;
}

/** The statements a transaction body (or a reader) may issue. */
export interface Queryable {
  run(sql: string, params?: SqlParams): Promise<RunResult>;
  get<T>(sql: string, params?: SqlParams): Promise<T | undefined>;
  all<T>(sql: string, params?: SqlParams): Promise<T[]>;
}

function wrap(conn: sqlite3.Database): Queryable {
  return {
    run: (sql, params = []) =>
      new Promise((resolve, reject) =>
        conn.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
          if (err) reject(err);
          else resolve({ changes: this.changes, lastID: this.lastID });
        }),
      ),
    get: <T>(sql: string, params: SqlParams = []) =>
      new Promise<T | undefined>((resolve, reject) =>
        conn.get<T>(sql, params, (err, row) => (err ? reject(err) : resolve(row))),
      ),
    all: <T>(sql: string, params: SqlParams = []) =>
      new Promise<T[]>((resolve, reject) =>
        conn.all<T>(sql, params, (err, rows) => (err ? reject(err) : resolve(rows))),
      ),
  };
}

/** Work counters of a Db (monotonic; exported as Prometheus counters, read by the benches). */
export interface DbStats {
  /** calls into SQLite on the writer connection (statements and multi-statement execs): each is a
   *  thread-pool round trip */
  writerCalls: number;
  /** statements on the reader connection */
  readerCalls: number;
  /** write transactions committed (each one fsync with synchronous=FULL) */
  commits: number;
  /** Db.write jobs run */
  writeJobs: number;
}

/**
 * A connection's statements, prepared once and reused (preparing a statement per call costs more
 * CPU than running it). Every call runs its statement to completion (`all`/`run`), so no statement
 * is left mid-result holding a read transaction open. Bounded; evicted statements are finalized.
 */
class PreparedStatements implements Queryable {
  /** resolved once the statement is prepared; a statement that fails to prepare is not cached */
  private readonly cache = new Map<string, Promise<sqlite3.Statement>>();

  constructor(
    private readonly conn: sqlite3.Database,
    private readonly stats: DbStats,
    private readonly counter: "writerCalls" | "readerCalls",
    private readonly max = 512,
  ) {}

  private statement(sql: string): Promise<sqlite3.Statement> {
    let p = this.cache.get(sql);
    if (p) {
      this.cache.delete(sql);
      this.cache.set(sql, p);
      return p;
    }
    // node-sqlite3 never calls back calls queued on a statement whose preparation failed: wait for it
    const prepared = new Promise<sqlite3.Statement>((resolve, reject) => {
      const st = this.conn.prepare(sql, (err) => {
        if (!err) return resolve(st);
        if (this.cache.get(sql) === prepared) this.cache.delete(sql);
        reject(err);
      });
    });
    p = prepared;
    this.cache.set(sql, p);
    if (this.cache.size > this.max) {
      const [oldSql, old] = this.cache.entries().next().value!;
      this.cache.delete(oldSql);
      old.then(
        (st) => st.finalize(), // queued behind the statement's pending calls
        () => undefined,
      );
    }
    return p;
  }

  async run(sql: string, params: SqlParams = []): Promise<RunResult> {
    const st = await this.statement(sql);
    this.stats[this.counter]++;
    return new Promise((resolve, reject) =>
      st.run(params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ changes: this.changes, lastID: this.lastID });
      }),
    );
  }

  async get<T>(sql: string, params: SqlParams = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async all<T>(sql: string, params: SqlParams = []): Promise<T[]> {
    const st = await this.statement(sql);
    this.stats[this.counter]++;
    return new Promise((resolve, reject) =>
      st.all(params, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows))),
    );
  }

  /** Finalizes every statement (before the connection closes). */
  async finalizeAll(): Promise<void> {
    const all = [...this.cache.values()];
    this.cache.clear();
    await Promise.all(
      all.map((p) =>
        p.then(
          (st) => new Promise<void>((r) => st.finalize(() => r())),
          () => undefined,
        ),
      ),
    );
  }
}

function openConn(path: string, mode: number): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const c = new sqlite3.Database(path, mode, (err) => (err ? reject(err) : resolve(c)));
  });
}

function exec(conn: sqlite3.Database, sql: string): Promise<void> {
  return new Promise((resolve, reject) => conn.exec(sql, (err) => (err ? reject(err) : resolve())));
}

interface Job {
  fn: (tx: Queryable) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export interface OpenOptions {
  migrations: readonly Migration[];
  /** copy the file aside before applying migrations to a non-empty database (default true) */
  backupBeforeMigrate?: boolean;
  /** most write jobs folded into one commit (default 256) */
  maxBatch?: number;
}

export class Db implements Queryable {
  private queue: Job[] = [];
  private draining = false;
  private closed = false;
  private readonly r: PreparedStatements;
  private readonly w: Queryable & { finalizeAll?(): Promise<void> };
  readonly stats: DbStats = { writerCalls: 0, readerCalls: 0, commits: 0, writeJobs: 0 };

  private constructor(
    readonly path: string,
    private readonly writer: sqlite3.Database | undefined,
    private readonly reader: sqlite3.Database,
    private readonly maxBatch: number,
  ) {
    this.r = new PreparedStatements(reader, this.stats, "readerCalls");
    this.w = writer ? new PreparedStatements(writer, this.stats, "writerCalls") : readOnlyWriter;
  }

  static async open(path: string, opts: OpenOptions): Promise<Db> {
    let writer: sqlite3.Database;
    try {
      writer = await openConn(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE);
    } catch (e) {
      throw new ApplianceError("internal", `cannot open database ${path}: ${(e as Error).message}`);
    }
    writer.configure("busyTimeout", 10_000);
    await exec(
      writer,
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA temp_store=MEMORY;",
    );
    await migrate(writer, path, opts);
    const reader = await openConn(path, sqlite3.OPEN_READONLY);
    reader.configure("busyTimeout", 10_000);
    await exec(reader, "PRAGMA foreign_keys=ON; PRAGMA query_only=ON;");
    return new Db(path, writer, reader, opts.maxBatch ?? 256);
  }

  /**
   * Opens an existing database for reading only (operational tools: status, backup, restore checks):
   * no writer connection, no migrations applied. Refuses a database written by a newer Plantroot.
   */
  static async openReadOnly(path: string, opts: { migrations: readonly Migration[] }): Promise<Db> {
    if (!existsSync(path)) throw new ApplianceError("notFound", `database ${path} does not exist`);
    let reader: sqlite3.Database;
    try {
      reader = await openConn(path, sqlite3.OPEN_READONLY);
    } catch (e) {
      throw new ApplianceError("internal", `cannot open database ${path}: ${(e as Error).message}`);
    }
    reader.configure("busyTimeout", 10_000);
    try {
      await exec(reader, "PRAGMA foreign_keys=ON; PRAGMA query_only=ON;");
      const r = wrap(reader);
      const hasTable = await r.get("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'");
      const applied = hasTable
        ? (await r.all<{ id: string }>("SELECT id FROM schema_migrations")).map((x) => x.id)
        : [];
      refuseNewer(path, applied, opts.migrations);
    } catch (e) {
      await new Promise<void>((resolve) => reader.close(() => resolve()));
      if (e instanceof ApplianceError) throw e;
      throw new ApplianceError("internal", `cannot read database ${path}: ${(e as Error).message}`);
    }
    return new Db(path, undefined, reader, 1);
  }

  /** Reads see committed state only (a separate connection from the writer). */
  run(_sql: string, _params?: SqlParams): Promise<RunResult> {
    return Promise.reject(new ApplianceError("internal", "writes must go through Db.write()"));
  }
  get<T>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.r.get<T>(sql, params);
  }
  all<T>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.r.all<T>(sql, params);
  }

  /**
   * Runs `fn` inside a write transaction. Jobs queued while another commit is in flight are folded
   * into one SQLite transaction (each in its own SAVEPOINT, so a failing job rolls back alone) and
   * committed once with synchronous=FULL: when the promise resolves, the write is on disk.
   * `fn` must only use `tx` and must not await anything but `tx` calls (it holds the writer).
   */
  write<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ApplianceError("unavailable", "database is closed"));
    if (!this.writer) return Promise.reject(new ApplianceError("internal", "database was opened read-only"));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        this.stats.writeJobs += batch.length;
        if (await this.runPlain(batch)) continue;
        const results: Array<{ ok: boolean; value: unknown }> = [];
        // A job failed in the plain run, which was rolled back whole: run the batch again with each
        // job inside its own SAVEPOINT so a failing job rolls back alone. The statements
        // between two jobs (release or roll back the previous savepoint, open the next one, or
        // commit after the last) go to SQLite as one exec: one thread-pool round trip per job
        // boundary instead of two or three. If a boundary fails, nothing of the batch commits.
        let boundaryFailed: unknown;
        let lost: { at: number; error: unknown } | undefined;
        try {
          await this.exec("BEGIN IMMEDIATE; SAVEPOINT job");
        } catch (e) {
          boundaryFailed = e;
        }
        for (let i = 0; i < batch.length && boundaryFailed === undefined && !lost; i++) {
          const job = batch[i]!;
          let ok = true;
          let value: unknown;
          try {
            value = await job.fn(this.w);
          } catch (e) {
            ok = false;
            value = e;
          }
          results.push({ ok, value: ok ? value : jobError(value) });
          const last = i === batch.length - 1;
          const close = ok ? "RELEASE job" : "ROLLBACK TO job; RELEASE job";
          try {
            await this.exec(last ? `${close}; COMMIT` : `${close}; SAVEPOINT job`);
          } catch (e) {
            // after a failed job, a missing savepoint means SQLite rolled the whole transaction back
            // by itself (SQLITE_FULL, IOERR, NOMEM, BUSY can): blame that job, not its neighbours
            if (ok) boundaryFailed = e;
            else lost = { at: i, error: value };
          }
        }
        if (lost) {
          await this.w.run("ROLLBACK").catch(() => undefined);
          // only the job that hit the error fails; the others committed nothing and run again in the
          // next batch (a job body only touches `tx`, so running it again is running it later)
          const { at, error } = lost;
          batch[at]!.reject(storeError(error));
          this.queue.unshift(...batch.slice(0, at), ...batch.slice(at + 1));
          continue;
        }
        if (boundaryFailed !== undefined) {
          await this.w.run("ROLLBACK").catch(() => undefined);
          for (const j of batch) j.reject(storeError(boundaryFailed));
          continue;
        }
        this.stats.commits++;
        batch.forEach((j, i) => {
          const r = results[i]!;
          if (r.ok) j.resolve(r.value);
          else j.reject(r.value);
        });
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * The common case first: the batch's jobs one after another in one transaction, no savepoints
   * (BEGIN and COMMIT are the only extra SQLite calls, however many jobs). True when the batch is
   * settled (committed, or failed as a whole, or a lone job failed and was rolled back); false when
   * one of several jobs failed: everything was rolled back and nothing settled, so the caller runs
   * the batch again with savepoints (a job body only touches `tx`: running it again is running it
   * later, and its first run left nothing behind).
   */
  private async runPlain(batch: Job[]): Promise<boolean> {
    try {
      await this.w.run("BEGIN IMMEDIATE");
    } catch (e) {
      for (const j of batch) j.reject(storeError(e));
      return true;
    }
    const values: unknown[] = [];
    for (const job of batch) {
      try {
        values.push(await job.fn(this.w));
      } catch (e) {
        await this.w.run("ROLLBACK").catch(() => undefined);
        if (batch.length > 1) return false;
        // a lone job: the rolled-back transaction was its own
        job.reject(jobError(e));
        return true;
      }
    }
    try {
      await this.w.run("COMMIT");
    } catch (e) {
      await this.w.run("ROLLBACK").catch(() => undefined);
      for (const j of batch) j.reject(storeError(e));
      return true;
    }
    this.stats.commits++;
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(values[i]);
    return true;
  }

  /** Runs one or more parameterless statements on the writer in one thread-pool round trip. */
  private exec(sql: string): Promise<void> {
    // only reached from drain(), which write() never starts on a read-only Db
    if (!this.writer) return Promise.reject(new ApplianceError("internal", "database was opened read-only"));
    this.stats.writerCalls++;
    return exec(this.writer, sql);
  }

  /** Consistent online copy through SQLite's backup API (not a file copy of a live database). */
  backup(destPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const b = (this.reader as unknown as { backup(p: string, cb: (e: Error | null) => void): BackupHandle }).backup(
        destPath,
        (err) => {
          if (err) return reject(err);
          b.step(-1, (e2) => {
            if (e2) return reject(e2);
            b.finish((e3) => (e3 ? reject(e3) : resolve()));
          });
        },
      );
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.draining || this.queue.length) await new Promise((r) => setTimeout(r, 5));
    await Promise.all([this.r.finalizeAll(), this.w.finalizeAll?.()]);
    await new Promise<void>((resolve) => this.reader.close(() => resolve()));
    const writer = this.writer;
    if (writer) await new Promise<void>((resolve, reject) => writer.close((e) => (e ? reject(e) : resolve())));
  }
}

const readOnlyWriter: Queryable = {
  run: () => Promise.reject(new ApplianceError("internal", "database was opened read-only")),
  get: () => Promise.reject(new ApplianceError("internal", "database was opened read-only")),
  all: () => Promise.reject(new ApplianceError("internal", "database was opened read-only")),
};

function refuseNewer(path: string, applied: Iterable<string>, migrations: readonly Migration[]): void {
  const known = new Set(migrations.map((m) => m.id));
  const unknown = [...applied].filter((id) => !known.has(id));
  if (unknown.length)
    throw new ApplianceError(
      "internal",
      `database ${path} has schema migrations this Plantroot does not know (${unknown.join(", ")}): it was written by a newer version; refusing to run`,
    );
}

interface BackupHandle {
  step(pages: number, cb: (e: Error | null) => void): void;
  finish(cb: (e: Error | null) => void): void;
}

/** Conditions of the disk or the machine, not of the request: clients retry later. */
const TRANSIENT = new Set([
  "SQLITE_FULL",
  "SQLITE_IOERR",
  "SQLITE_NOMEM",
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
  "SQLITE_READONLY",
]);

function storeError(e: unknown): ApplianceError {
  if (e instanceof ApplianceError) return e;
  const code = (e as { code?: string }).code;
  if (code && TRANSIENT.has(code))
    return new ApplianceError("unavailable", `storage error: ${code}`, { cause: e, retryAfter: 5 });
  return new ApplianceError("internal", `database error: ${code ?? (e as Error).message}`, { cause: e });
}

/** A job's own error as its caller sees it: storage trouble typed, anything else unchanged. */
function jobError(e: unknown): unknown {
  const code = (e as { code?: string } | undefined)?.code;
  return code && TRANSIENT.has(code) ? storeError(e) : e;
}

async function migrate(writer: sqlite3.Database, path: string, opts: OpenOptions): Promise<void> {
  const w = wrap(writer);
  await w.run("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
  const applied = new Set((await w.all<{ id: string }>("SELECT id FROM schema_migrations")).map((r) => r.id));
  refuseNewer(path, applied, opts.migrations);
  const pending = opts.migrations.filter((m) => !applied.has(m.id));
  if (!pending.length) return;
  if (applied.size > 0 && opts.backupBeforeMigrate !== false && existsSync(path)) {
    await exec(writer, "PRAGMA wal_checkpoint(TRUNCATE)");
    copyFileSync(path, `${path}.pre-${pending[0]!.id}.bak`);
  }
  // every pending migration in one transaction: an upgrade applies all of them or none, so a failure
  // leaves the database exactly as the previous version wrote it (and that version can still run)
  let current = pending[0]!.id;
  try {
    await exec(writer, "BEGIN IMMEDIATE");
    const now = new Date().toISOString();
    for (const m of pending) {
      current = m.id;
      await exec(writer, m.sql);
      await w.run("INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)", [m.id, now]);
    }
    await exec(writer, "COMMIT");
  } catch (e) {
    await exec(writer, "ROLLBACK").catch(() => undefined);
    throw new ApplianceError(
      "internal",
      `migration ${current} failed, database left unchanged: ${(e as Error).message}`,
    );
  }
}
