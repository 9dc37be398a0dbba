// Repeated SIGKILL during issuance and revocation: a CA process is killed again and again — from
// outside at random moments, and from inside right after a revocation committed but before its CRL
// was signed — and restarted on the same token and database. Afterwards every certificate that was
// acknowledged is stored exactly once with the bytes handed out, no serial repeats, no intent is left
// half-done, the audit chain verifies, and the CRL lists every recorded revocation (OCSP and CRL agree).
import { spawn } from "node:child_process";
import { createHash, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../appliance/audit/index.js";
import { openReadOnly } from "../../appliance/store/readonly.js";
import { openssl } from "../helpers/softhsm.js";

const CHILD = new URL("../helpers/ca-churn-child.ts", import.meta.url).pathname;
/** cycles per run; PLANTROOT_CRASH_CYCLES raises it for a long run */
const CYCLES = Number(process.env.PLANTROOT_CRASH_CYCLES ?? "8");

function start(dir: string, mode: "init" | "resume", option?: string) {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir, mode, ...(option ? [option] : [])], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let buf = "";
  let err = "";
  const waiters: Array<() => void> = [];
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split("\n");
    buf = parts.pop()!; // only complete lines were acknowledged
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on("close", (code, signal) => r({ code, signal })),
  );
  const count = (prefix: string) => lines.filter((l) => l.startsWith(prefix)).length;
  const until = (pred: () => boolean, ms = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout; stderr: ${err}`)), ms);
      const check = () => {
        if (pred()) {
          clearTimeout(t);
          resolve();
        } else waiters.push(check);
      };
      check();
      void exited.then(() => {
        if (!pred()) {
          clearTimeout(t);
          reject(new Error(`child exited early; stderr: ${err}`));
        }
      });
    });
  return { child, lines, until, exited, count, stderr: () => err };
}

describe("repeated SIGKILL during issuance and revocation", () => {
  it(
    `${CYCLES} kill/restart cycles: acknowledged certificates exactly once, serials unique, audit chain intact, CRL complete`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "ca-churn-"));
      const issued: Array<{ serial: string; sha: string }> = [];
      const revoked = new Set<string>();
      const kills: string[] = [];
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const inside = cycle % 3 === 2; // every third cycle dies between a revocation's commit and its CRL
        const p = start(dir, cycle === 0 ? "init" : "resume", inside ? "crash-in-crl=2" : undefined);
        if (inside) {
          const r = await p.exited;
          expect(r.signal, p.stderr()).toBe("SIGKILL");
          kills.push("inside CRL regeneration");
        } else {
          await p.until(() => p.count("ISSUED ") >= 20 && p.count("REVOKED ") >= 2);
          await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 60)));
          p.child.kill("SIGKILL");
          expect((await p.exited).signal).toBe("SIGKILL");
          kills.push("from outside");
        }
        for (const l of p.lines) {
          const [what, serial, sha] = l.split(" ");
          if (what === "ISSUED") issued.push({ serial: serial!, sha: sha! });
          if (what === "REVOKED") revoked.add(serial!);
        }
      }
      // a clean start resolves what the last kill left behind
      const last = start(dir, "resume", "start-only");
      expect((await last.exited).code, last.stderr()).toBe(0);
      expect(last.lines).toContain("DONE");

      expect(kills.length).toBe(CYCLES);
      expect(issued.length).toBeGreaterThan(20 * (CYCLES - Math.floor(CYCLES / 3)));
      expect(new Set(issued.map((i) => i.serial)).size).toBe(issued.length);

      const q = await openReadOnly(join(dir, "plantroot.db"));
      try {
        expect(await q.get("PRAGMA integrity_check")).toEqual({ integrity_check: "ok" });
        const rows = await q.all<{ serial: string; status: string; der: Buffer | null; revoked_at: number | null }>(
          "SELECT serial, status, der, revoked_at FROM ca_certificates",
        );
        const bySerial = new Map(rows.map((r) => [r.serial, r]));
        expect(bySerial.size).toBe(rows.length); // no serial reused
        for (const i of issued) {
          const r = bySerial.get(i.serial);
          expect(r?.status, i.serial).toBe("issued");
          expect(createHash("sha256").update(r!.der!).digest("hex")).toBe(i.sha);
        }
        expect(rows.filter((r) => r.status === "signing")).toEqual([]);
        // exactly one issuance audit entry per issued certificate
        const audit = await q.all<{ subject: string }>(
          "SELECT subject FROM audit_log WHERE type = 'certificate.issued'",
        );
        const issuedRows = rows.filter((r) => r.status === "issued");
        expect(audit.length).toBe(issuedRows.length);
        expect(new Set(audit.map((a) => a.subject))).toEqual(new Set(issuedRows.map((r) => `certificate:${r.serial}`)));
        const report = await verifyAuditChain(q, {
          trustedKey: createPublicKey(readFileSync(join(dir, "pki", "audit-key.pem"))),
        });
        expect(report.problems).toEqual([]);

        // every acknowledged revocation is recorded; the CRL lists every recorded one
        for (const s of revoked) expect(bySerial.get(s)?.revoked_at, s).not.toBeNull();
        const recorded = rows.filter((r) => r.revoked_at !== null).map((r) => r.serial);
        expect(recorded.length).toBeGreaterThanOrEqual(revoked.size);
        const crl = (await q.get<{ der: Buffer }>("SELECT der FROM ca_crl_state"))!.der;
        const text = openssl(["crl", "-inform", "DER", "-noout", "-text"], crl);
        const listed = new Set([...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.toLowerCase()));
        const missing = recorded.filter((s) => !listed.has(s));
        expect(missing, "revocations recorded but not in the CRL").toEqual([]);
        expect(listed.size).toBe(recorded.length);
        const abandoned = rows.filter((r) => r.status === "abandoned").length;
        console.info(
          `crash cycles: ${CYCLES} kills (${kills.filter((k) => k.startsWith("inside")).length} inside CRL regeneration), ` +
            `${issued.length} certificates acknowledged, ${revoked.size} revocations acknowledged, ` +
            `${issuedRows.length} issued / ${abandoned} abandoned intents / ${recorded.length} revoked in the store, CRL entries ${listed.size}`,
        );
      } finally {
        await q.close();
      }
    },
    30_000 + CYCLES * 10_000,
  );
});
