// The CA end to end on SoftHSM + sqlite: issued leaves pass openssl verify -x509_strict against
// root + SubCA; every policy rule refuses with a clear reason and records nothing; startup key check.
import { createHash, generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Identifier } from "../../appliance/ca/api.js";
import { derToPem, parseCertificate } from "../../appliance/ca/cert-parse.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import { ctx, int, seq } from "../../appliance/ca/der.js";
import { type ApplianceErrorKind, isApplianceError } from "../../appliance/errors.js";
import { caFixture, type CaFixture } from "../helpers/ca-fixture.js";
import { buildCsr, csrFor, p256 } from "../helpers/csr.js";
import { HsmError, HsmKey } from "../../hsm/index.js";
import { openssl, writeTemp } from "../helpers/softhsm.js";
import { fermatWeakKey, rocaWeakKey } from "../helpers/weak-rsa.js";

let f: CaFixture;
beforeAll(async () => {
  f = await caFixture();
});
afterAll(async () => {
  await f.close();
});

const dns = (value: string): Identifier => ({ type: "dns", value });
const ip = (value: string): Identifier => ({ type: "ip", value });
const requester = { accountId: "acct-1", orderId: "order-1" };

async function rowCount(on: CaFixture = f): Promise<number> {
  return (await on.db.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates"))!.n;
}

/** Rows in ca_certificates (intents included) and audit entries. */
async function recorded(on: CaFixture): Promise<{ rows: number; audit: number }> {
  return {
    rows: await rowCount(on),
    audit: (await on.db.get<{ n: number }>("SELECT count(*) AS n FROM audit_log"))!.n,
  };
}

/** The request is refused with `kind` and a message matching `reason`, and nothing is recorded. */
async function refused(
  req: Parameters<CaFixture["ca"]["issue"]>[0],
  kind: ApplianceErrorKind,
  reason: RegExp,
  on: CaFixture = f,
): Promise<void> {
  const before = await recorded(on);
  const err = await on.ca.issue(req).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "request should have been refused").toBeDefined();
  expect(isApplianceError(err), String(err)).toBe(true);
  expect((err as { kind: string }).kind).toBe(kind);
  expect((err as Error).message).toMatch(reason);
  expect(await recorded(on)).toEqual(before);
}

function verifyLeaf(der: Buffer, name: string, purpose = "sslserver"): string {
  const root = writeTemp(f.dir, "v-root.pem", derToPem(f.boot.rootDer));
  const sub = writeTemp(f.dir, "v-sub.pem", derToPem(f.boot.issuingDer));
  const leaf = writeTemp(f.dir, `${name}.pem`, derToPem(der));
  return openssl(["verify", "-x509_strict", "-purpose", purpose, "-CAfile", root, "-untrusted", sub, leaf]);
}

describe("issuance", () => {
  it("issues a device-tls leaf that openssl verifies strictly; recorded once, audited, chain returned", async () => {
    const ids = [dns("plc1.plant.example"), ip("10.20.3.4"), ip("::1")];
    const before = new Date();
    const cert = await f.ca.issue({ csr: csrFor(ids), identifiers: ids, requester });
    expect(verifyLeaf(cert.der, "leaf1")).toMatch(/: OK/);
    expect(cert.serial).toMatch(/^[0-9a-f]{32}$/);
    expect(cert.chainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    // backdated by the configured 300 s; default validity 30 days - 1 s
    expect(before.getTime() - cert.notBefore.getTime()).toBeGreaterThanOrEqual(299_000);
    expect(before.getTime() - cert.notBefore.getTime()).toBeLessThan(302_000);
    expect(cert.notAfter.getTime() - cert.notBefore.getTime()).toBe(30 * 86400_000 - 1000);
    const rows = await f.db.all<{ status: string; der: Buffer }>(
      "SELECT status, der FROM ca_certificates WHERE serial = ?",
      [cert.serial],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe("issued");
    expect(rows[0]!.der.equals(cert.der)).toBe(true);
    const stored = await f.ca.getCertificate(cert.serial);
    expect(stored?.revocation).toEqual({ status: "good" });
    expect(stored?.accountId).toBe("acct-1");
    expect(
      stored?.authorityKeyId.equals(parseCertificate(f.boot.issuingDer).extensions.get("2.5.29.14")!.value.subarray(2)),
    ).toBe(true);
    const audit = await f.db.get<{ type: string; details: string }>(
      "SELECT type, details FROM audit_log WHERE subject = ?",
      [`certificate:${cert.serial}`],
    );
    expect(audit?.type).toBe("certificate.issued");
    expect(JSON.parse(audit!.details).identifiers).toEqual(["dns:plc1.plant.example", "ip:10.20.3.4", "ip:::1"]);
  });

  it("device-client profile, no CN (empty subject, critical SAN), RSA-2048 key, concurrent requests", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const spki = Buffer.from(rsa.publicKey.export({ type: "spki", format: "der" }));
    const ids = [dns("hmi.plant.example")];
    const csr = buildCsr({ privateKey: rsa.privateKey, spki, sans: ids, alg: "rsa-pkcs1-sha256" });
    const cert = await f.ca.issue({ csr, identifiers: ids, profile: "device-client", requester });
    expect(verifyLeaf(cert.der, "leaf-client", "sslclient")).toMatch(/: OK/);
    expect(openssl(["x509", "-noout", "-text", "-in", writeTemp(f.dir, "lc.pem", derToPem(cert.der))])).toMatch(
      /X509v3 Subject Alternative Name: critical/,
    );
    const many = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const id = [dns(`dev${i}.plant.example`)];
        return f.ca.issue({ csr: csrFor(id), identifiers: id, requester });
      }),
    );
    expect(new Set(many.map((c) => c.serial)).size).toBe(40);
  });

  it("profiles() and checkIdentifiers() describe the policy", () => {
    expect(f.ca.profiles().map((p) => p.name)).toEqual(["device-tls", "device-client"]);
    expect(f.ca.defaultProfile).toBe("device-tls");
    const v = f.ca.checkIdentifiers([dns("a.plant.example"), dns("badplant.example"), ip("192.168.0.1")]);
    expect(v.map((x) => x.ok)).toEqual([true, false, false]);
    expect(v[1]!.reason).toMatch(/outside the permitted DNS subtrees/);
  });
});

describe("policy: refused before signing, with a reason, nothing recorded", () => {
  it("identifiers outside the SubCA's name constraints", async () => {
    for (const [id, why] of [
      [dns("badplant.example"), /outside the permitted DNS subtrees/],
      [dns("x.bad.plant.example"), /excluded DNS subtree "bad.plant.example"/],
      [ip("10.20.99.5"), /excluded IP range 10.20.99.0\/24/],
      [ip("192.168.1.1"), /outside the permitted IP ranges/],
      [ip("fe80::1"), /outside the permitted IP ranges/],
    ] as const)
      await refused({ csr: csrFor([id]), identifiers: [id], requester }, "rejectedIdentifier", why);
  });

  it("identifier syntax: wildcard, upper case, trailing dot, non-canonical IP", async () => {
    await refused(
      { csr: csrFor([dns("*.plant.example")]), identifiers: [dns("*.plant.example")], requester },
      "rejectedIdentifier",
      /wildcard/,
    );
    await refused(
      { csr: csrFor([dns("PLC.plant.example")]), identifiers: [dns("PLC.plant.example")], requester },
      "rejectedIdentifier",
      /lower case/,
    );
    await refused(
      { csr: csrFor([dns("plc.plant.example.")]), identifiers: [dns("plc.plant.example.")], requester },
      "rejectedIdentifier",
      /must not end with a dot/,
    );
    await refused(
      { csr: csrFor([ip("::1")]), identifiers: [ip("0:0:0:0:0:0:0:1")], requester },
      "rejectedIdentifier",
      /canonical/,
    );
  });

  it("SAN required", async () => {
    const k = p256();
    const csr = buildCsr({ privateKey: k.privateKey, spki: k.spki, cn: "plc.plant.example" });
    await refused({ csr, identifiers: [dns("plc.plant.example")], requester }, "badCSR", /a SAN is required/);
  });

  it("an IP address in the CSR's CN is left out of the certificate subject (kept as iPAddress SAN)", async () => {
    const k = p256();
    const ids = [{ type: "ip" as const, value: "10.20.3.9" }];
    const csr = buildCsr({ privateKey: k.privateKey, spki: k.spki, cn: "10.20.3.9", sans: ids });
    const cert = await f.ca.issue({ csr, identifiers: ids, requester });
    expect(verifyLeaf(cert.der, "leaf-ip-cn")).toMatch(/: OK/);
    const text = openssl([
      "x509",
      "-noout",
      "-subject",
      "-ext",
      "subjectAltName",
      "-in",
      writeTemp(f.dir, "ipcn.pem", derToPem(cert.der)),
    ]);
    expect(text).not.toMatch(/CN\s*=/);
    expect(text).toMatch(/IP Address:10.20.3.9/);
  });

  it("an IP literal written as a dNSName in the CSR is issued as an iPAddress SAN", async () => {
    const k = p256();
    const csr = buildCsr({ privateKey: k.privateKey, spki: k.spki, sans: [dns("10.20.3.10")] });
    const cert = await f.ca.issue({ csr, identifiers: [{ type: "ip", value: "10.20.3.10" }], requester });
    expect(verifyLeaf(cert.der, "leaf-ip-dnsname")).toMatch(/: OK/);
    const text = openssl([
      "x509",
      "-noout",
      "-ext",
      "subjectAltName",
      "-in",
      writeTemp(f.dir, "ipdn.pem", derToPem(cert.der)),
    ]);
    expect(text).toMatch(/IP Address:10.20.3.10/);
    expect(text).not.toMatch(/DNS:/);
  });

  it("CN must equal one of the SANs", async () => {
    const k = p256();
    const ids = [dns("a.plant.example")];
    const csr = buildCsr({ privateKey: k.privateKey, spki: k.spki, cn: "b.plant.example", sans: ids });
    await refused(
      { csr, identifiers: ids, requester },
      "badCSR",
      /common name "b.plant.example" is not one of its subjectAltNames/,
    );
  });

  it("the CSR must name exactly the authorised identifiers; only dNSName/iPAddress SANs", async () => {
    const both = [dns("a.plant.example"), dns("b.plant.example")];
    await refused(
      { csr: csrFor(both), identifiers: [both[0]!], requester },
      "badCSR",
      /not authorised: dns:b.plant.example/,
    );
    await refused({ csr: csrFor([both[0]!]), identifiers: both, requester }, "badCSR", /lacks authorised identifiers/);
    const k = p256();
    const email = ctx(1, false, Buffer.from("ops@plant.example"));
    const csr = buildCsr({ privateKey: k.privateKey, spki: k.spki, sans: [both[0]!], extraSanDer: [email] });
    await refused({ csr, identifiers: [both[0]!], requester }, "badCSR", /other than dNSName \/ iPAddress/);
  });

  it("CSR signature must verify", async () => {
    const k = p256();
    const ids = [dns("a.plant.example")];
    const good = buildCsr({ privateKey: k.privateKey, spki: k.spki, sans: ids });
    const other = buildCsr({ privateKey: p256().privateKey, spki: k.spki, sans: ids });
    expect(good.equals(other)).toBe(false);
    await refused({ csr: other, identifiers: ids, requester }, "badCSR", /signature does not verify/);
    await refused({ csr: Buffer.from("not a csr"), identifiers: ids, requester }, "badCSR", /cannot be parsed/);
  });

  it("key types: P-521 and Ed25519 (not enabled) refused", async () => {
    const ids = [dns("k.plant.example")];
    const p521 = generateKeyPairSync("ec", { namedCurve: "secp521r1" });
    const csr521 = buildCsr({
      privateKey: p521.privateKey,
      spki: Buffer.from(p521.publicKey.export({ type: "spki", format: "der" })),
      sans: ids,
      alg: "ecdsa-sha512",
    });
    await refused({ csr: csr521, identifiers: ids, requester }, "badKey", /curve 1.3.132.0.35 is not allowed/);
    const ed = generateKeyPairSync("ed25519");
    const csrEd = buildCsr({
      privateKey: ed.privateKey,
      spki: Buffer.from(ed.publicKey.export({ type: "spki", format: "der" })),
      sans: ids,
      alg: "ed25519",
    });
    await refused({ csr: csrEd, identifiers: ids, requester }, "badKey", /Ed25519 keys are not enabled/);
  });

  it("EC point not on the curve", async () => {
    const k = p256();
    const spki = Buffer.from(k.spki);
    spki[spki.length - 1]! ^= 0x01;
    const ids = [dns("k.plant.example")];
    await refused(
      { csr: buildCsr({ spki, sans: ids, signature: Buffer.alloc(70, 1) }), identifiers: ids, requester },
      "badKey",
      /not on the curve|cannot be parsed/,
    );
  });

  it("RSA: too small, exponent not 65537, small prime factor", async () => {
    const ids = [dns("r.plant.example")];
    const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const csr1024 = buildCsr({
      privateKey: rsa1024.privateKey,
      spki: Buffer.from(rsa1024.publicKey.export({ type: "spki", format: "der" })),
      sans: ids,
      alg: "rsa-pkcs1-sha256",
    });
    await refused({ csr: csr1024, identifiers: ids, requester }, "badKey", /too small: 1024 bits/);
    const e3 = generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 3 });
    const csrE3 = buildCsr({
      privateKey: e3.privateKey,
      spki: Buffer.from(e3.publicKey.export({ type: "spki", format: "der" })),
      sans: ids,
      alg: "rsa-pkcs1-sha256",
    });
    await refused({ csr: csrE3, identifiers: ids, requester }, "badKey", /exponent must be 65537 \(got 3\)/);
    // n = 3 * odd, 2048 bits: refused on the key alone (the signature is never looked at)
    let n = (1n << 2047n) | 1n;
    n -= n % 3n;
    if (n % 2n === 0n) n += 3n;
    const mag = Buffer.from(n.toString(16).padStart(512, "0"), "hex");
    const rsaKey = seq(Buffer.concat([Buffer.from([0x02, 0x82, 0x01, 0x01, 0x00]), mag]), int(65537));
    const spki = seq(
      seq(Buffer.from("06092a864886f70d010101", "hex"), Buffer.from([0x05, 0x00])),
      Buffer.concat([Buffer.from([0x03, 0x82, (rsaKey.length + 1) >> 8, (rsaKey.length + 1) & 0xff, 0x00]), rsaKey]),
    );
    await refused(
      {
        csr: buildCsr({ spki, sans: ids, alg: "rsa-pkcs1-sha256", signature: Buffer.alloc(256, 7) }),
        identifiers: ids,
        requester,
      },
      "badKey",
      /divisible by the small prime 3/,
    );
  });

  it("RSA: ROCA fingerprint", async () => {
    const k = rocaWeakKey();
    const ids = [dns("roca.plant.example")];
    const csr = buildCsr({ privateKey: k.privateKey, spki: k.spki, sans: ids, alg: "rsa-pkcs1-sha256" });
    await refused({ csr, identifiers: ids, requester }, "badKey", /ROCA/);
  });

  it("RSA: primes too close (Fermat)", async () => {
    const k = fermatWeakKey();
    const ids = [dns("fermat.plant.example")];
    const csr = buildCsr({ privateKey: k.privateKey, spki: k.spki, sans: ids, alg: "rsa-pkcs1-sha256" });
    await refused({ csr, identifiers: ids, requester }, "badKey", /Fermat/);
  });

  it("validity: beyond the profile maximum, beyond the issuer, notBefore too far back", async () => {
    const ids = [dns("v.plant.example")];
    const now = Date.now();
    await refused(
      { csr: csrFor(ids), identifiers: ids, notAfter: new Date(now + 400 * 86400_000), requester },
      "policyViolation",
      /exceeds profile "device-tls" maximum of 397.0 days/,
    );
    await refused(
      { csr: csrFor(ids), identifiers: ids, notBefore: new Date(now - 3600_000), requester },
      "policyViolation",
      /more than 300 s in the past/,
    );
    await refused(
      { csr: csrFor(ids), identifiers: ids, profile: "nope", requester },
      "policyViolation",
      /unknown certificate profile/,
    );
  });

  it("too many identifiers; notBefore more than a day in the future", async () => {
    const many = Array.from({ length: 21 }, (_, i) => dns(`n${i}.plant.example`));
    await refused(
      { csr: csrFor(many), identifiers: many, requester },
      "policyViolation",
      /21 identifiers exceed this CA's maximum of 20 per certificate/,
    );
    const ids = [dns("future.plant.example")];
    await refused(
      { csr: csrFor(ids), identifiers: ids, notBefore: new Date(Date.now() + 25 * 3600_000), requester },
      "policyViolation",
      /requested notBefore is more than a day in the future/,
    );
  });

  it("key policy from the config: RSA above maxRsaBits, P-384 disabled, RSA disabled", async () => {
    const g = await caFixture({ keyPolicy: { maxRsaBits: 2048, allowP384: false } });
    const h = await caFixture({ keyPolicy: { allowRsa: false } });
    try {
      const ids = [dns("kp.plant.example")];
      const rsa3072 = generateKeyPairSync("rsa", { modulusLength: 3072 });
      const csr3072 = buildCsr({
        privateKey: rsa3072.privateKey,
        spki: Buffer.from(rsa3072.publicKey.export({ type: "spki", format: "der" })),
        sans: ids,
        alg: "rsa-pkcs1-sha256",
      });
      await refused(
        { csr: csr3072, identifiers: ids, requester },
        "badKey",
        /RSA key too large: 3072 bits \(maximum 2048\)/,
        g,
      );
      const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
      const csr384 = buildCsr({
        privateKey: p384.privateKey,
        spki: Buffer.from(p384.publicKey.export({ type: "spki", format: "der" })),
        sans: ids,
        alg: "ecdsa-sha384",
      });
      await refused({ csr: csr384, identifiers: ids, requester }, "badKey", /P-384 keys are not allowed/, g);
      // the same P-384 CSR is issued where P-384 is allowed (the default): the refusal is the config's
      expect((await f.ca.issue({ csr: csr384, identifiers: ids, requester })).serial).toMatch(/^[0-9a-f]+$/);
      await refused({ csr: csr3072, identifiers: ids, requester }, "badKey", /RSA keys are not allowed/, h);
    } finally {
      await g.close();
      await h.close();
    }
  });

  it("validity never beyond the issuer's notAfter (profile allowing 10 years)", async () => {
    const g = await caFixture({ profiles: { maxValidityDays: 3650, validityDays: 30 } });
    try {
      const ids = [dns("long.plant.example")];
      const before = (await g.db.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates"))!.n;
      await expect(
        g.ca.issue({
          csr: csrFor(ids),
          identifiers: ids,
          notAfter: new Date(Date.now() + 3 * 365 * 86400_000),
          requester,
        }),
      ).rejects.toThrow(/after the issuing CA certificate/);
      expect((await g.db.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates"))!.n).toBe(before);
    } finally {
      await g.close();
    }
  });
});

describe("the installed SubCA's own name constraints bind even when the config policy is broader", () => {
  it("refuses names outside the SubCA certificate's constraints before signing; nothing recorded", async () => {
    // the SubCA (bootstrap TEST_NAMES) permits plant.example/localhost, 10.20.0.0/16, ... and excludes
    // bad.plant.example and 10.20.99.0/24; the configured policy permits all of example. and 10/8
    const g = await caFixture({
      policy: {
        permittedDns: ["example", "localhost"],
        excludedDns: [],
        permittedIp: ["10.0.0.0/8", "127.0.0.0/8", "::1/128"],
        excludedIp: [],
      },
    });
    try {
      const text = openssl([
        "x509",
        "-noout",
        "-text",
        "-in",
        writeTemp(g.dir, "sub.pem", derToPem(g.boot.issuingDer)),
      ]);
      expect(text).toMatch(/Permitted:\s+DNS:plant\.example/);
      expect(text).not.toMatch(/DNS:example\b/);
      const counts = async () => ({
        certs: (await g.db.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates"))!.n,
        audit: (await g.db.get<{ n: number }>("SELECT count(*) AS n FROM audit_log"))!.n,
      });
      // the control: a name both allow is issued
      const okIds = [dns("plc.plant.example")];
      const ok = await g.ca.issue({ csr: csrFor(okIds), identifiers: okIds, requester });
      expect(ok.serial).toMatch(/^[0-9a-f]+$/);
      for (const [id, why] of [
        [dns("other.example"), /outside the permitted DNS subtrees/],
        [dns("x.bad.plant.example"), /excluded DNS subtree "bad.plant.example"/],
        [ip("10.30.0.1"), /outside the permitted IP ranges/],
        [ip("10.20.99.5"), /excluded IP range 10.20.99.0\/24/],
      ] as const) {
        // the configured policy alone would allow it ...
        expect(g.ca.checkIdentifiers([id])[0]!.reason).toMatch(/issuing CA certificate's name constraints/);
        const before = await counts();
        const err = await g.ca.issue({ csr: csrFor([id]), identifiers: [id], requester }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isApplianceError(err), String(err)).toBe(true);
        expect((err as { kind: string }).kind).toBe("rejectedIdentifier");
        expect((err as Error).message).toMatch(why);
        expect((err as Error).message).toMatch(/\(issuing CA certificate's name constraints\)/);
        // ... no intent row, no certificate, no audit entry
        expect(await counts()).toEqual(before);
      }
    } finally {
      await g.close();
    }
  });
});

describe("validity per profile", () => {
  it("device-client gets its own validity and maximum; device-tls keeps the global ones", async () => {
    const g = await caFixture({
      profiles: {
        validityDays: 30,
        maxValidityDays: 397,
        perProfile: { "device-client": { validityDays: 7, maxValidityDays: 14 } },
      },
    });
    try {
      expect(g.ca.profiles().map((p) => [p.name, p.validitySeconds])).toEqual([
        ["device-tls", 30 * 86400],
        ["device-client", 7 * 86400],
      ]);
      const n = async () => (await g.db.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates"))!.n;
      const days = (der: Buffer) => {
        const c = parseCertificate(der);
        return (c.notAfter.getTime() - c.notBefore.getTime() + 1000) / 86400_000;
      };
      const ids = [dns("pp.plant.example")];
      const tls = await g.ca.issue({ csr: csrFor(ids), identifiers: ids, requester });
      const client = await g.ca.issue({ csr: csrFor(ids), identifiers: ids, profile: "device-client", requester });
      expect(days(tls.der)).toBe(30);
      expect(days(client.der)).toBe(7);
      // requested windows: 20 days is within device-tls's 397 but beyond device-client's 14
      const in20 = new Date(Date.now() + 20 * 86400_000);
      await g.ca.issue({ csr: csrFor(ids), identifiers: ids, notAfter: in20, requester });
      const before = await n();
      await expect(
        g.ca.issue({ csr: csrFor(ids), identifiers: ids, profile: "device-client", notAfter: in20, requester }),
      ).rejects.toMatchObject({
        kind: "policyViolation",
        message: expect.stringMatching(/exceeds profile "device-client" maximum of 14.0 days/),
      });
      expect(await n()).toBe(before);
    } finally {
      await g.close();
    }
  });

  it("a per-profile validity beyond the issuer's notAfter is refused, not shortened", async () => {
    // the fixture SubCA lives 2 years; device-client's default validity is 3 years
    const g = await caFixture({
      profiles: {
        maxValidityDays: 3650,
        perProfile: { "device-client": { validityDays: 1100, maxValidityDays: 1200 } },
      },
    });
    try {
      const ids = [dns("pp2.plant.example")];
      const n = async () => (await g.db.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates"))!.n;
      const before = await n();
      await expect(
        g.ca.issue({ csr: csrFor(ids), identifiers: ids, profile: "device-client", requester }),
      ).rejects.toMatchObject({
        kind: "policyViolation",
        message: expect.stringMatching(/after the issuing CA certificate/),
      });
      expect(await n()).toBe(before);
      const tls = await g.ca.issue({ csr: csrFor(ids), identifiers: ids, requester });
      expect(tls.notAfter.getTime() - tls.notBefore.getTime()).toBe(30 * 86400_000 - 1000);
    } finally {
      await g.close();
    }
  });
});

describe("failures after the intent", () => {
  async function withSign(replacement: (orig: HsmKey["sign"]) => HsmKey["sign"], body: () => Promise<void>) {
    const orig = HsmKey.prototype.sign;
    HsmKey.prototype.sign = replacement(orig);
    try {
      await body();
    } finally {
      HsmKey.prototype.sign = orig;
    }
  }
  const lastAbandoned = () =>
    f.db.get<{ serial: string; abandoned_reason: string }>(
      "SELECT serial, abandoned_reason FROM ca_certificates WHERE status = 'abandoned' ORDER BY created_at DESC, serial LIMIT 1",
    );

  it("an HSM failure abandons the intent (audited) and answers unavailable", async () => {
    const ids = [dns("hsmfail.plant.example")];
    await withSign(
      () => async () => {
        throw new HsmError("pkcs11", "device error", "CKR_DEVICE_ERROR", "C_Sign");
      },
      async () => {
        await expect(f.ca.issue({ csr: csrFor(ids), identifiers: ids, requester })).rejects.toMatchObject({
          kind: "unavailable",
          message: expect.stringMatching(/HSM signing failed/),
        });
      },
    );
    const row = await lastAbandoned();
    expect(row?.abandoned_reason).toMatch(/device error/);
    const audit = await f.db.get<{ type: string }>("SELECT type FROM audit_log WHERE subject = ?", [
      `certificate:${row!.serial}`,
    ]);
    expect(audit?.type).toBe("certificate.abandoned");
    expect(await f.ca.getCertificate(row!.serial)).toBeUndefined();
  });

  it("recordWith commits in the transaction that records the certificate; if it throws, nothing is issued", async () => {
    // the caller's write sees the certificate's issued row in the same transaction
    const ids = [dns("recordwith.plant.example")];
    let seen: { serial: string; status: string } | undefined;
    const cert = await f.ca.issue({
      csr: csrFor(ids),
      identifiers: ids,
      requester,
      recordWith: async (tx, serial) => {
        seen = await tx.get<{ serial: string; status: string }>(
          "SELECT serial, status FROM ca_certificates WHERE serial = ?",
          [serial],
        );
      },
    });
    expect(seen).toEqual({ serial: cert.serial, status: "issued" });
    // a throwing hook rolls the recording back: the certificate is abandoned, never handed out
    const ids2 = [dns("recordwith-fails.plant.example")];
    await expect(
      f.ca.issue({
        csr: csrFor(ids2),
        identifiers: ids2,
        requester,
        recordWith: async () => {
          throw new Error("caller's write failed");
        },
      }),
    ).rejects.toMatchObject({ kind: "unavailable" });
    const row = await lastAbandoned();
    expect(row?.abandoned_reason).toMatch(/caller's write failed/);
    expect(await f.ca.getCertificate(row!.serial)).toBeUndefined();
  });

  it("a signature that does not verify is never recorded as issued", async () => {
    const ids = [dns("badsig.plant.example")];
    await withSign(
      (orig) =>
        async function (this: HsmKey, data, alg) {
          const sig = await orig.call(this, Buffer.concat([Buffer.from(data), Buffer.from("x")]), alg);
          return sig; // a valid signature over other bytes
        },
      async () => {
        await expect(f.ca.issue({ csr: csrFor(ids), identifiers: ids, requester })).rejects.toMatchObject({
          kind: "internal",
          message: expect.stringMatching(/signature does not verify/),
        });
      },
    );
    const row = await lastAbandoned();
    expect(row?.abandoned_reason).toMatch(/signature does not verify/);
  });
});

describe("key policy options", () => {
  it("Ed25519 device keys are issued when enabled (openssl verifies); a blocklisted key is refused", async () => {
    const ed = generateKeyPairSync("ed25519");
    const edSpki = Buffer.from(ed.publicKey.export({ type: "spki", format: "der" }));
    const blocked = p256();
    const list = writeTemp(
      f.dir,
      "blocked-keys.txt",
      `# test blocklist\n${createHash("sha256").update(blocked.spki).digest("hex")}\n`,
    );
    const g = await caFixture({ keyPolicy: { allowEd25519: true, blockedKeysFile: list } });
    try {
      const ids = [dns("ed.plant.example")];
      const cert = await g.ca.issue({
        csr: buildCsr({ privateKey: ed.privateKey, spki: edSpki, sans: ids, alg: "ed25519" }),
        identifiers: ids,
        requester,
      });
      const root = writeTemp(g.dir, "r.pem", derToPem(g.boot.rootDer));
      const sub = writeTemp(g.dir, "s.pem", derToPem(g.boot.issuingDer));
      const leaf = writeTemp(g.dir, "ed.pem", derToPem(cert.der));
      expect(openssl(["verify", "-x509_strict", "-CAfile", root, "-untrusted", sub, leaf])).toMatch(/: OK/);
      const n = async () => (await g.db.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates"))!.n;
      const before = await n();
      const bad = [dns("blocked.plant.example")];
      await expect(
        g.ca.issue({
          csr: buildCsr({ privateKey: blocked.privateKey, spki: blocked.spki, sans: bad }),
          identifiers: bad,
          requester,
        }),
      ).rejects.toMatchObject({ kind: "badKey", message: expect.stringMatching(/on a blocklist/) });
      expect(await n()).toBe(before);
    } finally {
      await g.close();
    }
  });
});

describe("startup", () => {
  it("refuses to run when the HSM key does not match the installed SubCA certificate", async () => {
    await expect(
      createCa({
        config: { ...f.boot.config, hsm: { issuingKeyLabel: "audit-checkpoints", auditKeyLabel: "audit-checkpoints" } },
        token: f.token,
        db: f.db,
      }),
    ).rejects.toThrow(/does not match the installed issuing CA certificate: refusing to run/);
  });

  it("a bad configuration is refused naming the field", async () => {
    await expect(
      createCa({ config: { ...f.boot.config, pkiBaseUrl: "ftp://x" }, token: f.token, db: f.db }),
    ).rejects.toThrow(/pkiBaseUrl/);
    await expect(
      createCa({ config: { ...f.boot.config, policy: { permittedIp: ["10.0.0.1/8"] } }, token: f.token, db: f.db }),
    ).rejects.toThrow(/policy.permittedIp.0/);
  });
});
