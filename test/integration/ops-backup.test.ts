// plantroot backup / restore / status (cli/commands, cli/ops/backup.ts) against a real CA issuing
// under load in another process (SoftHSM + sqlite): a backup taken mid-load holds every certificate
// acknowledged before it started, passes integrity_check and the audit-chain verifier; restore refuses
// a database in use, a newer one, a damaged backup and one from a newer Plantroot.
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Db } from "../../appliance/store/db.js";
import { integrityCheck } from "../../appliance/store/maintenance.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { readBackup, restoreBackup } from "../../cli/ops/backup.js";
import { loadConfig } from "../../cli/ops/config-file.js";

const REPO = join(import.meta.dirname, "../..");
const root = mkdtempSync(join(tmpdir(), "ops-backup-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

/** Runs the plantroot CLI (a separate process, as plant IT would) and collects its output. */
function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(REPO, "bin/plantroot.mjs"), ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => {
      stdout += d;
    });
    p.stderr.on("data", (d) => {
      stderr += d;
    });
    p.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

interface Ready {
  dbPath: string;
  dir: string;
  root: string;
  issuing: string;
  softhsm: string;
}

/** Starts a CA issuing under load in its own process; tracks acknowledged serials and their ack times. */
async function startLoad() {
  const acked = new Map<string, number>();
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/load-writer.ts"], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  let ready!: (r: Ready) => void;
  const readyP = new Promise<Ready>((r) => {
    ready = r;
  });
  let buf = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const l of lines) {
      if (l.startsWith("ready ")) ready(JSON.parse(l.slice(6)) as Ready);
      else {
        const [serial, t] = l.split(" ");
        acked.set(serial!, Number(t));
      }
    }
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const until = async (pred: () => boolean) => {
    const deadline = Date.now() + 60_000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error("the CA under load made no progress");
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { child, acked, exited, until, ready: await readyP };
}

function writeConfig(name: string, r: Ready, token = "ca-1"): string {
  const etc = join(root, name);
  mkdirSync(join(etc, "credentials"), { recursive: true });
  writeFileSync(join(etc, "credentials", "hsm-pin"), "1234", { mode: 0o600 });
  const path = join(etc, "config.json");
  writeFileSync(
    path,
    JSON.stringify({
      dataDir: r.dir, // the CA fixture's database is <dir>/plantroot.db, where the appliance keeps it
      hsm: { library: "/usr/lib/softhsm/libsofthsm2.so", token, pin: { file: join(etc, "credentials", "hsm-pin") } },
      ca: { certificates: { root: r.root, issuing: r.issuing } },
    }),
  );
  chmodSync(path, 0o640);
  return path;
}

describe("backup and restore of a CA issuing under load", () => {
  it("backup mid-load holds every certificate acknowledged before it started; restore is guarded", async () => {
    const load = await startLoad();
    const config = writeConfig("live", load.ready);
    await load.until(() => load.acked.size >= 300);

    const t0 = Date.now();
    const ackedBefore = [...load.acked].filter(([, t]) => t <= t0).map(([s]) => s);
    const backup = await cli(["backup", "--config", config, "--out", join(root, "backups")], {
      SOFTHSM2_CONF: load.ready.softhsm,
    });
    expect(backup.stderr).toMatch(/snapshot at/);
    expect(backup.code).toBe(0);
    const dir = backup.stdout.trim();
    const atEnd = load.acked.size;
    await load.until(() => load.acked.size >= atEnd + 200); // the CA kept issuing through the backup

    const manifest = readBackup(dir);
    expect(Date.parse(manifest.startedAt)).toBeGreaterThanOrEqual(t0);
    expect(manifest.database.migrations).toEqual(MIGRATIONS.map((m) => m.id));
    const copy = join(dir, manifest.database.file);
    expect(await integrityCheck(copy)).toEqual(["ok"]);
    const db = await Db.openReadOnly(copy, { migrations: MIGRATIONS });
    const issued = new Set(
      (
        await db.all<{ serial: string }>(
          "SELECT serial FROM ca_certificates WHERE status = 'issued' AND der IS NOT NULL",
        )
      ).map((r) => r.serial),
    );
    await db.close();
    expect(ackedBefore.length).toBeGreaterThanOrEqual(300);
    expect(ackedBefore.filter((s) => !issued.has(s))).toEqual([]);
    expect(issued.size).toBeLessThan(load.acked.size); // a snapshot, taken while issuing went on
    // the audit chain in the copy is whole (a torn copy would break its hash links)
    const audit = await cli(["audit", "verify", "--db", copy]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
    // configuration came along, the PIN did not
    const files = manifest.config.map((c) => c.file);
    expect(files[0]).toBe("config/config.json");
    expect(files.slice(1)).toEqual([expect.stringMatching(/^config\/external\/.*\/softhsm2\.conf$/)]);
    expect(JSON.stringify(manifest)).not.toContain("hsm-pin");

    // status of the running appliance: CA certificates with expiry, HSM reachable, issued counts
    const st = await cli(["status", "--config", config, "--json"], { SOFTHSM2_CONF: load.ready.softhsm });
    const status = JSON.parse(st.stdout);
    expect(status.hsm.reachable).toBe(true);
    expect(status.ca.initialised).toBe(true);
    expect(status.ca.certificates.map((c: { role: string }) => c.role)).toEqual(["root", "issuing"]);
    expect(status.ca.certificates[1].daysLeft).toBeGreaterThan(300);
    expect(status.ca.issued.total).toBeGreaterThan(300);
    expect(status.database.bytes).toBeGreaterThan(0);

    // restore refuses while the CA has the database open
    const busy = await cli(["restore", "--config", config, "--from", dir, "--force"]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/in use by another process .*stop it first/);
    load.child.kill("SIGTERM");
    expect(await load.exited).toBe(0);
    // once stopped, it refuses to overwrite a database written after the backup, unless --force
    const newer = await cli(["restore", "--config", config, "--from", dir]);
    expect(newer.code).toBe(1);
    expect(newer.stderr).toMatch(/after this backup .* --force/);
    const forced = await cli(["restore", "--config", config, "--from", dir, "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    const previous = forced.stdout.match(/previous database kept as (\S+)/)![1]!;

    expect(await integrityCheck(load.ready.dbPath)).toEqual(["ok"]);
    const restored = await Db.open(load.ready.dbPath, { migrations: MIGRATIONS });
    const n = (await restored.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates WHERE status = 'issued'"))!
      .n;
    expect(n).toBe(issued.size);
    await restored.close();
    expect((await cli(["audit", "verify", "--db", load.ready.dbPath])).code).toBe(0);
    // the replaced database is kept whole: everything the CA acknowledged is in it
    const prev = await Db.openReadOnly(previous, { migrations: MIGRATIONS });
    const all = (await prev.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates WHERE status = 'issued'"))!.n;
    expect(all).toBe(load.acked.size);
    await prev.close();

    // a version of Plantroot that does not know the backup's migrations refuses it
    const cfg = loadConfig(config);
    await expect(restoreBackup(cfg, dir, { migrations: [], force: true })).rejects.toThrow(/newer version/);
    // one byte appended to the database copy: refused by checksum before anything is touched
    appendFileSync(copy, Buffer.from([0]));
    const damaged = await cli(["restore", "--config", config, "--from", dir, "--force"]);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toMatch(/damaged/);
    expect(readFileSync(join(dir, "manifest.json"), "utf8")).toContain(manifest.database.sha256);
  }, 120_000);
});
