// The audit chain on a real sqlite file with an HSM checkpoint key: append-only triggers, and the
// offline verifier (library and `plantroot audit verify`) naming the first broken entry after
// editing, deleting, reordering, truncating, rewriting or forging.
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sqlite3 from "sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog, entryHash, verifyAuditChain } from "../../appliance/audit/index.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { openReadOnly } from "../../appliance/store/readonly.js";
import { HsmToken } from "../../hsm/index.js";
import { testSoftHsm } from "../helpers/softhsm.js";

const sh = testSoftHsm();
sh.createToken("audit", "1234");
const token = HsmToken.open({ label: "audit", pin: { value: "1234" } });
const key = token.generateKeyPair({ label: "audit-checkpoints", spec: "P-256" });
const dir = mkdtempSync(join(tmpdir(), "audit-"));
const keyPem = join(dir, "audit-key.pem");
writeFileSync(keyPem, key.publicKey.export({ type: "spki", format: "pem" }));
const master = join(dir, "master.db");

beforeAll(async () => {
  const db = await Db.open(master, { migrations: MIGRATIONS });
  const log = new AuditLog(db, key);
  for (let i = 1; i <= 6; i++)
    await log.append({
      type: "test.event",
      actor: "tester",
      subject: `thing:${i}`,
      details: { i, note: `entry ${i}` },
    });
  await log.checkpoint(); // size 6
  // several in one transaction, as the CA does with a record and its entries
  await db.write((tx) =>
    log.appendTx(tx, [
      { type: "test.event", actor: "tester", subject: "thing:7", details: { i: 7 } },
      { type: "config.changed", actor: "officer:alice", subject: "config:ca", details: { policy: { a: 1 } } },
    ]),
  );
  await log.append({ type: "certificate.revoked", actor: "tester", subject: "certificate:01", details: { reason: 1 } });
  await log.append({ type: "test.event", actor: "tester", subject: "thing:10", details: {} });
  await log.stop(); // final checkpoint at size 10
  await db.close();
});
afterAll(() => {
  token.close();
  sh.cleanup();
});

/** A copy of the intact database, tampered with by `sql` the way someone with file access could. */
async function tampered(name: string, sql: string): Promise<string> {
  const p = join(dir, `${name}.db`);
  copyFileSync(master, p);
  const conn = await new Promise<sqlite3.Database>((res, rej) => {
    const c = new sqlite3.Database(p, (e) => (e ? rej(e) : res(c)));
  });
  await new Promise<void>((res, rej) =>
    conn.exec(
      `DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_checkpoints_no_update; DROP TRIGGER audit_checkpoints_no_delete; ${sql}`,
      (e) => (e ? rej(e) : res()),
    ),
  );
  await new Promise<void>((res) => conn.close(() => res()));
  return p;
}

async function verify(path: string, pinned = true) {
  const q = await openReadOnly(path);
  try {
    return await verifyAuditChain(q, pinned ? { trustedKey: key.publicKey } : {});
  } finally {
    await q.close();
  }
}

function cli(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile("node", ["bin/plantroot.mjs", "audit", ...args], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

describe("audit chain", () => {
  it("an intact chain verifies: every entry, every checkpoint (pinned key)", async () => {
    const r = await verify(master);
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ ok: true, entries: 10, checkpoints: 2, signedSize: 10, unsignedTail: 0 });
    const c = await cli(["verify", "--db", master, "--key", keyPem]);
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/entries: 10, checkpoints: 2/);
    expect(c.out).toMatch(/audit chain OK/);
  });

  it("appends chain after the real head when the remembered one was rolled back or another writer moved it", async () => {
    const p = join(dir, "heads.db");
    const db = await Db.open(p, { migrations: MIGRATIONS });
    try {
      const a = new AuditLog(db, key);
      const b = new AuditLog(db, key);
      const ev = (i: number) => ({ type: "test.event", actor: "tester", subject: `thing:${i}`, details: { i } });
      const calls = async (f: () => Promise<unknown>) => {
        const before = db.stats.writerCalls;
        await f();
        return db.stats.writerCalls - before;
      };
      // BEGIN, read the head, insert, COMMIT
      expect(await calls(() => a.append(ev(1)))).toBe(4);
      // a remembers its own head: the insert checks it in the same statement, no read
      expect(await calls(() => a.append(ev(2)))).toBe(3);
      await b.append(ev(3)); // another writer moves the head past what a remembers
      // the checked insert inserts nothing; a reads the head and chains after it
      expect(await calls(() => a.append(ev(4)))).toBe(5);
      // a's entry rolled back with its transaction: a remembers a head that is not in the table
      await expect(
        db.write(async (tx) => {
          await a.appendTx(tx, [ev(5)]);
          throw new Error("the caller's change failed");
        }),
      ).rejects.toThrow(/caller's change failed/);
      await db.write((tx) => a.appendTx(tx, [ev(6), ev(7)]));
      await b.append(ev(8));
      const rows = await db.all<{ seq: number; subject: string }>("SELECT seq, subject FROM audit_log ORDER BY seq");
      expect(rows.map((r) => r.subject)).toEqual([1, 2, 3, 4, 6, 7, 8].map((i) => `thing:${i}`));
      expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await db.close();
    }
    const r = await verify(p, false);
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ ok: true, entries: 7 });
  });

  it("the database refuses UPDATE and DELETE on entries", async () => {
    const db = await Db.open(master, { migrations: MIGRATIONS });
    try {
      await expect(db.write((tx) => tx.run("UPDATE audit_log SET actor = 'x' WHERE seq = 1"))).rejects.toThrow(
        /append-only/,
      );
      await expect(db.write((tx) => tx.run("DELETE FROM audit_log WHERE seq = 10"))).rejects.toThrow(/append-only/);
    } finally {
      await db.close();
    }
  });

  it("edit: names the modified entry", async () => {
    const p = await tampered(
      "edit",
      `UPDATE audit_log SET details = '{"i":5,"note":"nothing happened"}' WHERE seq = 5;`,
    );
    const r = await verify(p);
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ at: 5, what: "entry" });
    expect(r.problems[0]!.reason).toMatch(/entry 5 was modified/);
    const c = await cli(["verify", "--db", p, "--key", keyPem]);
    expect(c.code).toBe(1);
    expect(c.out).toMatch(/audit chain BROKEN: first broken entry 5: entry 5 was modified/);
  });

  it("delete: names the missing entry", async () => {
    const r = await verify(await tampered("delete", "DELETE FROM audit_log WHERE seq = 4;"));
    expect(r.problems[0]).toMatchObject({ at: 4, what: "entry" });
    expect(r.problems[0]!.reason).toMatch(/entry 4 is missing/);
  });

  it("reorder: swapping two entries breaks the link at the first of them", async () => {
    const swap = `
      CREATE TEMP TABLE t AS SELECT * FROM audit_log WHERE seq IN (3, 4);
      UPDATE audit_log SET time=(SELECT time FROM t WHERE seq=4), type=(SELECT type FROM t WHERE seq=4), actor=(SELECT actor FROM t WHERE seq=4), subject=(SELECT subject FROM t WHERE seq=4), details=(SELECT details FROM t WHERE seq=4), prev_hash=(SELECT prev_hash FROM t WHERE seq=4), hash=(SELECT hash FROM t WHERE seq=4) WHERE seq=3;
      UPDATE audit_log SET time=(SELECT time FROM t WHERE seq=3), type=(SELECT type FROM t WHERE seq=3), actor=(SELECT actor FROM t WHERE seq=3), subject=(SELECT subject FROM t WHERE seq=3), details=(SELECT details FROM t WHERE seq=3), prev_hash=(SELECT prev_hash FROM t WHERE seq=3), hash=(SELECT hash FROM t WHERE seq=3) WHERE seq=4;`;
    const r = await verify(await tampered("reorder", swap));
    expect(r.problems[0]).toMatchObject({ at: 3, what: "entry" });
    expect(r.problems[0]!.reason).toMatch(/does not link to entry 2/);
  });

  it("truncation after a checkpoint: the signed checkpoint shows entries were removed", async () => {
    const r = await verify(await tampered("truncate", "DELETE FROM audit_log WHERE seq >= 9;"));
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ at: 10, what: "checkpoint" });
    expect(r.problems[0]!.reason).toMatch(/signed 10 entries but the log has 8/);
  });

  it("a rewrite that recomputes every hash after an edit is caught by the signed checkpoint", async () => {
    // do what an attacker with file access but no HSM can do: edit entry 8 and re-chain 8..10
    const p = join(dir, "rewrite.db");
    copyFileSync(master, p);
    const q = await openReadOnly(p);
    const rows = await q.all<Record<string, unknown> & { seq: number; prev_hash: string; hash: string }>(
      "SELECT * FROM audit_log ORDER BY seq",
    );
    await q.close();
    let prev = rows[6]!.hash;
    const updates: string[] = [];
    for (const r of rows.slice(7)) {
      const e = { ...r, prev_hash: prev, details: r.seq === 8 ? '{"reason":0}' : (r.details as string) } as never;
      const h = entryHash(e);
      updates.push(
        `UPDATE audit_log SET details='${(e as { details: string }).details}', prev_hash='${prev}', hash='${h}' WHERE seq=${r.seq};`,
      );
      prev = h;
    }
    const r = await verify(await tampered("rewrite2", updates.join("\n")));
    expect(r.problems.filter((x) => x.what === "entry")).toEqual([]);
    expect(r.problems[0]).toMatchObject({ at: 10, what: "checkpoint" });
    expect(r.problems[0]!.reason).toMatch(/rewritten/);
  });

  it("a checkpoint re-signed with another key fails against the pinned key", async () => {
    const { generateKeyPairSync, sign } = await import("node:crypto");
    const { checkpointStatement } = await import("../../appliance/audit/index.js");
    const evil = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const q = await openReadOnly(master);
    const cp = (await q.get<{ size: number; head_hash: string; time: string }>(
      "SELECT size, head_hash, time FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
    ))!;
    await q.close();
    const sig = sign("sha256", checkpointStatement(cp.size, cp.head_hash, cp.time), evil.privateKey).toString("hex");
    const spki = (evil.publicKey.export({ type: "spki", format: "der" }) as Buffer).toString("hex");
    const p = await tampered(
      "forge",
      `UPDATE audit_checkpoints SET signature = x'${sig}', key_spki = x'${spki}' WHERE size = ${cp.size};`,
    );
    const pinned = await verify(p, true);
    expect(pinned.problems[0]).toMatchObject({ at: 10, what: "checkpoint" });
    expect(pinned.problems[0]!.reason).toMatch(/does not verify with the trusted key/);
    // unpinned, the verifier cannot know, so it reports both keys for a human to compare
    const unpinned = await verify(p, false);
    expect(unpinned.checkpointKeys).toHaveLength(2);
  });
});
