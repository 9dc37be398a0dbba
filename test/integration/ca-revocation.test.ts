// Revocation, CRL and OCSP over the PKI HTTP app against real openssl: ocsp good -> revoked,
// crl -verify, CRL numbers increasing, malformed requests answered (never a crash), CA certs at AIA.
import type { Server } from "node:http";
import { execFile, spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { derToPem } from "../../appliance/ca/cert-parse.js";
import { createPkiHttpApp } from "../../appliance/ca/http.js";
import { Ca } from "../../appliance/ca/ca.js";
import { HsmError, HsmKey } from "../../hsm/index.js";
import { caFixture, type CaFixture } from "../helpers/ca-fixture.js";
import { csrFor } from "../helpers/csr.js";
import { openssl, writeTemp } from "../helpers/softhsm.js";

let f: CaFixture;
let server: Server;
let base: string;
let rootPem: string;
let subPem: string;

beforeAll(async () => {
  f = await caFixture();
  server = createPkiHttpApp(f.ca).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const addr = server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
  rootPem = writeTemp(f.dir, "root.pem", derToPem(f.boot.rootDer));
  subPem = writeTemp(f.dir, "sub.pem", derToPem(f.boot.issuingDer));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await f.close();
});

async function issue(name: string) {
  const ids = [{ type: "dns" as const, value: name }];
  const cert = await f.ca.issue({ csr: csrFor(ids), identifiers: ids, requester: { accountId: "a1" } });
  return { ...cert, pem: writeTemp(f.dir, `${name}.pem`, derToPem(cert.der)) };
}

/** openssl ocsp against the in-process responder: must not block the event loop (no spawnSync). */
function ocsp(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      "openssl",
      ["ocsp", "-issuer", subPem, "-CAfile", rootPem, "-url", `${base}/ocsp`, "-timeout", "20", ...args],
      (_err, stdout, stderr) => resolve(stdout + stderr),
    );
  });
}

async function fetchCrl(): Promise<{ der: Buffer; text: string; path: string }> {
  const res = await fetch(`${base}/ca/issuing.crl`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/pkix-crl");
  const der = Buffer.from(await res.arrayBuffer());
  const path = writeTemp(f.dir, "issuing.crl", der);
  const r = spawnSync("openssl", [
    "crl",
    "-inform",
    "DER",
    "-in",
    path,
    "-CAfile",
    subPem,
    "-noout",
    "-verify",
    "-text",
  ]);
  expect(r.stderr.toString()).toMatch(/verify OK/);
  expect(r.status).toBe(0);
  return { der, text: r.stdout.toString(), path };
}

describe("OCSP and CRL", () => {
  it("openssl ocsp: good, then revoked (keyCompromise) after revoke(); CRL lists it with a higher number", async () => {
    const leaf = await issue("plc-rev.plant.example");
    const good = await ocsp(["-cert", leaf.pem]);
    expect(good).toMatch(/Response verify OK/);
    expect(good).toMatch(new RegExp(`${leaf.pem.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: good`));
    expect(good).not.toMatch(/WARNING: no nonce/);

    const crl1 = await fetchCrl();
    const n1 = Number(/CRL Number:\s*\n\s*(\d+)/.exec(crl1.text)![1]);
    await f.ca.revoke(leaf.serial, 1, { accountId: "a1" });

    const revoked = await ocsp(["-cert", leaf.pem]);
    expect(revoked).toMatch(/Response verify OK/);
    expect(revoked).toMatch(/: revoked/);
    expect(revoked).toMatch(/Reason: keyCompromise/);

    const crl2 = await fetchCrl();
    const n2 = Number(/CRL Number:\s*\n\s*(\d+)/.exec(crl2.text)![1]);
    expect(n2).toBeGreaterThan(n1);
    expect(crl2.text.toUpperCase()).toContain(leaf.serial.toUpperCase());
    expect(crl2.text).toMatch(/Key Compromise/);
    // a CRL-checking verifier now refuses the leaf
    const both = writeTemp(f.dir, "chain+crl.pem", derToPem(f.boot.issuingDer) + derToPem(crl2.der, "X509 CRL"));
    const v = spawnSync("openssl", [
      "verify",
      "-crl_check",
      "-CAfile",
      rootPem,
      "-untrusted",
      subPem,
      "-CRLfile",
      both,
      leaf.pem,
    ]);
    expect(v.stdout.toString() + v.stderr.toString()).toMatch(/certificate revoked/);

    const stored = await f.ca.getCertificate(leaf.serial);
    expect(stored?.revocation).toMatchObject({ status: "revoked", reason: 1 });
    const audit = await f.db.all<{ type: string }>("SELECT type FROM audit_log WHERE subject = ? ORDER BY seq", [
      `certificate:${leaf.serial}`,
    ]);
    expect(audit.map((a) => a.type)).toEqual(["certificate.issued", "certificate.revoked"]);
    const crlAudit = await f.db.get<{ details: string }>(
      "SELECT details FROM audit_log WHERE type = 'crl.generated' ORDER BY seq DESC LIMIT 1",
    );
    expect(JSON.parse(crlAudit!.details)).toMatchObject({ crlNumber: String(n2), entries: 1 });
  });

  it("HSM down during revocation: recorded and reported, the CRL catches up once it is back", async () => {
    const leaf = await issue("plc-hsmdown.plant.example");
    const before = f.ca.crl.current()!.number;
    const orig = HsmKey.prototype.sign;
    HsmKey.prototype.sign = async () => {
      throw new HsmError("pkcs11", "device removed", "CKR_DEVICE_REMOVED", "C_Sign");
    };
    try {
      await expect(f.ca.revoke(leaf.serial, 4, {})).rejects.toMatchObject({
        kind: "unavailable",
        message: expect.stringMatching(/is revoked \(OCSP reflects it\) but the CRL could not be regenerated/),
      });
    } finally {
      HsmKey.prototype.sign = orig;
    }
    expect((await f.ca.getCertificate(leaf.serial))?.revocation).toMatchObject({ status: "revoked", reason: 4 });
    const next = await f.ca.crl.refresh("test");
    expect(next.number).toBeGreaterThan(before);
    expect((await fetchCrl()).text.toUpperCase()).toContain(leaf.serial.toUpperCase());
  });

  it("revocation errors: already revoked, unknown serial, refused reason", async () => {
    const leaf = await issue("plc-rev2.plant.example");
    await f.ca.revoke(leaf.serial, 0, { actor: "operator:alice" });
    await expect(f.ca.revoke(leaf.serial, 4, {})).rejects.toMatchObject({ kind: "alreadyRevoked" });
    await expect(f.ca.revoke("00ff", 0, {})).rejects.toMatchObject({ kind: "notFound" });
    await expect(f.ca.revoke(leaf.serial, 6, {})).rejects.toMatchObject({ kind: "badRevocationReason" });
    await expect(f.ca.revoke(leaf.serial, 7, {})).rejects.toMatchObject({ kind: "badRevocationReason" });
  });

  it("OCSP GET (RFC 6960 Appendix A) without nonce; unknown serial; responses cacheable", async () => {
    const leaf = await issue("plc-get.plant.example");
    const reqPath = `${f.dir}/req.der`;
    openssl(["ocsp", "-issuer", subPem, "-cert", leaf.pem, "-no_nonce", "-reqout", reqPath]);
    const req = (await import("node:fs")).readFileSync(reqPath);
    const res = await fetch(`${base}/ocsp/${encodeURIComponent(req.toString("base64"))}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/ocsp-response");
    expect(res.headers.get("cache-control")).toMatch(/max-age=43200/);
    const respPath = writeTemp(f.dir, "resp.der", Buffer.from(await res.arrayBuffer()));
    const out = spawnSync("openssl", [
      "ocsp",
      "-respin",
      respPath,
      "-issuer",
      subPem,
      "-cert",
      leaf.pem,
      "-CAfile",
      rootPem,
    ]);
    expect(out.stderr.toString()).toMatch(/Response verify OK/);
    expect(out.stdout.toString()).toMatch(/plc-get.plant.example.pem: good/);
    const unknown = await ocsp(["-serial", "0x1234567890", "-no_nonce"]);
    expect(unknown).toMatch(/0x1234567890: unknown/);
  });

  it("garbage gets malformedRequest, never a crash; the responder keeps answering", async () => {
    const malformed = "30030a0101";
    for (const body of [
      Buffer.from("garbage"),
      Buffer.alloc(0),
      Buffer.from("3080", "hex"),
      Buffer.from("30820000", "hex"),
    ]) {
      const res = await fetch(`${base}/ocsp`, {
        method: "POST",
        headers: { "content-type": "application/ocsp-request" },
        body,
      });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).toString("hex")).toBe(malformed);
    }
    for (const path of ["/ocsp/%%%", "/ocsp/AAAA", "/ocsp/MAA="]) {
      const res = await fetch(`${base}${path}`);
      expect(Buffer.from(await res.arrayBuffer()).toString("hex")).toBe(malformed);
    }
    const big = await fetch(`${base}/ocsp`, {
      method: "POST",
      headers: { "content-type": "application/ocsp-request" },
      body: Buffer.alloc(100_000),
    });
    expect(big.status).toBe(413);
    expect((await fetch(`${base}/ocsp`, { method: "POST", body: "x" })).status).toBe(415);
    const leaf = await issue("plc-after.plant.example");
    expect(await ocsp(["-cert", leaf.pem])).toMatch(/: good/);
  });

  it("serves the CA certificates at the AIA URL and the root CRL", async () => {
    const iss = await fetch(`${base}/ca/issuing.crt`);
    expect(iss.headers.get("content-type")).toBe("application/pkix-cert");
    expect(Buffer.from(await iss.arrayBuffer()).equals(f.boot.issuingDer)).toBe(true);
    const root = await fetch(`${base}/ca/root.crt`);
    expect(Buffer.from(await root.arrayBuffer()).equals(f.boot.rootDer)).toBe(true);
    const rc = await fetch(`${base}/ca/root.crl`);
    const p = writeTemp(f.dir, "root.crl", Buffer.from(await rc.arrayBuffer()));
    const r = spawnSync("openssl", ["crl", "-inform", "DER", "-in", p, "-CAfile", rootPem, "-noout", "-verify"]);
    expect(r.stderr.toString()).toMatch(/verify OK/);
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
  });

  it("the CRL is regenerated on schedule: a start after the refresh time makes a new one with a higher number", async () => {
    const cur = f.ca.crl.current()!;
    const later = new Date(Date.now() + 2 * 86400_000);
    const ca2 = await Ca.start({
      config: (await import("../../appliance/ca/config.js")).parseCaConfig(f.boot.config),
      db: f.db,
      audit: f.ca.audit,
      issuingKey: f.boot.keys.issuing,
      issuingCertificate: f.boot.issuingDer,
      rootCertificate: f.boot.rootDer,
      keyPolicy: new (await import("../../appliance/ca/goodkey.js")).KeyPolicy(),
      now: () => later,
    });
    try {
      const next = ca2.crl.current()!;
      expect(next.number).toBeGreaterThan(cur.number);
      expect(next.thisUpdate.getTime()).toBe(Math.floor(later.getTime() / 1000) * 1000);
      expect(next.nextUpdate.getTime() - next.thisUpdate.getTime()).toBe(7 * 86400_000);
    } finally {
      await ca2.close();
    }
  });
});
