// SQL for the CA's records (ca_certificates, ca_crl_state): intents, completion, abandonment,
// revocation, status lookups and CRL state. No business rules; callers pass a transaction or reader.
import type { Queryable, SqlParam } from "./db.js";

export type CertStatus = "signing" | "issued" | "abandoned";

export interface CertRow {
  serial: string;
  status: CertStatus;
  tbs_sha256: Buffer;
  tbs: Buffer;
  der: Buffer | null;
  profile: string;
  issuer_key_id: Buffer;
  identifiers: string;
  account_id: string | null;
  order_id: string | null;
  replaces: string | null;
  not_before: number;
  not_after: number;
  created_at: number;
  issued_at: number | null;
  abandoned_reason: string | null;
  revoked_at: number | null;
  revocation_reason: number | null;
  revoked_by: string | null;
}

export interface IntentRow {
  serial: string;
  tbs_sha256: Buffer;
  tbs: Buffer;
  profile: string;
  issuer_key_id: Buffer;
  identifiers: string;
  account_id: string | null;
  order_id: string | null;
  replaces: string | null;
  not_before: number;
  not_after: number;
  created_at: number;
}

export interface StatusRow {
  status: CertStatus;
  not_after: number;
  revoked_at: number | null;
  revocation_reason: number | null;
}

export interface CrlStateRow {
  issuer_key_id: Buffer;
  crl_number: number;
  this_update: number;
  next_update: number;
  entries: number;
  der: Buffer;
}

const INTENT_COLS = [
  "serial",
  "tbs_sha256",
  "tbs",
  "profile",
  "issuer_key_id",
  "identifiers",
  "account_id",
  "order_id",
  "replaces",
  "not_before",
  "not_after",
  "created_at",
] as const;

export const caRepository = {
  /** Records intents (status 'signing') in one statement per 500 rows; a duplicate serial fails the call. */
  async insertIntents(tx: Queryable, rows: IntentRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 500) {
      const chunk = rows.slice(i, i + 500);
      const params: SqlParam[] = [];
      for (const r of chunk) for (const c of INTENT_COLS) params.push(r[c]);
      const ph = `(${INTENT_COLS.map(() => "?").join(",")},'signing')`;
      await tx.run(
        `INSERT INTO ca_certificates (${INTENT_COLS.join(",")}, status) VALUES ${chunk.map(() => ph).join(",")}`,
        params,
      );
    }
  },

  /** 'signing' -> 'issued' with the final DER; throws unless every serial was still 'signing'. */
  async completeIssued(tx: Queryable, rows: Array<{ serial: string; der: Buffer; issuedAt: number }>): Promise<void> {
    for (let i = 0; i < rows.length; i += 300) {
      const chunk = rows.slice(i, i + 300);
      const params: SqlParam[] = [];
      for (const r of chunk) params.push(r.serial, r.der, r.issuedAt);
      const res = await tx.run(
        `WITH v(serial, der, issued_at) AS (VALUES ${chunk.map(() => "(?,?,?)").join(",")})
         UPDATE ca_certificates SET status = 'issued', der = v.der, issued_at = v.issued_at
         FROM v WHERE ca_certificates.serial = v.serial AND ca_certificates.status = 'signing'`,
        params,
      );
      if (res.changes !== chunk.length)
        throw new Error(`completed ${res.changes} of ${chunk.length} certificates: some were not in 'signing'`);
    }
  },

  async abandon(tx: Queryable, serials: string[], reason: string): Promise<number> {
    let n = 0;
    for (const s of serials) {
      const r = await tx.run(
        "UPDATE ca_certificates SET status = 'abandoned', abandoned_reason = ? WHERE serial = ? AND status = 'signing'",
        [reason, s],
      );
      n += r.changes;
    }
    return n;
  },

  listSigning(q: Queryable): Promise<Array<{ serial: string; tbs_sha256: Buffer; created_at: number }>> {
    return q.all("SELECT serial, tbs_sha256, created_at FROM ca_certificates WHERE status = 'signing' ORDER BY serial");
  },

  get(q: Queryable, serial: string): Promise<CertRow | undefined> {
    return q.get<CertRow>("SELECT * FROM ca_certificates WHERE serial = ?", [serial]);
  },

  /** The first certificate issued for an ACME order (index ca_certificates_order), or undefined. */
  issuedForOrder(q: Queryable, orderId: string): Promise<CertRow | undefined> {
    return q.get<CertRow>(
      "SELECT * FROM ca_certificates WHERE order_id = ? AND status = 'issued' ORDER BY issued_at, serial LIMIT 1",
      [orderId],
    );
  },

  status(q: Queryable, serial: string): Promise<StatusRow | undefined> {
    return q.get<StatusRow>(
      "SELECT status, not_after, revoked_at, revocation_reason FROM ca_certificates WHERE serial = ?",
      [serial],
    );
  },

  /** Marks an issued, unrevoked certificate revoked; returns the number of rows changed (0 or 1). */
  async revoke(tx: Queryable, serial: string, at: number, reason: number, by: string): Promise<number> {
    const r = await tx.run(
      `UPDATE ca_certificates SET revoked_at = ?, revocation_reason = ?, revoked_by = ?
       WHERE serial = ? AND status = 'issued' AND revoked_at IS NULL`,
      [at, reason, by, serial],
    );
    return r.changes;
  },

  /** Revoked certificates of an issuer that have not yet expired at `notAfterFrom` (ms). */
  revokedFor(
    q: Queryable,
    issuerKeyId: Buffer,
    notAfterFrom: number,
  ): Promise<Array<{ serial: string; revoked_at: number; revocation_reason: number }>> {
    return q.all(
      `SELECT serial, revoked_at, revocation_reason FROM ca_certificates
       WHERE revoked_at IS NOT NULL AND issuer_key_id = ? AND not_after >= ?`,
      [issuerKeyId, notAfterFrom],
    );
  },

  /** How many rows revokedFor() would return (the CRL service's staleness check at startup). */
  async countRevokedFor(q: Queryable, issuerKeyId: Buffer, notAfterFrom: number): Promise<number> {
    const r = await q.get<{ n: number }>(
      "SELECT count(*) AS n FROM ca_certificates WHERE revoked_at IS NOT NULL AND issuer_key_id = ? AND not_after >= ?",
      [issuerKeyId, notAfterFrom],
    );
    return r?.n ?? 0;
  },

  counts(q: Queryable): Promise<Array<{ status: CertStatus; n: number }>> {
    return q.all("SELECT status, count(*) AS n FROM ca_certificates GROUP BY status");
  },

  crlState(q: Queryable, issuerKeyId: Buffer): Promise<CrlStateRow | undefined> {
    return q.get<CrlStateRow>("SELECT * FROM ca_crl_state WHERE issuer_key_id = ?", [issuerKeyId]);
  },

  async saveCrl(tx: Queryable, s: CrlStateRow): Promise<void> {
    await tx.run(
      `INSERT INTO ca_crl_state (issuer_key_id, crl_number, this_update, next_update, entries, der)
       VALUES (?,?,?,?,?,?)
       ON CONFLICT (issuer_key_id) DO UPDATE SET crl_number = excluded.crl_number,
         this_update = excluded.this_update, next_update = excluded.next_update,
         entries = excluded.entries, der = excluded.der`,
      [s.issuer_key_id, s.crl_number, s.this_update, s.next_update, s.entries, s.der],
    );
  },
};
