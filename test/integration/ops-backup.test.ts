// plantroot backup/restore (cli/ops/backup.ts) against a real, busy sqlite database: a backup taken
// while another process commits under load holds every write acknowledged before it started, passes
// integrity_check, and restore refuses a database in use, a newer one, and a damaged backup.
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Db } from "../../appliance/store/db.js";
import { integrityCheck } from "../../appliance/store/maintenance.js";
import { createBackup, readBackup, restoreBackup } from "../../cli/ops/backup.js";
import { loadConfig } from "../../cli/ops/config-file.js";
import { LOAD_MIGRATIONS } from "../fixtures/load-schema.js";

const root = mkdtempSync(join(tmpdir(), "ops-backup-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

function appliance(name: string) {
  const etc = join(root, name, "etc");
  const data = join(root, name, "data");
  mkdirSync(join(etc, "credentials"), { recursive: true });
  mkdirSync(data, { recursive: true });
  writeFileSync(join(etc, "credentials", "hsm-pin"), "123456", { mode: 0o600 });
  writeFileSync(join(etc, "softhsm2.conf"), `directories.tokendir = ${data}\n`);
  const cfg = {
    dataDir: data,
    hsm: {
      library: "/usr/lib/softhsm/libsofthsm2.so",
      token: "plantroot",
      pin: `file:${join(etc, "credentials", "hsm-pin")}`,
      softhsmConf: join(etc, "softhsm2.conf"),
    },
  };
  writeFileSync(join(etc, "config.json"), JSON.stringify(cfg));
  chmodSync(join(etc, "config.json"), 0o640);
  return loadConfig(join(etc, "config.json"));
}

/** Starts the load writer; resolves acknowledged writes as they arrive: id -> ack time (ms). */
function startLoad(dbPath: string) {
  const acked = new Map<number, number>();
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/load-writer.ts", dbPath], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  let buf = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const l of lines) {
      const [id, t] = l.split(" ").map(Number);
      acked.set(id!, t!);
    }
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const until = async (pred: () => boolean) => {
    const deadline = Date.now() + 30_000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error("load writer made no progress");
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { child, acked, exited, until };
}

describe("backup and restore under load", () => {
  const live = appliance("live");

  it("a backup taken while another process commits holds every write acknowledged before it started", async () => {
    const load = startLoad(live.database);
    await load.until(() => load.acked.size >= 2000);
    const t0 = Date.now();
    const ackedBefore = [...load.acked].filter(([, t]) => t < t0).map(([id]) => id);
    const { dir, manifest } = await createBackup(live, join(root, "backups"), LOAD_MIGRATIONS);
    const sizeAtEnd = load.acked.size;
    await load.until(() => load.acked.size >= sizeAtEnd + 500); // still issuing after the backup
    expect(Date.parse(manifest.startedAt)).toBeGreaterThanOrEqual(t0);

    // the copy is sound and self-contained, and checks out against its manifest
    expect(readBackup(dir).database.sha256).toBe(manifest.database.sha256);
    const copy = join(dir, manifest.database.file);
    expect(await integrityCheck(copy)).toEqual(["ok"]);
    const db = await Db.openReadOnly(copy, { migrations: LOAD_MIGRATIONS });
    const ids = new Set((await db.all<{ id: number }>("SELECT id FROM load_certificates")).map((r) => r.id));
    await db.close();
    const missing = ackedBefore.filter((id) => !ids.has(id));
    expect(missing).toEqual([]);
    expect(ackedBefore.length).toBeGreaterThanOrEqual(2000);
    // a snapshot, not a torn copy: no row beyond what was committed when it ended
    expect(ids.size).toBeLessThan(load.acked.size);
    // the configuration came along, the PIN did not
    expect(manifest.config.map((c) => c.file).sort()).toEqual(["config/config.json", "config/softhsm2.conf"]);
    expect(JSON.stringify(manifest)).not.toContain("hsm-pin");

    // restore refuses while the database is in use by the running writer
    await expect(restoreBackup(live, dir, { migrations: LOAD_MIGRATIONS, force: true })).rejects.toThrow(
      /in use by another process/,
    );
    load.child.kill("SIGTERM");
    expect(await load.exited).toBe(0);
    // ... and, once stopped, refuses to overwrite a database written after the backup without --force
    await expect(restoreBackup(live, dir, { migrations: LOAD_MIGRATIONS })).rejects.toThrow(/after this backup/);
    const r = await restoreBackup(live, dir, { migrations: LOAD_MIGRATIONS, force: true });
    expect(r.previous).toMatch(/\.pre-restore-/);
    expect(await integrityCheck(live.database)).toEqual(["ok"]);
    const restored = await Db.open(live.database, { migrations: LOAD_MIGRATIONS });
    const n = (await restored.get<{ n: number }>("SELECT count(*) AS n FROM load_certificates"))!.n;
    expect(n).toBe(ids.size);
    await restored.close();
    // the replaced database is kept intact aside
    const prev = await Db.openReadOnly(r.previous!, { migrations: LOAD_MIGRATIONS });
    expect((await prev.get<{ n: number }>("SELECT count(*) AS n FROM load_certificates"))!.n).toBe(load.acked.size);
    await prev.close();
  });

  it("restore into a fresh appliance; refuses damaged backups and backups from a newer Plantroot", async () => {
    const src = appliance("src");
    const db = await Db.open(src.database, { migrations: LOAD_MIGRATIONS });
    await db.write((tx) => tx.run("INSERT INTO load_certificates (id, serial, der) VALUES (1, '01', x'00')"));
    await db.close();
    const { dir } = await createBackup(src, join(root, "backups2"), LOAD_MIGRATIONS);

    const fresh = appliance("fresh");
    await restoreBackup(fresh, dir, { migrations: LOAD_MIGRATIONS });
    const back = await Db.openReadOnly(fresh.database, { migrations: LOAD_MIGRATIONS });
    expect(await back.get("SELECT serial FROM load_certificates WHERE id = 1")).toEqual({ serial: "01" });
    await back.close();

    // a version of Plantroot that does not know the backup's migrations refuses it
    const other = appliance("older");
    await expect(restoreBackup(other, dir, { migrations: [] })).rejects.toThrow(/newer version/);

    // one flipped byte in the database copy: refused by checksum before anything is touched
    const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    appendFileSync(join(dir, m.database.file), Buffer.from([0]));
    await expect(restoreBackup(other, dir, { migrations: LOAD_MIGRATIONS })).rejects.toThrow(/damaged/);
  });
});
