// Offline maintenance of a database file (backup and restore tools): is another process using it,
// integrity check, turning a backup copy into a single self-contained file, taking it offline.
import sqlite3 from "sqlite3";
import { ApplianceError } from "../errors.js";

function open(path: string, mode: number): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const c = new sqlite3.Database(path, mode, (err) =>
      err ? reject(new ApplianceError("internal", `cannot open database ${path}: ${err.message}`)) : resolve(c),
    );
  });
}
const exec = (c: sqlite3.Database, sql: string) =>
  new Promise<void>((resolve, reject) => c.exec(sql, (e) => (e ? reject(e) : resolve())));
const all = <T>(c: sqlite3.Database, sql: string) =>
  new Promise<T[]>((resolve, reject) => c.all<T>(sql, [], (e, rows) => (e ? reject(e) : resolve(rows))));
const close = (c: sqlite3.Database) => new Promise<void>((resolve) => c.close(() => resolve()));

/** `PRAGMA integrity_check` on a file: ["ok"] when sound, else SQLite's list of problems. */
export async function integrityCheck(path: string): Promise<string[]> {
  const c = await open(path, sqlite3.OPEN_READONLY);
  try {
    return (await all<{ integrity_check: string }>(c, "PRAGMA integrity_check")).map((r) => r.integrity_check);
  } finally {
    await close(c);
  }
}

/**
 * Makes a freshly written backup copy a single self-contained file (rollback journal instead of
 * WAL), so it can be checksummed, carried and opened read-only without -wal/-shm companions.
 */
export async function toSingleFile(path: string): Promise<void> {
  const c = await open(path, sqlite3.OPEN_READWRITE);
  try {
    await exec(c, "PRAGMA journal_mode=DELETE");
  } finally {
    await close(c);
  }
}

/**
 * Takes a live database offline for replacement: fails with `conflict` when any other process has
 * it open (a running appliance holds its connections for its lifetime), otherwise checkpoints the
 * WAL into the main file and closes, leaving one file with no -wal/-shm.
 */
export async function takeOffline(path: string): Promise<void> {
  const c = await open(path, sqlite3.OPEN_READWRITE);
  try {
    try {
      // an exclusive lock is granted only when no other connection (in any process) has the file open
      await exec(c, "PRAGMA busy_timeout=0; PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;");
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED")
        throw new ApplianceError("conflict", `database ${path} is in use by another process (is plantroot running?)`);
      throw new ApplianceError("internal", `cannot lock database ${path}: ${(e as Error).message}`);
    }
    await exec(c, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;");
  } finally {
    await close(c);
  }
}
