// appliance/store/db.ts internals the ACME hot path relies on: reused prepared statements never
// leave a reader on an old snapshot, the cache survives more distinct statements than it holds, and
// a lone write job that fails rolls back without a savepoint, a batch runs without savepoints unless
// one of its jobs fails (then again with them); the work counters count what ran.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ApplianceError } from "../../appliance/errors.js";
import { Db } from "../../appliance/store/db.js";

const M = [{ id: "test-0001-kv", sql: "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL);" }];

async function open(): Promise<Db> {
  return Db.open(join(mkdtempSync(join(tmpdir(), "stmts-")), "t.db"), { migrations: M });
}

describe("Db statements", () => {
  it("a reused read statement sees every commit (no snapshot held between calls)", async () => {
    const db = await open();
    await db.write((tx) => tx.run("INSERT INTO kv VALUES ('a', 0)"));
    for (let i = 1; i <= 50; i++) {
      await db.write((tx) => tx.run("UPDATE kv SET v = ? WHERE k = 'a'", [i]));
      expect(await db.get<{ v: number }>("SELECT v FROM kv WHERE k = ?", ["a"])).toEqual({ v: i });
      expect(await db.all<{ v: number }>("SELECT v FROM kv")).toEqual([{ v: i }]);
    }
    await db.close();
  });

  it("works with more distinct statements than the cache holds, and closes cleanly", async () => {
    const db = await open();
    await db.write(async (tx) => {
      for (let i = 0; i < 700; i++) await tx.run(`INSERT INTO kv VALUES ('k${i}', ${i})`);
    });
    for (let i = 0; i < 700; i += 7)
      expect(await db.get<{ v: number }>(`SELECT v FROM kv WHERE k = 'k${i}'`)).toEqual({ v: i });
    await expect(db.get("SELECT nope FROM kv")).rejects.toThrow(/no such column/);
    expect(await db.get<{ n: number }>("SELECT count(*) AS n FROM kv")).toEqual({ n: 700 });
    await db.close();
  });

  it("a lone failing job leaves nothing behind; the next job commits", async () => {
    const db = await open();
    await expect(
      db.write(async (tx) => {
        await tx.run("INSERT INTO kv VALUES ('x', 1)");
        throw new ApplianceError("conflict", "changed");
      }),
    ).rejects.toThrow(/changed/);
    await expect(db.write((tx) => tx.run("INSERT INTO kv VALUES ('y', 1), ('y', 2)"))).rejects.toThrow(/UNIQUE/);
    await db.write((tx) => tx.run("INSERT INTO kv VALUES ('z', 3)"));
    expect(await db.all("SELECT k FROM kv ORDER BY k")).toEqual([{ k: "z" }]);
    await db.close();
  });

  it("counts SQLite calls per connection, write jobs and commits", async () => {
    const db = await open();
    const s0 = { ...db.stats };
    // a lone job: BEGIN, its statement, COMMIT on the writer; one commit
    await db.write((tx) => tx.run("INSERT INTO kv VALUES ('a', 1)"));
    expect(db.stats.writerCalls - s0.writerCalls).toBe(3);
    expect(db.stats.commits - s0.commits).toBe(1);
    expect(db.stats.writeJobs - s0.writeJobs).toBe(1);
    await db.get("SELECT v FROM kv WHERE k = ?", ["a"]);
    await db.all("SELECT v FROM kv");
    expect(db.stats.readerCalls - s0.readerCalls).toBe(2);
    // a failing lone job commits nothing
    const s1 = { ...db.stats };
    await expect(db.write((tx) => tx.run("INSERT INTO kv VALUES ('a', 2)"))).rejects.toThrow(/UNIQUE/);
    expect(db.stats.commits).toBe(s1.commits);
    expect(db.stats.writeJobs - s1.writeJobs).toBe(1);
    // jobs queued together share one commit
    const s2 = { ...db.stats };
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => db.write((tx) => tx.run("INSERT INTO kv VALUES (?, ?)", [`b${i}`, i]))),
    );
    expect(db.stats.writeJobs - s2.writeJobs).toBe(5);
    expect(db.stats.commits - s2.commits).toBeLessThanOrEqual(2);
    expect(await db.get<{ n: number }>("SELECT count(*) AS n FROM kv")).toEqual({ n: 6 });
    await db.close();
  });

  it("a batch of jobs costs BEGIN and COMMIT only; a failing job makes the batch run again with savepoints", async () => {
    const db = await open();
    await db.write((tx) => tx.run("INSERT INTO kv VALUES ('seed', 0)"));
    const idle = () => new Promise((r) => setImmediate(r)); // the writer's drain loop has ended
    await idle();
    // hold the writer with a slow job so the next ones queue into one batch
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const holder = db.write(async (tx) => {
      await gate;
      return tx.run("INSERT INTO kv VALUES ('holder', 0)");
    });
    const s0 = { ...db.stats };
    const ok = Array.from({ length: 6 }, (_, i) =>
      db.write((tx) => tx.run("INSERT INTO kv VALUES (?, ?)", [`ok${i}`, i])),
    );
    release();
    await holder;
    await Promise.all(ok);
    // the holder alone (BEGIN, INSERT, COMMIT), then the six in one batch: BEGIN, 6 INSERTs, COMMIT
    expect(db.stats.writerCalls - s0.writerCalls).toBe(3 + 8);
    expect(db.stats.commits - s0.commits).toBe(2);

    // a batch with a failing job: the plain run is rolled back whole and the batch runs again with
    // savepoints; the failing job fails alone, its neighbours commit once, each ran at most twice
    await idle();
    let release2!: () => void;
    const gate2 = new Promise<void>((r) => {
      release2 = r;
    });
    const holder2 = db.write(async () => {
      await gate2;
    });
    const runs = new Map<string, number>();
    const job = (k: string, fail: boolean) =>
      db.write(async (tx) => {
        runs.set(k, (runs.get(k) ?? 0) + 1);
        await tx.run("INSERT INTO kv VALUES (?, 1)", [k]);
        if (fail) throw new ApplianceError("conflict", `${k} refuses`);
        return k;
      });
    const settled = Promise.allSettled([job("p", false), job("q", true), job("r", false)]);
    release2();
    await holder2;
    const [p, q, r] = await settled;
    expect(p).toEqual({ status: "fulfilled", value: "p" });
    expect(q.status).toBe("rejected");
    expect((q as PromiseRejectedResult).reason).toMatchObject({ kind: "conflict", message: "q refuses" });
    expect(r).toEqual({ status: "fulfilled", value: "r" });
    // p and q ran in the plain run (q failed there, r never started), then all three with savepoints
    expect(Object.fromEntries(runs)).toEqual({ p: 2, q: 2, r: 1 });
    expect(await db.all("SELECT k FROM kv WHERE k IN ('p', 'q', 'r') ORDER BY k")).toEqual([{ k: "p" }, { k: "r" }]);
    await db.close();
  });
});
