// appliance/store/db.ts against a real sqlite file: migrations, refusal of newer schemas,
// group-committed writes with per-job rollback, concurrent writers, online backup.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ApplianceError } from "../../appliance/errors.js";
import { Db } from "../../appliance/store/db.js";
import type { Migration } from "../../appliance/store/migrations/index.js";
import { removeWhenFileEnds } from "../helpers/temp-dirs.js";

const M1: Migration = { id: "test-0001-items", sql: "CREATE TABLE items (k TEXT PRIMARY KEY, v INTEGER NOT NULL);" };
const M2: Migration = { id: "test-0002-notes", sql: "CREATE TABLE notes (n TEXT);" };

function tmpDb(): string {
  return join(removeWhenFileEnds(mkdtempSync(join(tmpdir(), "store-"))), "plantroot.db");
}

describe("Db", () => {
  it("writes in WAL mode with synchronous=FULL (durable on commit)", async () => {
    const path = tmpDb();
    const db = await Db.open(path, { migrations: [M1] });
    try {
      const inTx = await db.write(async (tx) => {
        await tx.run("INSERT INTO items VALUES ('w', 1)");
        return {
          journal: await tx.get<{ journal_mode: string }>("PRAGMA journal_mode"),
          sync: await tx.get<{ synchronous: number }>("PRAGMA synchronous"),
        };
      });
      expect(inTx.journal).toEqual({ journal_mode: "wal" });
      expect(inTx.sync).toEqual({ synchronous: 2 }); // 2 = FULL
      expect(await db.get("PRAGMA journal_mode")).toEqual({ journal_mode: "wal" });
      expect(existsSync(`${path}-wal`)).toBe(true);
    } finally {
      await db.close();
    }
  });

  it("applies migrations once, in order, and refuses a database written by a newer version", async () => {
    const path = tmpDb();
    const db = await Db.open(path, { migrations: [M1] });
    await db.write((tx) => tx.run("INSERT INTO items VALUES ('a', 1)"));
    await db.close();
    const db2 = await Db.open(path, { migrations: [M1, M2] });
    expect(await db2.all("SELECT id FROM schema_migrations ORDER BY id")).toEqual([{ id: M1.id }, { id: M2.id }]);
    expect(await db2.get("SELECT v FROM items WHERE k='a'")).toEqual({ v: 1 });
    await db2.close();
    await expect(Db.open(path, { migrations: [M1] })).rejects.toThrow(/newer version/);
  });

  it("a failing migration leaves the database untouched", async () => {
    const path = tmpDb();
    (await Db.open(path, { migrations: [M1] })).close();
    const bad: Migration = { id: "test-0003-bad", sql: "CREATE TABLE x (a); INSERT INTO nope VALUES (1);" };
    await expect(Db.open(path, { migrations: [M1, bad] })).rejects.toThrow(/migration test-0003-bad failed/);
    const db = await Db.open(path, { migrations: [M1] });
    expect(await db.all("SELECT name FROM sqlite_master WHERE name='x'")).toEqual([]);
    await db.close();
  });

  it("folds concurrent writes into group commits; a failing job rolls back alone", async () => {
    const db = await Db.open(tmpDb(), { migrations: [M1] });
    const jobs = Array.from({ length: 500 }, (_, i) =>
      db.write(async (tx) => {
        await tx.run("INSERT INTO items VALUES (?, ?)", [`k${i}`, i]);
        if (i % 50 === 7) throw new ApplianceError("conflict", `job ${i} refuses`);
        return i;
      }),
    );
    const settled = await Promise.allSettled(jobs);
    const failed = settled.filter((s) => s.status === "rejected");
    expect(failed.length).toBe(10);
    expect((await db.get<{ n: number }>("SELECT count(*) AS n FROM items"))!.n).toBe(490);
    // unique constraint: a duplicate insert fails without disturbing others in its batch
    const dup = await Promise.allSettled([
      db.write((tx) => tx.run("INSERT INTO items VALUES ('k1', 0)")),
      db.write((tx) => tx.run("INSERT INTO items VALUES ('fresh', 0)")),
    ]);
    expect(dup[0].status).toBe("rejected");
    expect(dup[1].status).toBe("fulfilled");
    await db.close();
  });

  it("a job after which SQLite rolled the whole batch back fails alone and typed; its neighbours commit once", async () => {
    // SQLITE_FULL/IOERR/NOMEM/BUSY may end the transaction by themselves; a job that runs ROLLBACK
    // reproduces that state deterministically (no savepoint left, autocommit mode)
    const db = await Db.open(tmpDb(), { migrations: [M1] });
    const first = db.write((tx) => tx.run("INSERT INTO items VALUES ('first', 0)"));
    const [a, b, c, d] = await Promise.allSettled([
      db.write((tx) => tx.run("INSERT INTO items VALUES ('a', 1)")),
      db.write(async (tx) => {
        await tx.run("INSERT INTO items VALUES ('b', 2)");
        await tx.run("ROLLBACK");
        throw Object.assign(new Error("SQLITE_FULL: database or disk is full"), { code: "SQLITE_FULL", errno: 13 });
      }),
      db.write((tx) => tx.run("INSERT INTO items VALUES ('c', 3)")),
      db.write(async (tx) => {
        await tx.run("INSERT INTO items VALUES ('d', 4)");
        return "d";
      }),
    ]);
    await first;
    expect(a.status).toBe("fulfilled");
    expect(b.status).toBe("rejected");
    expect((b as PromiseRejectedResult).reason).toMatchObject({
      kind: "unavailable",
      message: "storage error: SQLITE_FULL",
    });
    expect(c.status).toBe("fulfilled");
    expect(d).toEqual({ status: "fulfilled", value: "d" });
    expect(await db.all("SELECT k FROM items ORDER BY k")).toEqual([
      { k: "a" },
      { k: "c" },
      { k: "d" },
      { k: "first" },
    ]);
    // the writer is healthy afterwards
    await db.write((tx) => tx.run("INSERT INTO items VALUES ('e', 5)"));
    expect(await db.get("SELECT v FROM items WHERE k = 'e'")).toEqual({ v: 5 });
    await db.close();
  });

  it("storage errors raised inside a job reach the caller typed as unavailable", async () => {
    const db = await Db.open(tmpDb(), { migrations: [M1] });
    await expect(
      db.write(async () => {
        throw Object.assign(new Error("SQLITE_IOERR: disk I/O error"), { code: "SQLITE_IOERR" });
      }),
    ).rejects.toMatchObject({ kind: "unavailable", retryAfter: 5 });
    await db.close();
  });

  it("takes a consistent online backup while writes continue", async () => {
    const dir = mkdtempSync(join(tmpdir(), "store-bk-"));
    const db = await Db.open(join(dir, "a.db"), { migrations: [M1] });
    for (let i = 0; i < 200; i++) await db.write((tx) => tx.run("INSERT INTO items VALUES (?, ?)", [`a${i}`, i]));
    const more = Array.from({ length: 200 }, (_, i) =>
      db.write((tx) => tx.run("INSERT INTO items VALUES (?, ?)", [`b${i}`, i])),
    );
    await db.backup(join(dir, "b.db"));
    await Promise.all(more);
    await db.close();
    const copy = await Db.open(join(dir, "b.db"), { migrations: [M1] });
    expect(await copy.get("PRAGMA integrity_check")).toEqual({ integrity_check: "ok" });
    expect((await copy.get<{ n: number }>("SELECT count(*) AS n FROM items WHERE k LIKE 'a%'"))!.n).toBe(200);
    await copy.close();
  });

  it("refuses writes through the read path", async () => {
    const db = await Db.open(tmpDb(), { migrations: [M1] });
    await expect(db.run("INSERT INTO items VALUES ('z', 1)")).rejects.toThrow(/Db.write/);
    await db.close();
  });

  it("applies all pending migrations in one transaction: a failure in the last keeps the first out too", async () => {
    const path = tmpDb();
    const db0 = await Db.open(path, { migrations: [M1] });
    await db0.write((tx) => tx.run("INSERT INTO items VALUES ('kept', 7)"));
    await db0.close();
    const bad: Migration = { id: "test-0003-bad", sql: "INSERT INTO nope VALUES (1);" };
    await expect(Db.open(path, { migrations: [M1, M2, bad] })).rejects.toThrow(/migration test-0003-bad failed/);
    // the previous version (knowing only M1) still opens it: nothing of M2 was committed
    const db = await Db.open(path, { migrations: [M1] });
    expect(await db.all("SELECT id FROM schema_migrations")).toEqual([{ id: M1.id }]);
    expect(await db.all("SELECT name FROM sqlite_master WHERE name='notes'")).toEqual([]);
    expect(await db.get("SELECT v FROM items WHERE k='kept'")).toEqual({ v: 7 });
    await db.close();
  });

  it("opens read-only for operational tools: no migration, no writes, backups work, newer schemas refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "store-ro-"));
    const path = join(dir, "a.db");
    const db = await Db.open(path, { migrations: [M1] });
    await db.write((tx) => tx.run("INSERT INTO items VALUES ('a', 1)"));
    const ro = await Db.openReadOnly(path, { migrations: [M1, M2] });
    expect(await ro.get("SELECT v FROM items WHERE k='a'")).toEqual({ v: 1 });
    expect(await ro.all("SELECT id FROM schema_migrations")).toEqual([{ id: M1.id }]); // M2 not applied
    await expect(ro.write((tx) => tx.run("INSERT INTO items VALUES ('b', 2)"))).rejects.toThrow(/read-only/);
    await ro.backup(join(dir, "copy.db"));
    await ro.close();
    await db.close();
    const copy = await Db.openReadOnly(join(dir, "copy.db"), { migrations: [M1] });
    expect(await copy.get("PRAGMA integrity_check")).toEqual({ integrity_check: "ok" });
    await copy.close();
    await expect(Db.openReadOnly(path, { migrations: [] })).rejects.toThrow(/newer version/);
    await expect(Db.openReadOnly(join(dir, "missing.db"), { migrations: [] })).rejects.toThrow(/does not exist/);
  });
});
