// Disk full during issuance: the CA's database sits on a small tmpfs (in a private mount namespace,
// so nothing leaks into the host's mounts) that is filled while lanes issue and revoke. Every request
// gets a typed answer (issued, or unavailable with retryAfter), the database stays intact
// (PRAGMA integrity_check), no intent stays half-done, and issuance resumes when space returns —
// without a restart; after a restart everything acknowledged is there exactly once.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openssl } from "../helpers/softhsm.js";

const CHILD = new URL("../helpers/disk-full-child.ts", import.meta.url).pathname;

interface Phase {
  phase: string;
  kinds?: Record<string, number>;
  messages?: string[];
  integrity?: string;
  free?: number;
  signing?: number;
  [k: string]: unknown;
}

/** Runs the child in its own mount namespace with a tmpfs of `size` at DIR/db. */
function runChild(
  dir: string,
  size: string,
): Promise<{ phases: Map<string, Phase>; stderr: string; code: number | null }> {
  const root = process.getuid?.() === 0;
  const script = 'mount -t tmpfs -o size="$2" tmpfs "$1/db" && exec "$3" --import tsx "$4" "$1"';
  const args = [
    ...(root ? ["-m", "--propagation", "private"] : ["-Urm"]),
    "sh",
    "-c",
    script,
    "sh",
    dir,
    size,
    process.execPath,
    CHILD,
  ];
  const child = spawn("unshare", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) =>
    child.on("close", (code) => {
      const phases = new Map<string, Phase>();
      for (const line of out.split("\n").filter(Boolean)) {
        const p = JSON.parse(line) as Phase;
        phases.set(p.phase, p);
      }
      resolve({ phases, stderr, code });
    }),
  );
}

/** Every outcome is a certificate or a typed `unavailable`; never untyped, never internal. */
function onlyTyped(p: Phase): void {
  for (const k of Object.keys(p.kinds ?? {}))
    expect(["ok", "revoked", "unavailable", "revoke:unavailable"], `${p.phase}: ${k} ${p.messages}`).toContain(k);
}

describe("disk full during issuance", () => {
  it("typed refusals while full, no corruption, no half-done intents, recovery without restart, nothing lost", async () => {
    const dir = mkdtempSync(join(tmpdir(), "disk-full-"));
    mkdirSync(join(dir, "db"));
    const { phases, stderr, code } = await runChild(dir, "16m");
    expect(code, stderr).toBe(0);
    expect(phases.has("done"), stderr).toBe(true);

    const warm = phases.get("warmup")!;
    expect(warm.kinds).toEqual({ ok: 20, revoked: 5 });

    const nearly = phases.get("nearly-full")!;
    onlyTyped(nearly);
    expect(nearly.integrity).toBe("ok");
    const full = phases.get("full")!;
    expect(full.free).toBe(0);
    onlyTyped(full);
    expect(full.kinds!.unavailable).toBeGreaterThan(150);
    expect(full.messages!.every((m) => /^storage error: SQLITE_(FULL|IOERR)$|could not be recorded/.test(m))).toBe(
      true,
    );
    expect(full.integrity).toBe("ok");
    const still = phases.get("still-full")!;
    onlyTyped(still);
    expect(still.integrity).toBe("ok");

    const back = phases.get("space-back")!;
    expect(back.free).toBeGreaterThan(8 * 1024 * 1024);
    expect(back.kinds!.ok).toBe(100);
    expect(back.integrity).toBe("ok");
    expect(back.signing).toBe(0); // intents whose abandonment could not be written were resolved

    const r = phases.get("restarted")!;
    expect(r.integrity).toBe("ok");
    expect(r.signingAtStart).toBe(0);
    expect(r.kinds!.ok).toBe(20);
    expect(r.audit).toEqual([]);
    const rows = r.rows as Array<{ serial: string; status: string; revoked_at: number | null }>;
    const bySerial = new Map(rows.map((x) => [x.serial, x]));
    expect(bySerial.size).toBe(rows.length);
    const acknowledged = r.acknowledged as string[];
    expect(new Set(acknowledged).size).toBe(acknowledged.length);
    for (const s of acknowledged) expect(bySerial.get(s)?.status).toBe("issued");
    const crlText = openssl(["crl", "-inform", "DER", "-noout", "-text"], Buffer.from(r.crl as string, "base64"));
    const revoked = r.revoked as string[];
    expect(revoked.length).toBeGreaterThan(20);
    for (const s of revoked) {
      expect(bySerial.get(s)?.revoked_at).not.toBeNull();
      expect(crlText.toUpperCase()).toContain(s.toUpperCase());
    }
    expect(r.errorCount).toBeGreaterThan(0); // the operator hook heard about the disk
  });
});
