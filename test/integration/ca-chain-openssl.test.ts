// Root + name-constrained issuing SubCA + device leaves built by appliance/ca's profile code, signed
// by SoftHSM keys, checked by real openssl: verify -x509_strict, name constraints enforced, crl -verify.
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HsmToken, type HsmKey } from "../../hsm/index.js";
import {
  crossProfile,
  derToPem,
  deviceProfiles,
  issuerFromCertificate,
  issuingSubCaProfile,
  keyIdentifier,
  LeafTemplate,
  newSerial,
  parseCertificate,
  prepareCertificate,
  prepareCrl,
  rootProfile,
  signPrepared,
  subjectKeyIdOf,
} from "../../appliance/ca/index.js";
import { openssl, testSoftHsm, writeTemp } from "../helpers/softhsm.js";

const sh = testSoftHsm();
sh.createToken("ca-chain", "1234");
const token = HsmToken.open({ label: "ca-chain", pin: { value: "1234" } });
const dir = mkdtempSync(join(tmpdir(), "ca-chain-"));
afterAll(() => {
  token.close();
  sh.cleanup();
});

const urls = {
  caIssuers: "http://127.0.0.1:8080/ca/issuing.crt",
  crl: "http://127.0.0.1:8080/ca/issuing.crl",
  ocsp: "http://127.0.0.1:8080/ocsp",
};
const now = new Date(Date.now() - 60_000);
const plus = (days: number) => new Date(now.getTime() + days * 86400_000);

let chains = 0;
async function chain(rootSpec: "P-384" | "RSA-3072", subSpec: "P-256" | "P-384") {
  const n = ++chains;
  const rootKey: HsmKey = token.generateKeyPair({ label: `root-${n}`, spec: rootSpec });
  const subKey: HsmKey = token.generateKeyPair({ label: `sub-${n}`, spec: subSpec });
  const rootDer = await signPrepared(
    prepareCertificate(rootProfile({ name: "root-g1" }), {
      serial: newSerial(),
      subject: [
        { type: "C", value: "DE" },
        { type: "O", value: "Plant Example" },
        { type: "CN", value: `Plant Root ${rootSpec}` },
      ],
      subjectPublicKey: rootKey.spki,
      notBefore: now,
      notAfter: plus(365 * 20),
      signatureAlgorithm: rootKey.defaultAlgorithm,
    }),
    rootKey,
    rootKey.publicKey,
  );
  const subDer = await signPrepared(
    prepareCertificate(
      issuingSubCaProfile({
        name: "issuing-g1",
        nameConstraints: {
          permittedDns: ["plant.example", "localhost"],
          excludedDns: ["bad.plant.example"],
          permittedIp: ["10.20.0.0/16", "127.0.0.0/8", "fd00:1::/32"],
          excludedIp: ["10.20.99.0/24"],
        },
        issuerUrls: { crl: "http://127.0.0.1:8080/ca/root.crl", caIssuers: "http://127.0.0.1:8080/ca/root.crt" },
      }),
      {
        serial: newSerial(),
        subject: [
          { type: "O", value: "Plant Example" },
          { type: "CN", value: "Plant Issuing CA" },
        ],
        subjectPublicKey: subKey.spki,
        issuer: issuerFromCertificate(rootDer),
        notBefore: now,
        notAfter: plus(365 * 5),
        signatureAlgorithm: rootKey.defaultAlgorithm,
      },
    ),
    rootKey,
    rootKey.publicKey,
  );
  return { rootKey, subKey, rootDer, subDer };
}

function leaf(
  c: Awaited<ReturnType<typeof chain>>,
  sans: Array<{ type: "dns" | "ip"; value: string }>,
  cn?: string,
  profile = 0,
) {
  const sub = parseCertificate(c.subDer);
  const tmpl = new LeafTemplate(deviceProfiles(urls)[profile]!, {
    name: sub.subject,
    keyIdentifier: keyIdentifier(sub.spki),
    signatureAlgorithm: c.subKey.defaultAlgorithm,
  });
  const dev = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const prep = tmpl.prepare({
    serial: newSerial(),
    notBefore: now,
    notAfter: plus(30),
    ...(cn ? { commonName: cn } : {}),
    spki: Buffer.from(dev.publicKey.export({ type: "spki", format: "der" })),
    rsa: false,
    sans,
  });
  return signPrepared(prep, c.subKey, c.subKey.publicKey);
}

function verify(c: Awaited<ReturnType<typeof chain>>, leafDer: Buffer, tag: string, purpose = "sslserver"): string {
  const root = writeTemp(dir, `root-${tag}.pem`, derToPem(c.rootDer));
  const sub = writeTemp(dir, `sub-${tag}.pem`, derToPem(c.subDer));
  const l = writeTemp(dir, `leaf-${tag}.pem`, derToPem(leafDer));
  try {
    return openssl(["verify", "-x509_strict", "-purpose", purpose, "-CAfile", root, "-untrusted", sub, l]);
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e);
  }
}

describe("openssl accepts the chain built from the profiles", () => {
  it("P-384 root, P-256 SubCA, device-tls and device-client leaves: verify -x509_strict OK", async () => {
    const c = await chain("P-384", "P-256");
    const l1 = await leaf(
      c,
      [
        { type: "dns", value: "plc1.plant.example" },
        { type: "ip", value: "10.20.1.7" },
      ],
      "plc1.plant.example",
    );
    expect(verify(c, l1, "a")).toMatch(/: OK/);
    const l2 = await leaf(c, [
      { type: "dns", value: "localhost" },
      { type: "ip", value: "fd00:1::9" },
    ]);
    expect(verify(c, l2, "b")).toMatch(/: OK/);
    const l3 = await leaf(c, [{ type: "dns", value: "hmi.plant.example" }], undefined, 1);
    expect(verify(c, l3, "c", "sslclient")).toMatch(/: OK/);
    expect(verify(c, l3, "c2", "sslserver")).not.toMatch(/: OK/);
    // the CA certificates themselves, strict
    const root = writeTemp(dir, "root-a.pem", derToPem(c.rootDer));
    expect(
      openssl(["verify", "-x509_strict", "-CAfile", root, writeTemp(dir, "sub-only.pem", derToPem(c.subDer))]),
    ).toMatch(/: OK/);
  });

  it("RSA-3072 root signs a P-384 SubCA; openssl enforces the encoded name constraints", async () => {
    const c = await chain("RSA-3072", "P-384");
    expect(verify(c, await leaf(c, [{ type: "dns", value: "x.plant.example" }]), "d")).toMatch(/: OK/);
    // built directly (no CA policy in the way) to prove the constraints in the SubCA are real
    expect(verify(c, await leaf(c, [{ type: "dns", value: "badplant.example" }]), "e")).toMatch(
      /permitted subtree violation/,
    );
    expect(verify(c, await leaf(c, [{ type: "dns", value: "a.bad.plant.example" }]), "f")).toMatch(
      /excluded subtree violation/,
    );
    expect(verify(c, await leaf(c, [{ type: "ip", value: "10.20.99.3" }]), "g")).toMatch(/excluded subtree violation/);
    expect(verify(c, await leaf(c, [{ type: "ip", value: "192.168.1.1" }]), "h")).toMatch(
      /permitted subtree violation/,
    );
  });

  it("cross certificate: another root certifies the existing SubCA's subject and key; leaves verify via either root", async () => {
    const c = await chain("P-384", "P-256");
    const other = await chain("P-384", "P-256"); // only its root is used
    const sub = parseCertificate(c.subDer);
    const cross = await signPrepared(
      prepareCertificate(
        crossProfile({
          name: "cross-g1",
          pathLen: 0,
          issuerUrls: { crl: "http://127.0.0.1:8080/ca/other-root.crl" },
          ekus: ["serverAuth", "clientAuth"],
        }),
        {
          serial: newSerial(),
          subject: sub.subject, // byte-for-byte
          subjectPublicKey: sub.spki,
          subjectKeyIdentifier: subjectKeyIdOf(sub)!,
          issuer: issuerFromCertificate(other.rootDer),
          notBefore: now,
          notAfter: plus(365),
          signatureAlgorithm: other.rootKey.defaultAlgorithm,
        },
      ),
      other.rootKey,
      other.rootKey.publicKey,
    );
    const x = parseCertificate(cross);
    expect(x.subject.equals(sub.subject)).toBe(true);
    expect(subjectKeyIdOf(x)!.equals(subjectKeyIdOf(sub)!)).toBe(true);
    const l = await leaf(c, [{ type: "dns", value: "x.plant.example" }]);
    const otherRoot = writeTemp(dir, "other-root.pem", derToPem(other.rootDer));
    const crossPem = writeTemp(dir, "cross.pem", derToPem(cross));
    const leafPem = writeTemp(dir, "leaf-x.pem", derToPem(l));
    expect(openssl(["verify", "-x509_strict", "-CAfile", otherRoot, "-untrusted", crossPem, leafPem])).toMatch(/: OK/);
    expect(verify(c, l, "x-orig")).toMatch(/: OK/);
  });

  it("openssl crl -verify accepts a root CRL and an issuing-CA CRL", async () => {
    const c = await chain("P-384", "P-384");
    const sub = parseCertificate(c.subDer);
    const root = parseCertificate(c.rootDer);
    const subCrl = await signPrepared(
      prepareCrl({
        issuer: { name: sub.subject, keyIdentifier: keyIdentifier(sub.spki) },
        thisUpdate: now,
        nextUpdate: plus(1),
        crlNumber: 7n,
        entries: [
          { serial: newSerial(), revokedAt: now, reason: 1 },
          { serial: newSerial(), revokedAt: now, reason: 0 },
        ],
        signatureAlgorithm: c.subKey.defaultAlgorithm,
      }),
      c.subKey,
      c.subKey.publicKey,
    );
    const rootCrl = await signPrepared(
      prepareCrl({
        issuer: { name: root.subject, keyIdentifier: keyIdentifier(root.spki) },
        thisUpdate: now,
        nextUpdate: plus(365),
        crlNumber: 1n,
        entries: [],
        signatureAlgorithm: c.rootKey.defaultAlgorithm,
      }),
      c.rootKey,
      c.rootKey.publicKey,
    );
    const subPem = writeTemp(dir, "crl-sub-ca.pem", derToPem(c.subDer));
    const rootPem = writeTemp(dir, "crl-root-ca.pem", derToPem(c.rootDer));
    const run = (crl: Buffer, ca: string, name: string) => {
      const f = writeTemp(dir, name, crl);
      const r = spawnSync("openssl", ["crl", "-inform", "DER", "-in", f, "-CAfile", ca, "-noout", "-verify", "-text"]);
      expect(r.stderr.toString()).toMatch(/verify OK/);
      expect(r.status).toBe(0);
      return r.stdout.toString();
    };
    const out = run(subCrl, subPem, "sub.crl");
    expect(out).toMatch(/CRL Number:\s*\n\s*7/);
    expect(out).toMatch(/Key Compromise/);
    expect(run(rootCrl, rootPem, "root.crl")).toMatch(/No Revoked Certificates/);
  });
});
