// What `plantroot status` says about the CA: its certificates (the PEM files the CA configuration
// names) with their expiry, the last CRL and issuance counts from the store. Reads only.
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { Db } from "../../appliance/store/db.js";

export interface CaCertificateSummary {
  role: "root" | "issuing" | "intermediate";
  file: string;
  subject?: string;
  serial?: string;
  notAfter?: string;
  /** whole days until notAfter (negative once expired) */
  daysLeft?: number;
  /** set when the file is missing or unreadable */
  problem?: string;
}

export interface CaSummary {
  /** the CA configuration names its certificates and the store has the CA's tables */
  initialised: boolean;
  certificates: CaCertificateSummary[];
  lastCrl?: { number: number; thisUpdate: string; nextUpdate: string; entries: number };
  issued?: { total: number; revoked: number; inFlight: number };
}

/** The CA certificate files named by the CA configuration (`ca.certificates` of the config file). */
export function caCertificateFiles(
  raw: Record<string, unknown>,
): Array<{ role: CaCertificateSummary["role"]; file: string }> {
  const ca = raw.ca as { certificates?: { root?: unknown; issuing?: unknown; intermediates?: unknown } } | undefined;
  const c = ca?.certificates;
  if (!c) return [];
  const out: Array<{ role: CaCertificateSummary["role"]; file: string }> = [];
  if (typeof c.root === "string") out.push({ role: "root", file: c.root });
  if (Array.isArray(c.intermediates))
    for (const f of c.intermediates) if (typeof f === "string") out.push({ role: "intermediate", file: f });
  if (typeof c.issuing === "string") out.push({ role: "issuing", file: c.issuing });
  return out;
}

const DAY = 86_400_000;

export function describeCertificate(
  role: CaCertificateSummary["role"],
  file: string,
  now = new Date(),
): CaCertificateSummary {
  if (!existsSync(file)) return { role, file, problem: `${file} does not exist` };
  try {
    const x = new X509Certificate(readFileSync(file));
    const notAfter = new Date(x.validTo);
    return {
      role,
      file,
      subject: x.subject.replace(/\n/g, ", "),
      serial: x.serialNumber.toLowerCase(),
      notAfter: notAfter.toISOString(),
      daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / DAY),
    };
  } catch (e) {
    return { role, file, problem: `${file}: not a certificate (${(e as Error).message})` };
  }
}

async function hasTable(db: Db, name: string): Promise<boolean> {
  return (await db.get("SELECT 1 AS x FROM sqlite_master WHERE type='table' AND name=?", [name])) !== undefined;
}

export async function caSummary(db: Db, raw: Record<string, unknown>, now = new Date()): Promise<CaSummary> {
  const certificates = caCertificateFiles(raw).map((f) => describeCertificate(f.role, f.file, now));
  const out: CaSummary = { initialised: false, certificates };
  // tables of appliance/store/migrations/ca.ts (times in ms since the epoch)
  if (await hasTable(db, "ca_crl_state")) {
    const crl = await db.get<{ crl_number: number; this_update: number; next_update: number; entries: number }>(
      "SELECT crl_number, this_update, next_update, entries FROM ca_crl_state ORDER BY this_update DESC LIMIT 1",
    );
    if (crl)
      out.lastCrl = {
        number: crl.crl_number,
        thisUpdate: new Date(crl.this_update).toISOString(),
        nextUpdate: new Date(crl.next_update).toISOString(),
        entries: crl.entries,
      };
  }
  if (await hasTable(db, "ca_certificates")) {
    const r = await db.get<{ total: number; revoked: number; in_flight: number }>(
      `SELECT count(*) FILTER (WHERE status = 'issued') AS total,
              count(*) FILTER (WHERE revoked_at IS NOT NULL) AS revoked,
              count(*) FILTER (WHERE status = 'signing') AS in_flight
         FROM ca_certificates`,
    );
    out.issued = { total: r?.total ?? 0, revoked: r?.revoked ?? 0, inFlight: r?.in_flight ?? 0 };
    out.initialised = certificates.some((c) => c.role === "issuing" && !c.problem);
  }
  return out;
}
