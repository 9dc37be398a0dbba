// SQL for the audit chain tables (audit_log, audit_checkpoints): head lookup and multi-row append
// inside a caller's transaction, checkpoint rows, and ordered reads for the verifier.
import type { Queryable, SqlParam } from "./db.js";

export interface AuditRow {
  seq: number;
  time: string;
  type: string;
  actor: string;
  subject: string;
  details: string;
  prev_hash: string;
  hash: string;
}

export interface CheckpointRow {
  size: number;
  head_hash: string;
  time: string;
  key_spki: Buffer;
  algorithm: string;
  signature: Buffer;
}

export const auditRepository = {
  head(q: Queryable): Promise<{ seq: number; hash: string } | undefined> {
    return q.get<{ seq: number; hash: string }>("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
  },

  async insertMany(tx: Queryable, rows: AuditRow[]): Promise<void> {
    // 8 columns per row; stay well below SQLite's bound-parameter limit
    for (let i = 0; i < rows.length; i += 500) {
      const chunk = rows.slice(i, i + 500);
      const params: SqlParam[] = [];
      for (const r of chunk) params.push(r.seq, r.time, r.type, r.actor, r.subject, r.details, r.prev_hash, r.hash);
      await tx.run(
        `INSERT INTO audit_log (seq, time, type, actor, subject, details, prev_hash, hash) VALUES ${chunk
          .map(() => "(?,?,?,?,?,?,?,?)")
          .join(",")}`,
        params,
      );
    }
  },

  /**
   * insertMany only if the chain's head is still `head` (checked in the same statement): how an
   * appender that remembers the head it wrote last skips reading it. False (nothing inserted) when
   * the head moved (another writer, or the remembered rows were rolled back).
   */
  async insertManyAfter(tx: Queryable, head: { seq: number; hash: string }, rows: AuditRow[]): Promise<boolean> {
    if (rows.length > 500) return false;
    const params: SqlParam[] = [];
    for (const r of rows) params.push(r.seq, r.time, r.type, r.actor, r.subject, r.details, r.prev_hash, r.hash);
    params.push(head.seq, head.hash);
    const res = await tx.run(
      `INSERT INTO audit_log (seq, time, type, actor, subject, details, prev_hash, hash)
       SELECT * FROM (VALUES ${rows.map(() => "(?,?,?,?,?,?,?,?)").join(",")})
       WHERE (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) = (?, ?)`,
      params,
    );
    return res.changes === rows.length;
  },

  entryAt(q: Queryable, seq: number): Promise<AuditRow | undefined> {
    return q.get<AuditRow>("SELECT * FROM audit_log WHERE seq = ?", [seq]);
  },

  /** Entries in seq order, `limit` at a time from `after` (exclusive). */
  page(q: Queryable, after: number, limit: number): Promise<AuditRow[]> {
    return q.all<AuditRow>("SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", [after, limit]);
  },

  /** Rows in physical order (rowid), for the verifier: shows reordering as well as gaps. */
  all(q: Queryable): Promise<AuditRow[]> {
    return q.all<AuditRow>("SELECT * FROM audit_log ORDER BY seq");
  },

  lastByType(q: Queryable, type: string): Promise<AuditRow | undefined> {
    return q.get<AuditRow>("SELECT * FROM audit_log WHERE type = ? ORDER BY seq DESC LIMIT 1", [type]);
  },

  lastCheckpoint(q: Queryable): Promise<CheckpointRow | undefined> {
    return q.get<CheckpointRow>("SELECT * FROM audit_checkpoints ORDER BY size DESC LIMIT 1");
  },

  checkpoints(q: Queryable): Promise<CheckpointRow[]> {
    return q.all<CheckpointRow>("SELECT * FROM audit_checkpoints ORDER BY size");
  },

  async insertCheckpoint(tx: Queryable, c: CheckpointRow): Promise<void> {
    await tx.run(
      "INSERT INTO audit_checkpoints (size, head_hash, time, key_spki, algorithm, signature) VALUES (?,?,?,?,?,?)",
      [c.size, c.head_hash, c.time, c.key_spki, c.algorithm, c.signature],
    );
  },
};
