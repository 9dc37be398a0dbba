// Audit coverage of the CA on SoftHSM + sqlite: a restart with a changed policy appends config.changed
// (linking the previous hash), an unchanged restart none; the periodic checkpoint timer signs a
// checkpoint that `plantroot audit verify` accepts with the pinned audit key.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../appliance/audit/index.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { type CaFixture, caFixture, TEST_NAMES } from "../helpers/ca-fixture.js";

let f: CaFixture;
beforeAll(async () => {
  f = await caFixture();
});
afterAll(async () => {
  await f.close();
});

function auditVerify(db: string, key: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile("node", ["bin/plantroot.mjs", "audit", "verify", "--db", db, "--key", key], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

async function configChanges(db: Db): Promise<Array<{ seq: number; hash: string; previous: string | null }>> {
  const rows = await db.all<{ seq: number; details: string }>(
    "SELECT seq, details FROM audit_log WHERE type = 'config.changed' ORDER BY seq",
  );
  return rows.map((r) => {
    const d = JSON.parse(r.details) as { hash: string; previous: string | null };
    return { seq: r.seq, hash: d.hash, previous: d.previous };
  });
}

const count = async (db: Db, type: string) =>
  (await db.get<{ n: number }>("SELECT count(*) AS n FROM audit_log WHERE type = ?", [type]))!.n;

describe("config.changed on restart", () => {
  it("an unchanged restart appends none; a changed policy appends one naming the previous hash", async () => {
    const first = await configChanges(f.db);
    expect(first).toHaveLength(1);
    expect(first[0]!.previous).toBeNull();
    const started = await count(f.db, "ca.started");
    await f.ca.close();

    // same configuration: started again, no config.changed
    const same = await createCa({ config: f.boot.config, token: f.token, db: f.db });
    await same.close();
    expect(await configChanges(f.db)).toEqual(first);
    expect(await count(f.db, "ca.started")).toBe(started + 1);

    // a narrower policy: one config.changed linking the previous hash, with the new policy in it
    const changed = await createCa({
      config: { ...f.boot.config, policy: { ...TEST_NAMES, excludedDns: ["bad.plant.example", "old.plant.example"] } },
      token: f.token,
      db: f.db,
    });
    await changed.close();
    const after = await configChanges(f.db);
    expect(after).toHaveLength(2);
    expect(after[1]!.previous).toBe(first[0]!.hash);
    expect(after[1]!.hash).not.toBe(first[0]!.hash);
    const details = JSON.parse(
      (await f.db.get<{ details: string }>("SELECT details FROM audit_log WHERE seq = ?", [after[1]!.seq]))!.details,
    );
    expect(details.config.policy.excludedDns).toEqual(["bad.plant.example", "old.plant.example"]);

    // restarting with the changed policy again: nothing new; going back is a change again
    const again = await createCa({
      config: { ...f.boot.config, policy: { ...TEST_NAMES, excludedDns: ["bad.plant.example", "old.plant.example"] } },
      token: f.token,
      db: f.db,
    });
    await again.close();
    expect(await configChanges(f.db)).toHaveLength(2);
    const back = await createCa({ config: f.boot.config, token: f.token, db: f.db });
    await back.close();
    const last = await configChanges(f.db);
    expect(last).toHaveLength(3);
    expect(last[2]).toMatchObject({ hash: first[0]!.hash, previous: after[1]!.hash });

    const v = await auditVerify(f.dbPath, f.boot.paths.auditKey);
    expect(v.out).toMatch(/audit chain OK/);
    expect(v.code).toBe(0);
  });
});

describe("periodic checkpoints", () => {
  it("the timer signs a checkpoint over the head; plantroot audit verify accepts it", async () => {
    const path = join(f.dir, "timer.db");
    const db = await Db.open(path, { migrations: MIGRATIONS });
    const log = new AuditLog(db, f.boot.keys.audit, { checkpointEverySeconds: 0.2 });
    const checkpoints = async () =>
      db.all<{ size: number; head_hash: string }>("SELECT size, head_hash FROM audit_checkpoints ORDER BY size");
    try {
      for (let i = 1; i <= 5; i++)
        await log.append({ type: "test.event", actor: "tester", subject: `thing:${i}`, details: { i } });
      expect(await checkpoints()).toEqual([]);
      log.start();
      const deadline = Date.now() + 10_000;
      while (!(await checkpoints()).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const head = (await db.get<{ seq: number; hash: string }>(
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
      ))!;
      expect(await checkpoints()).toEqual([{ size: 5, head_hash: head.hash }]);
      // more entries: the next tick covers them too
      await log.append({ type: "test.event", actor: "tester", subject: "thing:6", details: {} });
      while ((await checkpoints()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await checkpoints()).map((c) => c.size)).toEqual([5, 6]);
    } finally {
      await log.stop(); // nothing new to sign: adds no checkpoint
      await db.close();
    }
    const v = await auditVerify(path, f.boot.paths.auditKey);
    expect(v.out).toMatch(/entries: 6, checkpoints: 2/);
    expect(v.out).toMatch(/audit chain OK/);
    expect(v.code).toBe(0);
  });
});
