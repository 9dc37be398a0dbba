// HSM unavailable mid-load: the SoftHSM token directory disappears (and, in the second round, the
// PKCS#11 module is finalized underneath) while lanes issue, revoke and ask OCSP. Requests fail with a
// typed `unavailable` (retryAfter set) or OCSP tryLater, nothing is left half-written, and issuance
// resumes on the same CA object once the token is back — no restart.
import { renameSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { OCSPResponse } from "@peculiar/asn1-ocsp";
import { AsnConvert } from "@peculiar/asn1-schema";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../appliance/audit/index.js";
import { derToPem } from "../../appliance/ca/cert-parse.js";
import { createPkiHttpApp } from "../../appliance/ca/http.js";
import { OCSP_STATUS } from "../../appliance/ca/ocsp.js";
import { ApplianceError } from "../../appliance/errors.js";
import { HsmError, HsmKey } from "../../hsm/index.js";
import { caFixture, type CaFixture } from "../helpers/ca-fixture.js";
import { csrFor } from "../helpers/csr.js";
import { openssl, testSoftHsm, writeTemp } from "../helpers/softhsm.js";

let f: CaFixture;
let server: Server;
let base: string;
let ocspReq: Buffer;
const caErrors: unknown[] = [];

beforeAll(async () => {
  f = await caFixture({}, { onError: (e) => caErrors.push(e) });
  server = createPkiHttpApp(f.ca).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const ids = [{ type: "dns" as const, value: "ocsp-probe.plant.example" }];
  const leaf = await f.ca.issue({ csr: csrFor(ids), identifiers: ids, requester: { accountId: "probe" } });
  const sub = writeTemp(f.dir, "sub.pem", derToPem(f.boot.issuingDer));
  const leafPem = writeTemp(f.dir, "leaf.pem", derToPem(leaf.der));
  openssl(["ocsp", "-issuer", sub, "-cert", leafPem, "-no_nonce", "-reqout", join(f.dir, "req.der")]);
  ocspReq = readFileSync(join(f.dir, "req.der"));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await f.close();
});

// CSRs made before the load so the lanes measure the CA, not key generation
const CSRS = Array.from({ length: 48 }, (_, i) => {
  const ids = [{ type: "dns" as const, value: `load${i}.plant.example` }];
  return { ids, csr: csrFor(ids) };
});

type Outcome =
  | { op: "issue"; ok: true; serial: string; der: Buffer; phase: Phase }
  | { op: "issue" | "revoke"; ok: false; error: unknown; phase: Phase }
  | { op: "revoke"; ok: true; serial: string; phase: Phase }
  | { op: "ocsp"; status: number; phase: Phase };
type Phase = "before" | "outage" | "after";

async function ocspStatus(): Promise<number> {
  const res = await fetch(`${base}/ocsp`, {
    method: "POST",
    headers: { "content-type": "application/ocsp-request" },
    body: new Uint8Array(ocspReq),
  });
  expect(res.status).toBe(200);
  return AsnConvert.parse(Buffer.from(await res.arrayBuffer()), OCSPResponse).responseStatus;
}

/**
 * Runs issuing, revoking and OCSP lanes; `breakHsm` is called after `before` successful issuances,
 * `restore` after the outage lasted `outageMs`; stops after `after` successes following the restore.
 */
async function load(breakHsm: () => void, restore: () => void, n = { before: 60, after: 60, outageMs: 600 }) {
  const out: Outcome[] = [];
  let phase: Phase = "before";
  let okBefore = 0;
  let okAfter = 0;
  let stop = false;
  const issued: string[] = [];
  let next = 0;
  const issueLane = async () => {
    while (!stop) {
      const c = CSRS[next++ % CSRS.length]!;
      const at = phase;
      try {
        const cert = await f.ca.issue({ csr: c.csr, identifiers: c.ids, requester: { accountId: "load" } });
        out.push({ op: "issue", ok: true, serial: cert.serial, der: cert.der, phase: at });
        issued.push(cert.serial);
        if (phase === "before" && ++okBefore === n.before) {
          phase = "outage";
          breakHsm();
          setTimeout(() => {
            restore();
            phase = "after";
          }, n.outageMs);
        }
        if (at === "after" && ++okAfter >= n.after) stop = true;
      } catch (e) {
        out.push({ op: "issue", ok: false, error: e, phase }); // when it failed
        await new Promise((r) => setTimeout(r, 5)); // a client backing off
      }
    }
  };
  const revokeLane = async () => {
    while (!stop) {
      const serial = issued.shift();
      if (!serial) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const at = phase;
      try {
        await f.ca.revoke(serial, 4, { accountId: "load" });
        out.push({ op: "revoke", ok: true, serial, phase: at });
      } catch (e) {
        out.push({ op: "revoke", ok: false, error: e, phase });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const ocspLane = async () => {
    while (!stop) {
      const status = await ocspStatus();
      out.push({ op: "ocsp", status, phase }); // the phase it was answered in
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await Promise.all([...Array.from({ length: 12 }, issueLane), revokeLane(), ocspLane()]);
  return out;
}

async function checkStore(out: Outcome[]) {
  const rows = await f.db.all<{ serial: string; status: string; der: Buffer | null }>(
    "SELECT serial, status, der FROM ca_certificates",
  );
  const bySerial = new Map(rows.map((r) => [r.serial, r]));
  // nothing half-written: no intent is left in 'signing'
  expect(rows.filter((r) => r.status === "signing")).toEqual([]);
  // every certificate handed out is recorded as issued, with the same bytes
  for (const o of out)
    if (o.op === "issue" && o.ok) {
      expect(bySerial.get(o.serial)?.status).toBe("issued");
      expect(bySerial.get(o.serial)?.der?.equals(o.der)).toBe(true);
    }
  // every refused issuance left exactly one abandoned intent, audited
  const abandoned = rows.filter((r) => r.status === "abandoned").map((r) => `certificate:${r.serial}`);
  const abandonAudit = await f.db.all<{ subject: string }>(
    "SELECT subject FROM audit_log WHERE type = 'certificate.abandoned'",
  );
  expect(abandonAudit.map((a) => a.subject).sort()).toEqual(abandoned.sort());
  const report = await verifyAuditChain(f.db, {
    trustedKey: createPublicKey(readFileSync(f.boot.paths.auditKey)),
  });
  expect(report.problems).toEqual([]);
  return { abandoned: abandoned.length };
}

function checkOutcomes(out: Outcome[]) {
  const failures = out.filter((o) => "ok" in o && !o.ok) as Array<{ op: string; error: unknown; phase: Phase }>;
  expect(failures.length).toBeGreaterThan(0);
  for (const fl of failures) {
    expect(fl.error).toBeInstanceOf(ApplianceError);
    const e = fl.error as ApplianceError;
    expect(e.kind).toBe("unavailable");
    expect(e.retryAfter).toBeGreaterThan(0);
    expect(e.message).not.toMatch(/1234/); // the PIN
  }
  expect(failures.every((x) => x.phase !== "before")).toBe(true);
  const ocsp = out.filter((o) => o.op === "ocsp") as Array<{ status: number; phase: Phase }>;
  expect(ocsp.filter((o) => o.phase === "before").every((o) => o.status === OCSP_STATUS.successful)).toBe(true);
  // during the outage: tryLater (never a broken or unsigned answer)
  for (const o of ocsp) expect([OCSP_STATUS.successful, OCSP_STATUS.tryLater]).toContain(o.status);
  expect(ocsp.some((o) => o.status === OCSP_STATUS.tryLater)).toBe(true);
  const issuedAfter = out.filter((o) => o.op === "issue" && o.ok && o.phase === "after");
  expect(issuedAfter.length).toBeGreaterThanOrEqual(60);
  return failures.filter((x) => x.op === "issue").length;
}

describe("HSM unavailable mid-load", () => {
  const tokens = () => join(testSoftHsm().dir, "tokens");

  it("token directory removed: unavailable + retryAfter, OCSP tryLater, nothing half-written; resumes without restart", async () => {
    const abandonedBefore = (await checkStore([])).abandoned;
    const out = await load(
      () => renameSync(tokens(), `${tokens()}.gone`),
      () => renameSync(`${tokens()}.gone`, tokens()),
    );
    const issueFailures = checkOutcomes(out);
    const { abandoned } = await checkStore(out);
    expect(abandoned - abandonedBefore).toBe(issueFailures);
    expect(caErrors.length).toBeGreaterThan(0);
    for (const e of caErrors) expect(String((e as Error).message)).not.toMatch(/1234/);
  });

  it("module finalized underneath while the token is gone: same, and the CRL catches up with every revocation", async () => {
    const abandonedBefore = (await checkStore([])).abandoned;
    const out = await load(
      () => {
        renameSync(tokens(), `${tokens()}.gone`);
        f.token.withSession("break", (lib) => lib.C_Finalize());
      },
      () => renameSync(`${tokens()}.gone`, tokens()),
    );
    const issueFailures = checkOutcomes(out);
    const { abandoned } = await checkStore(out);
    expect(abandoned - abandonedBefore).toBe(issueFailures);
    // revocations recorded during the outage are in the CRL once the HSM is back (the next revocation
    // or the CRL service's retry regenerates it)
    const ids = [{ type: "dns" as const, value: "after-outage.plant.example" }];
    const last = await f.ca.issue({ csr: csrFor(ids), identifiers: ids, requester: { accountId: "load" } });
    await f.ca.revoke(last.serial, 0, { accountId: "load" });
    const crl = Buffer.from(await (await fetch(`${base}/ca/issuing.crl`)).arrayBuffer());
    const text = openssl(["crl", "-inform", "DER", "-noout", "-text"], crl).toUpperCase();
    const revoked = await f.db.all<{ serial: string }>(
      "SELECT serial FROM ca_certificates WHERE revoked_at IS NOT NULL",
    );
    expect(revoked.length).toBeGreaterThan(1);
    for (const r of revoked) expect(text).toContain(r.serial.toUpperCase());
  });

  it("HSM fails and the store refuses the abandonment too: the intent is abandoned once writes work again", async () => {
    const ids = [{ type: "dns" as const, value: "double-fault.plant.example" }];
    const write = f.db.write.bind(f.db);
    let refuse = false;
    // the store refuses every write while `refuse` is set (as with a full disk)
    f.db.write = ((fn: Parameters<typeof write>[0]) =>
      refuse
        ? Promise.reject(new ApplianceError("unavailable", "storage error: SQLITE_FULL", { retryAfter: 5 }))
        : write(fn)) as typeof f.db.write;
    const sign = HsmKey.prototype.sign;
    HsmKey.prototype.sign = async () => {
      refuse = true; // the intent is recorded; from now on nothing can be written
      throw new HsmError("pkcs11", "C_Sign failed: CKR_DEVICE_REMOVED", "CKR_DEVICE_REMOVED", "C_Sign");
    };
    try {
      await expect(
        f.ca.issue({ csr: csrFor(ids), identifiers: ids, requester: { accountId: "double" } }),
      ).rejects.toMatchObject({ kind: "unavailable" });
    } finally {
      HsmKey.prototype.sign = sign;
      refuse = false;
      f.db.write = write;
    }
    const stuck = await f.db.all<{ serial: string }>("SELECT serial FROM ca_certificates WHERE status = 'signing'");
    expect(stuck).toHaveLength(1);
    // the next completion (the store works again) resolves it, with its audit entry
    const ok = [{ type: "dns" as const, value: "after-double.plant.example" }];
    await f.ca.issue({ csr: csrFor(ok), identifiers: ok, requester: { accountId: "double" } });
    await expect
      .poll(
        async () =>
          (
            await f.db.get<{ status: string }>("SELECT status FROM ca_certificates WHERE serial = ?", [
              stuck[0]!.serial,
            ])
          )?.status,
      )
      .toBe("abandoned");
    expect(await f.db.get("SELECT type FROM audit_log WHERE subject = ?", [`certificate:${stuck[0]!.serial}`])).toEqual(
      { type: "certificate.abandoned" },
    );
    await checkStore([]);
  });
});
