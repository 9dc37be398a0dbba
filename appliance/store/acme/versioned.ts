// The concurrency rule for ACME records, in one place. Every update is a compare-and-set on the
// row's `version`. Read-modify-write sequences run inside ONE Db.write job (jobs run one at a time
// on the single writer connection, so a job's reads see every earlier commit and nothing interleaves);
// the version check then cannot fail, and if it does that is a bug, reported as a conflict — never a
// silent lost update (the step-ca #341/#2121 failure mode).
import { ApplianceError } from "../../errors.js";
import type { Queryable, SqlParam } from "../db.js";

export type Versioned<T> = T & { version: number };

/** Runs an UPDATE whose WHERE clause ends in `AND version = ?`, throwing conflict when no row matched. */
export async function casUpdate(tx: Queryable, what: string, sql: string, params: SqlParam[]): Promise<void> {
  const r = await tx.run(sql, params);
  if (r.changes !== 1) throw new ApplianceError("conflict", `${what} changed since it was read`);
}

export function json<T>(s: string | null | undefined): T | undefined {
  return s === null || s === undefined ? undefined : (JSON.parse(s) as T);
}

export function date(ms: number | null | undefined): Date | undefined {
  return ms === null || ms === undefined ? undefined : new Date(ms);
}
