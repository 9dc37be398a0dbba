// The appliance's own HTTPS certificate: TlsIdentity.ensure keeps a certificate that is not due and
// issues a new one from the SubCA once 2/3 of its lifetime have passed; the running server's renewal
// timer swaps a renewed certificate into the HTTPS listener without a restart.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Identifier } from "../../appliance/ca/api.js";
import { splitPem } from "../../appliance/server.js";
import { TlsIdentity } from "../../appliance/tls-identity.js";
import { type Harness, startHarness } from "../helpers/acme-harness.js";
import { openssl } from "../helpers/softhsm.js";

const NAMES: Identifier[] = [
  { type: "ip", value: "127.0.0.1" },
  { type: "dns", value: "localhost" },
];
let h: Harness;
/** the clock the server's renewal timer reads; the test moves it */
let clock: Date | undefined;

beforeAll(async () => {
  h = await startHarness({ tlsRenewal: { checkEveryMs: 50, now: () => clock ?? new Date() } });
});
afterAll(async () => {
  await h?.close();
});

/** openssl verify of the leaf of `chainPem` against the demo root, the SubCA given as untrusted. */
function verifyChain(chainPem: string): string {
  const dir = mkdtempSync(join(tmpdir(), "tls-renewal-"));
  const [leaf, ...rest] = splitPem(chainPem);
  writeFileSync(join(dir, "root.pem"), h.rootPem);
  writeFileSync(join(dir, "sub.pem"), rest.join("\n"));
  writeFileSync(join(dir, "leaf.pem"), leaf!);
  return openssl([
    "verify",
    "-CAfile",
    join(dir, "root.pem"),
    "-untrusted",
    join(dir, "sub.pem"),
    join(dir, "leaf.pem"),
  ]);
}

function leafOf(chainPem: string): X509Certificate {
  return new X509Certificate(splitPem(chainPem)[0]!);
}

/** The certificate the HTTPS listener serves to a new connection. */
function servedCertificate(): Promise<X509Certificate> {
  const port = Number(new URL(h.directoryUrl).port);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, ca: h.rootPem }, () => {
      const c = s.getPeerX509Certificate();
      s.end();
      if (c) resolve(c);
      else reject(new Error("no peer certificate"));
    });
    s.on("error", reject);
  });
}

describe("TlsIdentity.ensure", () => {
  it("issues at first start, keeps the certificate before 2/3 of its lifetime, renews from the SubCA after", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tls-id-"));
    const first = await TlsIdentity.ensure(dir, NAMES, h.ca);
    const a = leafOf(first.current.cert);
    expect(verifyChain(first.current.cert)).toMatch(/leaf\.pem: OK/);
    expect(a.issuer).toBe(leafOf(splitPem(first.current.cert)[1]!).subject);
    const nb = first.current.notBefore.getTime();
    const life = first.current.notAfter.getTime() - nb;
    const key = readFileSync(join(dir, "key.pem"), "utf8");

    // just before two thirds: loaded from disk, not reissued
    const before = new Date(nb + (life * 2) / 3 - 60_000);
    const kept = await TlsIdentity.ensure(dir, NAMES, h.ca, before);
    expect(kept.due(before)).toBe(false);
    expect(leafOf(kept.current.cert).serialNumber).toBe(a.serialNumber);

    // past two thirds: a new certificate from the SubCA, same key, written to disk
    const past = new Date(nb + (life * 2) / 3 + 60_000);
    const issuedBefore = await h.db.get<{ n: number }>(
      "SELECT count(*) AS n FROM ca_certificates WHERE status = 'issued'",
    );
    const renewed = await TlsIdentity.ensure(dir, NAMES, h.ca, past);
    const b = leafOf(renewed.current.cert);
    expect(b.serialNumber).not.toBe(a.serialNumber);
    expect(b.publicKey.export({ type: "spki", format: "der" })).toEqual(
      a.publicKey.export({ type: "spki", format: "der" }),
    );
    expect(readFileSync(join(dir, "key.pem"), "utf8")).toBe(key);
    expect(readFileSync(join(dir, "cert.pem"), "utf8")).toBe(renewed.current.cert);
    expect(verifyChain(renewed.current.cert)).toMatch(/leaf\.pem: OK/);
    expect(b.subjectAltName).toContain("IP Address:127.0.0.1");
    expect(b.subjectAltName).toContain("DNS:localhost");
    const issuedAfter = await h.db.get<{ n: number }>(
      "SELECT count(*) AS n FROM ca_certificates WHERE status = 'issued'",
    );
    expect(issuedAfter!.n).toBe(issuedBefore!.n + 1);
    // the renewed certificate is recorded by the CA (it can be revoked, it is in the audit chain)
    expect(await h.ca.getCertificate(b.serialNumber.toLowerCase())).toBeDefined();
  });
});

describe("the server's renewal timer", () => {
  it("renews the served certificate once the clock passes 2/3 of its lifetime, without a restart", async () => {
    const a = await servedCertificate();
    // nothing happens while the certificate is young
    await new Promise((r) => setTimeout(r, 300));
    expect((await servedCertificate()).serialNumber).toBe(a.serialNumber);
    const nb = new Date(a.validFrom).getTime();
    const na = new Date(a.validTo).getTime();
    clock = new Date(nb + ((na - nb) * 3) / 4);
    let b = a;
    for (let i = 0; i < 100 && b.serialNumber === a.serialNumber; i++) {
      await new Promise((r) => setTimeout(r, 50));
      b = await servedCertificate();
    }
    clock = undefined; // back to the real time: the new certificate is young again
    expect(b.serialNumber).not.toBe(a.serialNumber);
    expect(b.issuer).toBe(a.issuer);
    // the CA issues on the real clock (only the timer's clock moved): the new certificate runs at least as
    // long as the old one (equal when both were issued within the same second)
    expect(new Date(b.validTo).getTime()).toBeGreaterThanOrEqual(na);
    expect(h.logs.some((l) => l.msg === "renewed the appliance's HTTPS certificate")).toBe(true);
    // the new connection verified against the demo root (tls.connect with ca: rootPem) and the file
    // on disk is the served chain
    const onDisk = readFileSync(join(h.dir, "tls", "cert.pem"), "utf8");
    expect(leafOf(onDisk).serialNumber).toBe(b.serialNumber);
    expect(verifyChain(onDisk)).toMatch(/leaf\.pem: OK/);
  });
});
