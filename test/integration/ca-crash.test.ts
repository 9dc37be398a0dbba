// Crash safety: SIGKILL the issuing process in the middle of a burst, restart it, and show every
// certificate that was handed out is in the store exactly once, intents are resolved, serials never
// repeat, the database and the audit chain are intact.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../appliance/audit/index.js";
import { openReadOnly } from "../../appliance/store/readonly.js";

const CHILD = new URL("../helpers/ca-burst-child.ts", import.meta.url).pathname;

function start(dir: string, mode: "init" | "resume", count?: number, crashAtSign?: number) {
  const args = [CHILD, dir, mode, String(count ?? 1_000_000), ...(crashAtSign ? [String(crashAtSign)] : [])];
  const child = spawn(process.execPath, ["--import", "tsx", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let buf = "";
  let err = "";
  const waiters: Array<{ pred: () => boolean; resolve: () => void }> = [];
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split("\n");
    buf = parts.pop()!; // only complete lines count as handed out
    lines.push(...parts);
    for (const w of waiters.splice(0))
      if (w.pred()) w.resolve();
      else waiters.push(w);
  });
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  const until = (pred: () => boolean, ms = 60_000) =>
    new Promise<void>((resolve, reject) => {
      if (pred()) return resolve();
      const t = setTimeout(() => reject(new Error(`timeout; stderr: ${err}`)), ms);
      waiters.push({
        pred,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  return { child: child as ChildProcess, lines, until, exited, stderr: () => err };
}

const issuedOf = (lines: string[]) =>
  lines
    .filter((l) => l.startsWith("ISSUED "))
    .map((l) => {
      const [, serial, sha] = l.split(" ");
      return { serial: serial!, sha: sha! };
    });

describe("crash during a burst of issuances", () => {
  it("SIGKILL mid-burst, restart: handed-out certificates recorded exactly once, serials unique, store consistent", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ca-crash-"));
    const signingNow = async () => {
      const q0 = await openReadOnly(join(dir, "plantroot.db"));
      const n = (await q0.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates WHERE status = 'signing'"))!.n;
      await q0.close();
      return n;
    };
    // round 1: the process dies inside an HSM signature (intent recorded, signature lost)
    const a = start(dir, "init", undefined, 300);
    expect(await a.exited).toBeNull();
    const afterSignCrash = await signingNow();
    expect(afterSignCrash).toBeGreaterThanOrEqual(1);
    // round 2: killed from outside at an arbitrary moment of the burst
    const r2 = start(dir, "resume");
    await r2.until(() => issuedOf(r2.lines).length >= 400);
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
    r2.child.kill("SIGKILL");
    expect(await r2.exited).toBeNull();
    const afterKill = await signingNow();
    const first = [...issuedOf(a.lines), ...issuedOf(r2.lines)];

    const b = start(dir, "resume", 200);
    expect(await b.exited, b.stderr()).toBe(0);
    const second = issuedOf(b.lines);
    expect(second).toHaveLength(200);
    expect(b.lines[b.lines.length - 1]).toBe("DONE 200");

    const handedOut = [...first, ...second];
    expect(new Set(handedOut.map((h) => h.serial)).size).toBe(handedOut.length);

    const q = await openReadOnly(join(dir, "plantroot.db"));
    try {
      expect(await q.get("PRAGMA integrity_check")).toEqual({ integrity_check: "ok" });
      const rows = await q.all<{ serial: string; status: string; der: Buffer | null }>(
        "SELECT serial, status, der FROM ca_certificates",
      );
      const bySerial = new Map(rows.map((r) => [r.serial, r]));
      expect(bySerial.size).toBe(rows.length);
      for (const h of handedOut) {
        const r = bySerial.get(h.serial);
        expect(r?.status, h.serial).toBe("issued");
        expect(createHash("sha256").update(r!.der!).digest("hex")).toBe(h.sha);
      }
      // nothing is left half-done after the restart
      expect(rows.filter((r) => r.status === "signing")).toEqual([]);
      const abandoned = rows.filter((r) => r.status === "abandoned");
      // round 2's start abandoned round 1's intents; the last start abandoned round 2's
      expect(abandoned.length).toBe(afterSignCrash + afterKill);
      // issued but not printed before the kill: recorded, possibly never seen by a client (allowed)
      const issuedRows = rows.filter((r) => r.status === "issued");
      expect(issuedRows.length).toBeGreaterThanOrEqual(handedOut.length);
      // exactly one issuance audit entry per issued certificate, one abandonment entry per abandoned intent
      const audit = await q.all<{ type: string; subject: string }>(
        "SELECT type, subject FROM audit_log WHERE type IN ('certificate.issued', 'certificate.abandoned')",
      );
      const issuedAudit = audit.filter((x) => x.type === "certificate.issued").map((x) => x.subject);
      expect(issuedAudit.length).toBe(issuedRows.length);
      expect(new Set(issuedAudit)).toEqual(new Set(issuedRows.map((r) => `certificate:${r.serial}`)));
      expect(
        audit
          .filter((x) => x.type === "certificate.abandoned")
          .map((x) => x.subject)
          .sort(),
      ).toEqual(abandoned.map((r) => `certificate:${r.serial}`).sort());
      const report = await verifyAuditChain(q, {
        trustedKey: createPublicKey(readFileSync(join(dir, "pki", "audit-key.pem"))),
      });
      expect(report.problems).toEqual([]);
    } finally {
      await q.close();
    }
  });
});
