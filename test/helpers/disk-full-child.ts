// Child process for the disk-full test, started inside its own mount namespace with a small tmpfs at
// DIR/db (see fault-disk-full.test.ts). Runs a CA whose database lives on that tmpfs, fills the
// filesystem, keeps issuing and revoking, frees the space, keeps issuing, restarts the CA; prints one
// JSON line per phase with what it observed. The SoftHSM token and PKI files live outside the tmpfs.
// Usage: disk-full-child.ts DIR
import "reflect-metadata";
import { createPublicKey } from "node:crypto";
import { closeSync, fstatSync, openSync, readFileSync, rmSync, statfsSync, truncateSync, writeSync } from "node:fs";
import { join } from "node:path";
import { verifyAuditChain } from "../../appliance/audit/index.js";
import { bootstrapDemoPki } from "../../appliance/ca/bootstrap.js";
import type { Ca } from "../../appliance/ca/ca.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import { ApplianceError } from "../../appliance/errors.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { HsmToken, useSoftHsm } from "../../hsm/index.js";
import { csrFor } from "./csr.js";

const dir = process.argv[2]!;
const dbDir = join(dir, "db");
const report = (phase: string, data: Record<string, unknown>) =>
  writeSync(1, `${JSON.stringify({ phase, ...data })}\n`);

const sh = useSoftHsm(join(dir, "hsm"));
sh.createToken("diskfull", "1234");
const token = HsmToken.open({ label: "diskfull", pin: { value: "1234" } });
const boot = await bootstrapDemoPki({
  dir: join(dir, "pki"),
  token,
  pkiBaseUrl: "http://127.0.0.1:8080",
  names: { permittedDns: ["plant.example"], excludedDns: [], permittedIp: [], excludedIp: [] },
});
const errors: string[] = [];
const open = async () => {
  const db = await Db.open(join(dbDir, "plantroot.db"), { migrations: MIGRATIONS });
  const ca = await createCa({ config: boot.config, token, db, onError: (e) => errors.push(String(e)) });
  return { db, ca };
};
let { db, ca } = await open();

const CSRS = Array.from({ length: 32 }, (_, i) => {
  const ids = [{ type: "dns" as const, value: `disk${i}.plant.example` }];
  return { ids, csr: csrFor(ids) };
});
const acknowledged: string[] = [];
const revoked: string[] = [];

/** `lanes` concurrent issuers for `attempts` attempts in all, plus one revoker; outcome counts by kind. */
async function burst(c: Ca, attempts: number, lanes = 8) {
  const kinds: Record<string, number> = {};
  const messages = new Set<string>();
  let next = 0;
  const lane = async () => {
    while (next < attempts) {
      const i = next++;
      const x = CSRS[i % CSRS.length]!;
      try {
        const cert = await c.issue({ csr: x.csr, identifiers: x.ids, requester: { accountId: "disk" } });
        acknowledged.push(cert.serial);
        kinds.ok = (kinds.ok ?? 0) + 1;
        if (i % 4 === 0) {
          try {
            await c.revoke(cert.serial, 4, { accountId: "disk" });
            revoked.push(cert.serial);
            kinds.revoked = (kinds.revoked ?? 0) + 1;
          } catch (e) {
            const k = e instanceof ApplianceError ? `revoke:${e.kind}` : `revoke:untyped:${String(e)}`;
            kinds[k] = (kinds[k] ?? 0) + 1;
            if (e instanceof ApplianceError && e.message.includes("is revoked")) revoked.push(cert.serial);
          }
        }
      } catch (e) {
        const k = e instanceof ApplianceError ? e.kind : `untyped:${String(e)}`;
        kinds[k] = (kinds[k] ?? 0) + 1;
        messages.add(e instanceof Error ? e.message.replace(/[0-9a-f]{16,}/g, "…") : String(e));
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return { kinds, messages: [...messages].slice(0, 6) };
}

async function integrity(d: Db): Promise<string> {
  const r = await d.get<{ integrity_check: string }>("PRAGMA integrity_check");
  return r?.integrity_check ?? "none";
}

/** Fills the filesystem with a ballast file until the kernel refuses (ENOSPC). */
function fill(): number {
  const fd = openSync(join(dbDir, "ballast"), "a");
  const chunk = Buffer.alloc(16 * 1024, 0xaa);
  let n = fstatSync(fd).size;
  try {
    for (;;) n += writeSync(fd, chunk);
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOSPC") throw e;
  }
  try {
    for (;;) n += writeSync(fd, chunk.subarray(0, 512)); // the last partial blocks
  } catch {
    /* full */
  }
  closeSync(fd);
  return n;
}

const freeBytes = () => {
  const s = statfsSync(dbDir);
  return s.bavail * s.bsize;
};

report("warmup", { ...(await burst(ca, 20)), free: freeBytes() });
// nearly full first (some writes fit, then they stop fitting mid-burst), then completely full
const ballast = fill();
truncateSync(join(dbDir, "ballast"), ballast - 64 * 1024);
report("nearly-full", { free: freeBytes(), ...(await burst(ca, 200)), integrity: await integrity(db) });
fill();
report("full", {
  ballast,
  free: freeBytes(),
  ...(await burst(ca, 200)),
  integrity: await integrity(db),
});
// a second round while still full: the CA keeps answering
report("still-full", { ...(await burst(ca, 100)), integrity: await integrity(db) });
rmSync(join(dbDir, "ballast"));
const back = await burst(ca, 100);
await burst(ca, 4); // completions after the recovery also retry abandonments that could not be written
report("space-back", {
  free: freeBytes(),
  ...back,
  integrity: await integrity(db),
  signing: (await db.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates WHERE status = 'signing'"))!.n,
});
await ca.close();
await db.close();
({ db, ca } = await open());
const signingAtStart = (await db.get<{ n: number }>(
  "SELECT count(*) AS n FROM ca_certificates WHERE status = 'signing'",
))!.n;
const after = await burst(ca, 20);
const rows = await db.all<{ serial: string; status: string; revoked_at: number | null }>(
  "SELECT serial, status, revoked_at FROM ca_certificates",
);
const crl = ca.crl.current()!;
report("restarted", {
  ...after,
  signingAtStart,
  integrity: await integrity(db),
  acknowledged,
  revoked,
  rows,
  crl: crl.der.toString("base64"),
  audit: (await verifyAuditChain(db, { trustedKey: createPublicKey(readFileSync(boot.paths.auditKey)) })).problems.map(
    (p) => JSON.stringify(p),
  ),
  errors: errors.slice(0, 10),
  errorCount: errors.length,
});
await ca.close();
await db.close();
token.close();
report("done", {});
