// Profiles and TBS building (appliance/ca): DER details, CA/leaf/CRL structure read back by an
// independent parser (@peculiar/x509), determinism of the TBS bytes, profile rules.
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { describe, expect, it } from "vitest";
import {
  type CaProfile,
  deviceProfiles,
  finishSigned,
  issuerFromCertificate,
  issuingSubCaProfile,
  keyIdentifier,
  LeafTemplate,
  newSerial,
  type Prepared,
  parseCertificate,
  prepareCertificate,
  prepareCrl,
  profileProblems,
  rootProfile,
} from "../../appliance/ca/index.js";
import { DerError, generalizedTime, oid, oidToString, readTlv, readUint, time } from "../../appliance/ca/der.js";

const urls = {
  caIssuers: "http://pki.plant.example/ca/issuing.crt",
  crl: "http://pki.plant.example/ca/issuing.crl",
  ocsp: "http://pki.plant.example/ocsp",
};

function ecKey() {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { publicKey, privateKey, spki: Buffer.from(publicKey.export({ type: "spki", format: "der" })) };
}
const signWith = (k: KeyObject, p: Prepared) => finishSigned(p, sign("sha256", p.tbs, k), k);

const rootKey = ecKey();
const subKey = ecKey();
const now = new Date("2026-03-01T00:00:00Z");
const years = (n: number) => new Date(now.getTime() + n * 365 * 86400_000);

function buildRoot() {
  return prepareCertificate(rootProfile({ name: "root-g1" }), {
    serial: newSerial(),
    subject: [
      { type: "C", value: "DE" },
      { type: "O", value: "Plant Example" },
      { type: "CN", value: "Plant Root G1" },
    ],
    subjectPublicKey: rootKey.spki,
    notBefore: now,
    notAfter: years(20),
    signatureAlgorithm: "ecdsa-sha256",
  });
}
const subProfile = issuingSubCaProfile({
  name: "issuing-g1",
  nameConstraints: {
    permittedDns: ["plant.example", ".devices.example"],
    excludedDns: ["bad.plant.example"],
    permittedIp: ["10.20.0.0/16", "fd00:1::/32"],
    excludedIp: ["10.20.99.0/24"],
  },
  issuerUrls: { crl: "http://pki.plant.example/ca/root.crl", caIssuers: "http://pki.plant.example/ca/root.crt" },
});

describe("DER helpers", () => {
  it("encodes OIDs and times the RFC 5280 way", () => {
    expect(oid("1.2.840.10045.4.3.2").toString("hex")).toBe("06082a8648ce3d040302");
    expect(oidToString(oid("2.5.29.37").subarray(2))).toBe("2.5.29.37");
    expect(time(new Date("2049-12-31T23:59:59Z"))[0]).toBe(0x17);
    expect(time(new Date("2050-01-01T00:00:00Z"))[0]).toBe(0x18);
    expect(generalizedTime(new Date("2050-01-01T00:00:00Z")).subarray(2).toString()).toBe("20500101000000Z");
  });
  it("refuses non-DER input", () => {
    expect(() => readTlv(Buffer.from([0x30, 0x80, 0, 0]), 0)).toThrow(DerError);
    expect(() => readTlv(Buffer.from([0x30, 0x81, 0x05, 0, 0, 0, 0, 0]), 0)).toThrow(/non-minimal/);
    expect(() => readUint(Buffer.from([0x02, 0x01, 0x80]), readTlv(Buffer.from([0x02, 0x01, 0x80]), 0))).toThrow(
      /negative/,
    );
  });
});

describe("CA certificates", () => {
  it("root: self-signed, CA, keyCertSign+cRLSign, no EKU, SKI = AKI; TBS is deterministic", async () => {
    const prep = buildRoot();
    const der = signWith(rootKey.privateKey, prep);
    const c = new x509.X509Certificate(der);
    expect(c.subject).toBe("C=DE, O=Plant Example, CN=Plant Root G1");
    expect(c.issuer).toBe(c.subject);
    expect(await c.verify({ publicKey: await c.publicKey.export() })).toBe(true);
    const bc = c.getExtension(x509.BasicConstraintsExtension)!;
    expect(bc.ca).toBe(true);
    expect(bc.critical).toBe(true);
    expect(bc.pathLength).toBeUndefined();
    const ku = c.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(ku.critical).toBe(true);
    expect(c.getExtension(x509.ExtendedKeyUsageExtension)).toBeNull();
    const ski = c.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    expect(ski).toBe(keyIdentifier(rootKey.spki).toString("hex"));
    expect(c.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(ski);
    // same inputs, same bytes: what officers approved is what gets signed
    const p = parseCertificate(der);
    const again = prepareCertificate(rootProfile({ name: "root-g1" }), {
      serial: p.serial,
      subject: p.subject,
      subjectPublicKey: rootKey.spki,
      notBefore: now,
      notAfter: years(20),
      signatureAlgorithm: "ecdsa-sha256",
    });
    expect(again.tbs.equals(prep.tbs)).toBe(true);
    expect(again.tbsHash.equals(prep.tbsHash)).toBe(true);
  });

  it("issuing SubCA: pathLen 0, EKU, name constraints with DNS and IP subtrees, AIA and CDP", async () => {
    const root = signWith(rootKey.privateKey, buildRoot());
    const prep = prepareCertificate(subProfile, {
      serial: newSerial(),
      subject: [
        { type: "O", value: "Plant Example" },
        { type: "CN", value: "Plant Issuing CA G1" },
      ],
      subjectPublicKey: subKey.spki,
      issuer: issuerFromCertificate(root),
      notBefore: now,
      notAfter: years(8),
      signatureAlgorithm: "ecdsa-sha256",
    });
    const der = signWith(rootKey.privateKey, prep);
    const c = new x509.X509Certificate(der);
    const rootCert = new x509.X509Certificate(root);
    expect(c.issuer).toBe(rootCert.subject);
    expect(await c.verify({ publicKey: await rootCert.publicKey.export() })).toBe(true);
    expect(c.getExtension(x509.BasicConstraintsExtension)!.pathLength).toBe(0);
    expect(c.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([
      x509.ExtendedKeyUsage.serverAuth,
      x509.ExtendedKeyUsage.clientAuth,
    ]);
    const akid = c.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId;
    expect(akid).toBe(rootCert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
    const nc = c.extensions.find((e) => e.type === "2.5.29.30")!;
    expect(nc.critical).toBe(true);
    const text = new x509.X509Certificate(der).toString("text");
    expect(text).toMatch(/plant\.example/);
    const cdp = c.getExtension(x509.CRLDistributionPointsExtension)!;
    expect(JSON.stringify(cdp.distributionPoints)).toContain("root.crl");
    const aia = c.getExtension(x509.AuthorityInfoAccessExtension)!;
    expect(aia.caIssuers[0]!.value).toBe("http://pki.plant.example/ca/root.crt");
  });

  it("refuses validity beyond the profile maximum or the issuer's notAfter", () => {
    const root = signWith(rootKey.privateKey, buildRoot());
    expect(() =>
      prepareCertificate(subProfile, {
        serial: newSerial(),
        subject: [{ type: "CN", value: "x" }],
        subjectPublicKey: subKey.spki,
        issuer: issuerFromCertificate(root),
        notBefore: now,
        notAfter: years(9),
        signatureAlgorithm: "ecdsa-sha256",
      }),
    ).toThrow(/exceeds profile/);
    expect(() =>
      prepareCertificate(
        { ...subProfile, maxValiditySeconds: 100 * 365 * 86400 },
        {
          serial: newSerial(),
          subject: [{ type: "CN", value: "x" }],
          subjectPublicKey: subKey.spki,
          issuer: issuerFromCertificate(root),
          notBefore: now,
          notAfter: years(21),
          signatureAlgorithm: "ecdsa-sha256",
        },
      ),
    ).toThrow(/beyond the issuer/);
    expect(() =>
      prepareCertificate(rootProfile(), {
        serial: newSerial(),
        subject: [{ type: "CN", value: "x" }],
        subjectPublicKey: rootKey.spki,
        notBefore: now,
        notAfter: years(1),
        signatureAlgorithm: "rsa-pkcs1-sha256",
      }),
    ).toThrow(/does not fit/);
  });

  it("profile rules: roots carry no EKU, CAs need keyCertSign, devices never do", () => {
    const badRoot: CaProfile = { ...rootProfile(), ekus: ["serverAuth"] };
    expect(profileProblems(badRoot)).toContain("a root must not carry an EKU");
    expect(profileProblems({ ...rootProfile(), keyUsage: ["cRLSign"] })).toContain("CA profile needs keyCertSign");
    const dev = deviceProfiles(urls)[0]!;
    expect(profileProblems(dev)).toEqual([]);
    expect(profileProblems({ ...dev, keyUsage: ["digitalSignature", "keyCertSign"] })).toContain(
      "device profile must not have keyCertSign",
    );
    expect(profileProblems({ ...subProfile, crlDistributionPoints: [] })).toContain(
      "a subordinate CA needs a CRL distribution point",
    );
    expect(() => prepareCertificate(badRoot, {} as never)).toThrow(/root must not carry an EKU/);
  });

  it("an issuing SubCA without permitted IP ranges excludes every address", () => {
    const p = issuingSubCaProfile({
      nameConstraints: { permittedDns: ["plant.example"], excludedDns: [], permittedIp: [], excludedIp: [] },
      issuerUrls: { crl: "http://x/root.crl" },
    });
    expect(p.nameConstraints!.excludedIp).toEqual(["0.0.0.0/0", "::/0"]);
  });
});

describe("device certificates from the template", () => {
  const rootDer = signWith(rootKey.privateKey, buildRoot());
  const subDer = signWith(
    rootKey.privateKey,
    prepareCertificate(subProfile, {
      serial: newSerial(),
      subject: [{ type: "CN", value: "Plant Issuing CA G1" }],
      subjectPublicKey: subKey.spki,
      issuer: issuerFromCertificate(rootDer),
      notBefore: now,
      notAfter: years(8),
      signatureAlgorithm: "ecdsa-sha256",
    }),
  );
  const sub = parseCertificate(subDer);
  const issuer = {
    name: sub.subject,
    keyIdentifier: keyIdentifier(subKey.spki),
    signatureAlgorithm: "ecdsa-sha256" as const,
  };
  const [tls, client] = deviceProfiles(urls).map((p) => new LeafTemplate(p, issuer));

  it("device-tls with CN: SAN dns+ip, serverAuth+clientAuth, digitalSignature only for EC keys", async () => {
    const dev = ecKey();
    const prep = tls!.prepare({
      serial: newSerial(),
      notBefore: now,
      notAfter: new Date(now.getTime() + 30 * 86400_000),
      commonName: "plc1.plant.example",
      spki: dev.spki,
      rsa: false,
      sans: [
        { type: "dns", value: "plc1.plant.example" },
        { type: "ip", value: "10.20.1.5" },
        { type: "ip", value: "fd00:1::5" },
      ],
    });
    const c = new x509.X509Certificate(signWith(subKey.privateKey, prep));
    expect(c.subject).toBe("CN=plc1.plant.example");
    expect(c.issuer).toBe(new x509.X509Certificate(subDer).subject);
    const san = c.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.critical).toBe(false);
    expect(san.names.toJSON()).toEqual([
      { type: "dns", value: "plc1.plant.example" },
      { type: "ip", value: "10.20.1.5" },
      { type: "ip", value: "fd00:1::5" },
    ]);
    expect(c.getExtension(x509.KeyUsagesExtension)!.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(c.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([
      x509.ExtendedKeyUsage.serverAuth,
      x509.ExtendedKeyUsage.clientAuth,
    ]);
    expect(c.getExtension(x509.BasicConstraintsExtension)!.ca).toBe(false);
    const aia = c.getExtension(x509.AuthorityInfoAccessExtension)!;
    expect(aia.ocsp[0]!.value).toBe(urls.ocsp);
    expect(aia.caIssuers[0]!.value).toBe(urls.caIssuers);
    expect(c.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(
      keyIdentifier(subKey.spki).toString("hex"),
    );
    expect(
      await c.verify({ publicKey: await new x509.X509Certificate(subDer).publicKey.export(), signatureOnly: true }),
    ).toBe(true);
  });

  it("no CN: empty subject and a critical SAN; RSA keys get keyEncipherment; device-client is clientAuth only", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const spki = Buffer.from(rsa.publicKey.export({ type: "spki", format: "der" }));
    const prep = tls!.prepare({
      serial: newSerial(),
      notBefore: now,
      notAfter: new Date(now.getTime() + 86400_000),
      spki,
      rsa: true,
      sans: [{ type: "dns", value: "gw.plant.example" }],
    });
    const c = new x509.X509Certificate(signWith(subKey.privateKey, prep));
    expect(c.subject).toBe("");
    expect(c.getExtension(x509.SubjectAlternativeNameExtension)!.critical).toBe(true);
    expect(c.getExtension(x509.KeyUsagesExtension)!.usages).toBe(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
    );
    const cc = new x509.X509Certificate(
      signWith(
        subKey.privateKey,
        client!.prepare({
          serial: newSerial(),
          notBefore: now,
          notAfter: new Date(now.getTime() + 86400_000),
          spki: ecKey().spki,
          rsa: false,
          sans: [{ type: "dns", value: "hmi.plant.example" }],
        }),
      ),
    );
    expect(cc.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
  });
});

describe("CRLs", () => {
  it("builds a v2 CRL with number, AKI and reason codes (unspecified omitted)", async () => {
    const entries = [
      { serial: Buffer.from("0a0b0c", "hex"), revokedAt: new Date("2026-03-02T10:00:00Z"), reason: 1 },
      { serial: Buffer.from("7f0102", "hex"), revokedAt: new Date("2026-03-02T11:00:00Z"), reason: 0 },
    ];
    const prep = prepareCrl({
      issuer: { name: [{ type: "CN", value: "Plant Root G1" }], keyIdentifier: keyIdentifier(rootKey.spki) },
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + 7 * 86400_000),
      crlNumber: 42n,
      entries,
      signatureAlgorithm: "ecdsa-sha256",
    });
    const der = finishSigned(prep, sign("sha256", prep.tbs, rootKey.privateKey), rootKey.publicKey);
    const crl = new x509.X509Crl(der);
    expect(
      await crl.verify({
        publicKey: await crypto.subtle.importKey("spki", rootKey.spki, { name: "ECDSA", namedCurve: "P-256" }, true, [
          "verify",
        ]),
      }),
    ).toBe(true);
    expect(crl.issuer).toBe("CN=Plant Root G1");
    expect(crl.entries.map((e) => e.serialNumber)).toEqual(["0a0b0c", "7f0102"]);
    expect(crl.entries[0]!.reason).toBe(1);
    expect(crl.entries[1]!.extensions.length).toBe(0);
    expect(crl.getExtension("2.5.29.20")!.value.byteLength).toBeGreaterThan(0);
    expect(crl.nextUpdate!.toISOString()).toBe("2026-03-08T00:00:00.000Z");
  });
  it("refuses invalid reasons and non-increasing windows", () => {
    const base = {
      issuer: { name: [{ type: "CN" as const, value: "x" }], keyIdentifier: Buffer.alloc(20) },
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + 1000),
      crlNumber: 1n,
      signatureAlgorithm: "ecdsa-sha256" as const,
    };
    expect(() => prepareCrl({ ...base, entries: [{ serial: Buffer.from([1]), revokedAt: now, reason: 7 }] })).toThrow(
      /reason 7/,
    );
    expect(() => prepareCrl({ ...base, entries: [], nextUpdate: now })).toThrow(/nextUpdate/);
  });
});
