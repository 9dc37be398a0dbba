// Backup and restore of an appliance: a consistent online copy of the database (SQLite's backup API
// through Db.backup) plus the configuration files, with a manifest of checksums; restore refuses
// a database in use, one newer than the backup, a backup from a newer Plantroot and a corrupt copy.
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { ApplianceError } from "../../appliance/errors.js";
import { Db } from "../../appliance/store/db.js";
import { integrityCheck, takeOffline, toSingleFile } from "../../appliance/store/maintenance.js";
import { MIGRATIONS, type Migration } from "../../appliance/store/migrations/index.js";
import { CliError } from "../cli-error.js";
import { type OpsConfig, pinFile } from "./config-file.js";
import { plantrootVersion } from "./version.js";

export const MANIFEST = "manifest.json";
const FORMAT = "plantroot-backup/1";

export interface BackupManifest {
  format: typeof FORMAT;
  plantrootVersion: string;
  host: string;
  /** when the backup began: every write acknowledged before this instant is in the copy */
  startedAt: string;
  finishedAt: string;
  database: { file: string; source: string; sha256: string; bytes: number; migrations: string[] };
  config: Array<{ file: string; source: string; sha256: string; mode: number }>;
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Files of the config directory that belong in a backup (never credentials: the HSM PIN), plus SoftHSM's config. */
export function configFiles(cfg: OpsConfig): string[] {
  const secret = new Set<string>();
  const pin = pinFile(cfg.hsm.pin);
  if (pin) secret.add(resolve(pin));
  if ("file" in cfg.hsm.pin) secret.add(resolve(cfg.hsm.pin.file));
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        if (name !== "credentials") walk(p);
      } else if (st.isFile() && !secret.has(p)) out.push(p);
    }
  };
  walk(cfg.dir);
  const softhsm = process.env.SOFTHSM2_CONF;
  if (softhsm && existsSync(softhsm) && !out.includes(resolve(softhsm)) && !secret.has(resolve(softhsm)))
    out.push(resolve(softhsm));
  return out;
}

/**
 * Writes `<outDir>/plantroot-backup-<UTC time>/` (0700) with db/plantroot.db, config/…, manifest.json.
 * Safe while the appliance runs and issues: the copy is one SQLite read transaction.
 */
export async function createBackup(
  cfg: OpsConfig,
  outDir: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<{ dir: string; manifest: BackupManifest }> {
  const started = new Date();
  const stamp = started
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const dir = resolve(outDir, `plantroot-backup-${stamp}`);
  if (existsSync(dir)) throw new CliError(`${dir} already exists`, 1);
  mkdirSync(join(dir, "db"), { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const dbFile = join(dir, "db", "plantroot.db");
  try {
    const db = await Db.openReadOnly(cfg.database, { migrations });
    let applied: string[];
    try {
      await db.backup(dbFile);
      applied = (await db.all<{ id: string }>("SELECT id FROM schema_migrations ORDER BY rowid")).map((r) => r.id);
    } finally {
      await db.close();
    }
    await toSingleFile(dbFile);
    chmodSync(dbFile, 0o600);
    const check = await integrityCheck(dbFile);
    if (check.join() !== "ok") throw new CliError(`backup copy failed integrity_check: ${check.join("; ")}`, 1);

    const config: BackupManifest["config"] = [];
    for (const src of configFiles(cfg)) {
      const rel = src.startsWith(cfg.dir + sep) ? relative(cfg.dir, src) : join("external", src.replace(/^\//, ""));
      const dst = join(dir, "config", rel);
      mkdirSync(dirname(dst), { recursive: true, mode: 0o700 });
      copyFileSync(src, dst);
      chmodSync(dst, 0o600);
      config.push({ file: relative(dir, dst), source: src, sha256: sha256(dst), mode: statSync(src).mode & 0o7777 });
    }
    const manifest: BackupManifest = {
      format: FORMAT,
      plantrootVersion: plantrootVersion(),
      host: hostname(),
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      database: {
        file: relative(dir, dbFile),
        source: cfg.database,
        sha256: sha256(dbFile),
        bytes: statSync(dbFile).size,
        migrations: applied,
      },
      config,
    };
    writeFileSync(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    for (const f of [dbFile, ...config.map((c) => join(dir, c.file)), join(dir, MANIFEST)]) fsyncPath(f);
    fsyncPath(dir);
    return { dir, manifest };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Reads a backup's manifest and checks every file against its checksum. */
export function readBackup(dir: string): BackupManifest {
  const path = join(dir, MANIFEST);
  let m: BackupManifest;
  try {
    m = JSON.parse(readFileSync(path, "utf8")) as BackupManifest;
  } catch (e) {
    throw new CliError(`${path}: not a Plantroot backup (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`, 1);
  }
  if (m.format !== FORMAT) throw new CliError(`${path}: unknown backup format ${String(m.format)}`, 1);
  for (const f of [m.database, ...m.config]) {
    const p = resolve(dir, f.file);
    if (!p.startsWith(resolve(dir) + sep)) throw new CliError(`${path}: file outside the backup: ${f.file}`, 1);
    if (!existsSync(p)) throw new CliError(`backup is incomplete: ${f.file} is missing`, 1);
    if (sha256(p) !== f.sha256) throw new CliError(`backup is damaged: ${f.file} does not match its checksum`, 1);
  }
  return m;
}

export interface RestoreOptions {
  /** overwrite a database that was written after the backup was taken */
  force?: boolean;
  /** also put the configuration files back (the current ones are kept as *.pre-restore-<time>) */
  withConfig?: boolean;
  migrations?: readonly Migration[];
}

export interface RestoreResult {
  database: string;
  /** where the replaced database went, if there was one */
  previous?: string;
  config: string[];
}

/** Restores a backup made by createBackup into the paths the config names. The appliance must be stopped. */
export async function restoreBackup(cfg: OpsConfig, from: string, opts: RestoreOptions = {}): Promise<RestoreResult> {
  const dir = resolve(from);
  const m = readBackup(dir);
  const src = resolve(dir, m.database.file);
  // written by a newer Plantroot (migrations this version does not know): refused here
  const probe = await Db.openReadOnly(src, { migrations: opts.migrations ?? MIGRATIONS });
  await probe.close();
  const check = await integrityCheck(src);
  if (check.join() !== "ok") throw new CliError(`backup database fails integrity_check: ${check.join("; ")}`, 1);

  const target = cfg.database;
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const result: RestoreResult = { database: target, config: [] };
  mkdirSync(dirname(target), { recursive: true });
  const owner = statSync(dirname(target));

  if (existsSync(target)) {
    const newest = Math.max(...[target, `${target}-wal`].filter((p) => existsSync(p)).map((p) => statSync(p).mtimeMs));
    if (newest > Date.parse(m.startedAt) && !opts.force)
      throw new CliError(
        `${target} was written at ${new Date(newest).toISOString()}, after this backup (${m.startedAt}): restoring would lose those records. Use --force to restore anyway (the current database is kept aside).`,
        1,
      );
    try {
      await takeOffline(target);
    } catch (e) {
      if (e instanceof ApplianceError && e.kind === "conflict")
        throw new CliError(`${e.message}: stop it first (systemctl stop plantroot)`, 1);
      throw e;
    }
    result.previous = `${target}.pre-restore-${stamp}`;
    renameSync(target, result.previous);
  }
  for (const side of [`${target}-wal`, `${target}-shm`, `${target}-journal`]) rmSync(side, { force: true });

  const tmp = `${target}.restore-tmp`;
  copyFileSync(src, tmp);
  fsyncPath(tmp);
  const again = await integrityCheck(tmp);
  if (again.join() !== "ok") {
    rmSync(tmp, { force: true });
    throw new CliError(`restored copy fails integrity_check: ${again.join("; ")}`, 1);
  }
  chmodSync(tmp, 0o600);
  if (process.getuid?.() === 0) chownSync(tmp, owner.uid, owner.gid); // the service user owns its data
  renameSync(tmp, target);
  fsyncPath(dirname(target));

  if (opts.withConfig) {
    for (const c of m.config) {
      const dst = c.source;
      let own = { uid: 0, gid: 0 };
      if (existsSync(dst)) {
        if (sha256(dst) === c.sha256) continue;
        own = statSync(dst);
        renameSync(dst, `${dst}.pre-restore-${stamp}`);
      } else {
        mkdirSync(dirname(dst), { recursive: true });
        own = statSync(dirname(dst));
      }
      copyFileSync(resolve(dir, c.file), dst);
      chmodSync(dst, c.mode);
      if (process.getuid?.() === 0) chownSync(dst, own.uid, own.gid);
      result.config.push(dst);
    }
  }
  return result;
}
