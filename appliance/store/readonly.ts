// A read-only sqlite connection for offline tools (audit verifier): no migrations, no writes,
// works on a copied database file.
import sqlite3 from "sqlite3";
import { ApplianceError } from "../errors.js";
import type { Queryable } from "./db.js";

export async function openReadOnly(path: string): Promise<Queryable & { close(): Promise<void> }> {
  const conn = await new Promise<sqlite3.Database>((resolve, reject) => {
    const c = new sqlite3.Database(path, sqlite3.OPEN_READONLY, (err) =>
      err ? reject(new ApplianceError("notFound", `cannot open database ${path}: ${err.message}`)) : resolve(c),
    );
  });
  return {
    run: () => Promise.reject(new ApplianceError("internal", "read-only connection")),
    get: <T>(sql: string, params: unknown[] | Record<string, unknown> = []) =>
      new Promise<T | undefined>((resolve, reject) =>
        conn.get<T>(sql, params, (err, row) => (err ? reject(err) : resolve(row))),
      ),
    all: <T>(sql: string, params: unknown[] | Record<string, unknown> = []) =>
      new Promise<T[]>((resolve, reject) =>
        conn.all<T>(sql, params, (err, rows) => (err ? reject(err) : resolve(rows))),
      ),
    close: () => new Promise<void>((resolve) => conn.close(() => resolve())),
  };
}
