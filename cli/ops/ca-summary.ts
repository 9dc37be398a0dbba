// What the store says about the CA for `plantroot status`: the CA certificates with their expiry and
// the last CRL. Reads committed state only; knows the CA's tables by name and nothing more.
import type { Db } from "../../appliance/store/db.js";

export interface CaCertificateSummary {
  role: string;
  subject: string;
  serial: string;
  notAfter: string;
  /** whole days until notAfter (negative once expired) */
  daysLeft: number;
}

export interface CaSummary {
  /** false when the CA tables do not exist yet (no CA set up, or a store without the CA component) */
  initialised: boolean;
  certificates: CaCertificateSummary[];
  lastCrl?: { number: string; thisUpdate: string; nextUpdate: string };
  issuedCount?: number;
}

async function hasTable(db: Db, name: string): Promise<boolean> {
  return (await db.get("SELECT 1 AS x FROM sqlite_master WHERE type='table' AND name=?", [name])) !== undefined;
}

const DAY = 86_400_000;

export async function caSummary(db: Db, now = new Date()): Promise<CaSummary> {
  // The CA component's tables (appliance/store/migrations/ca.ts). Until a CA has been set up the
  // tables may be absent or empty; both read as "not initialised".
  if (!(await hasTable(db, "ca_certificates"))) return { initialised: false, certificates: [] };
  const rows = await db.all<{ role: string; subject: string; serial: string; not_after: string }>(
    "SELECT role, subject, serial, not_after FROM ca_certificates ORDER BY not_after",
  );
  const certificates = rows.map((r) => ({
    role: r.role,
    subject: r.subject,
    serial: r.serial,
    notAfter: new Date(r.not_after).toISOString(),
    daysLeft: Math.floor((Date.parse(r.not_after) - now.getTime()) / DAY),
  }));
  const out: CaSummary = { initialised: certificates.length > 0, certificates };
  if (await hasTable(db, "crls")) {
    const crl = await db.get<{ crl_number: string; this_update: string; next_update: string }>(
      "SELECT crl_number, this_update, next_update FROM crls ORDER BY this_update DESC LIMIT 1",
    );
    if (crl) out.lastCrl = { number: crl.crl_number, thisUpdate: crl.this_update, nextUpdate: crl.next_update };
  }
  if (await hasTable(db, "certificates")) {
    out.issuedCount = (await db.get<{ n: number }>("SELECT count(*) AS n FROM certificates"))?.n ?? 0;
  }
  return out;
}
