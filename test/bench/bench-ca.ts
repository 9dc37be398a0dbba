// npm run bench:ca — P-256 leaf certificates issued per second through Ca.issue() (policy + CSR
// checks + TBS + HSM signature + post-checks + durable record + audit), next to the bare HSM signature
// rate of the same key in the same run; CRL generation for 100,000 revoked entries; OCSP responses/s.
// BENCH_SECONDS (default 3) per measurement, BENCH_CONCURRENCY (default 64) requests in flight.
import "reflect-metadata";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrapDemoPki } from "../../appliance/ca/bootstrap.js";
import { parseCertificate } from "../../appliance/ca/cert-parse.js";
import { newSerial } from "../../appliance/ca/certificate.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import { parseCsr, verifyCsrSignature } from "../../appliance/ca/csr.js";
import { ctx, int, octetString, oid, seq } from "../../appliance/ca/der.js";
import { keyIdentifier } from "../../appliance/ca/extensions.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import * as x509 from "@peculiar/x509";
import { pkiUrls } from "../../appliance/ca/config.js";
import { LeafTemplate } from "../../appliance/ca/leaf-template.js";
import { deviceProfiles } from "../../appliance/ca/profiles.js";
import { HsmToken, hsmCrypto, useSoftHsm, x509Signing } from "../../hsm/index.js";
import { csrFor } from "../helpers/csr.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const CRL_ENTRIES = Number(process.env.BENCH_CRL_ENTRIES ?? 100_000);

async function rate(fn: () => unknown | Promise<unknown>, concurrent = 1): Promise<number> {
  for (let i = 0; i < 100; i++) await fn(); // warm-up
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const lane = async () => {
    while (performance.now() < end) {
      await fn();
      n++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrent }, lane));
  return n / ((performance.now() - t0) / 1000);
}

const dir = mkdtempSync(join(tmpdir(), "bench-ca-"));
const sh = useSoftHsm(join(dir, "hsm"));
sh.createToken("bench-ca", "1234");
const token = HsmToken.open({ label: "bench-ca", pin: { value: "1234" } });
const boot = await bootstrapDemoPki({
  dir: join(dir, "pki"),
  token,
  pkiBaseUrl: "http://127.0.0.1:8080",
  names: { permittedDns: ["plant.example"], excludedDns: [], permittedIp: ["10.0.0.0/8"], excludedIp: [] },
});
const db = await Db.open(join(dir, "plantroot.db"), { migrations: MIGRATIONS });
const ca = await createCa({ config: boot.config, token, db });
const key = boot.keys.issuing;

const tbsSized = Buffer.alloc(520, 7); // about a leaf tbsCertificate
const hsmRate = await rate(() => key.sign(tbsSized));

const reqs = Array.from({ length: 512 }, (_, i) => {
  const ids = [
    { type: "dns" as const, value: `device-${i}.line${i % 7}.plant.example` },
    { type: "ip" as const, value: `10.1.${i >> 8}.${i & 255}` },
  ];
  return { csr: csrFor(ids), identifiers: ids, requester: { accountId: "bench", orderId: `o${i}` } };
});
let k = 0;
const before = (await db.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates"))!.n;
const t0 = performance.now();
const issueRate = await rate(() => ca.issue(reqs[k++ % reqs.length]!), CONCURRENCY);
const elapsed = (performance.now() - t0) / 1000;
const recorded = (await db.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates WHERE status='issued'"))!.n;

// parts of the pipeline, one at a time, for the breakdown
let j = 0;
const csrRate = await rate(() => verifyCsrSignature(parseCsr(reqs[j++ % reqs.length]!.csr)));

// TBS building alone (the template), and the reference: @peculiar/x509's generator + HSM signature
const tmpl = new LeafTemplate(deviceProfiles(pkiUrls("http://127.0.0.1:8080"))[0]!, {
  name: parseCertificate(boot.issuingDer).subject,
  keyIdentifier: keyIdentifier(parseCertificate(boot.issuingDer).spki),
  signatureAlgorithm: "ecdsa-sha256",
});
const leafSpki = parseCsr(reqs[0]!.csr).spki;
const sans = reqs[0]!.identifiers;
const tbsRate = await rate(() =>
  tmpl.prepare({
    serial: newSerial(),
    notBefore: new Date(),
    notAfter: new Date(Date.now() + 86400_000),
    spki: leafSpki,
    rsa: false,
    sans,
  }),
);
const leafKey = await crypto.subtle.importKey(
  "spki",
  new Uint8Array(leafSpki),
  { name: "ECDSA", namedCurve: "P-256" },
  true,
  ["verify"],
);
const { signingKey, signingAlgorithm } = x509Signing(key);
const issuerName = new x509.X509Certificate(new Uint8Array(boot.issuingDer)).subjectName;
const x509Rate = await rate(() =>
  x509.X509CertificateGenerator.create(
    {
      serialNumber: newSerial().toString("hex"),
      issuer: issuerName,
      subject: "",
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 86400_000),
      publicKey: leafKey,
      signingKey,
      signingAlgorithm,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.SubjectAlternativeNameExtension(
          sans.map((i) => ({ type: i.type, value: i.value })),
          true,
        ),
      ],
    },
    hsmCrypto,
  ),
);

// ---- CRL with CRL_ENTRIES revoked certificates ----
const issuerKeyId = keyIdentifier(parseCertificate(boot.issuingDer).spki);
const now = Date.now();
await db.write(async (tx) => {
  for (let i = 0; i < CRL_ENTRIES; i += 1000) {
    const params: Array<string | number | Buffer> = [];
    const n = Math.min(1000, CRL_ENTRIES - i);
    for (let x = 0; x < n; x++)
      params.push(
        newSerial().toString("hex"),
        issuerKeyId,
        now + 30 * 86400_000,
        now - x * 1000,
        (i + x) % 6 === 2 ? 0 : 4,
      );
    await tx.run(
      `INSERT INTO ca_certificates (serial, status, tbs_sha256, tbs, der, profile, issuer_key_id, identifiers,
        not_before, not_after, created_at, revoked_at, revocation_reason, revoked_by)
       VALUES ${Array.from({ length: n }, () => "(?, 'issued', x'00', x'00', x'00', 'device-tls', ?, '[]', 0, ?, 0, ?, ?, 'bench')").join(",")}`,
      params,
    );
  }
});
const c0 = performance.now();
const crl = await ca.crl.refresh("benchmark");
const crlMs = performance.now() - c0;

// ---- OCSP ----
const issued = await db.all<{ der: Buffer }>(
  "SELECT der FROM ca_certificates WHERE status='issued' AND length(der) > 1 LIMIT 256",
);
const issuerNameHash = createHash("sha1").update(parseCertificate(boot.issuingDer).subject).digest();
const issuerKeyHash = createHash("sha1").update(parseCertificate(boot.issuingDer).spki.subarray(-65)).digest();
const ocspReqs = issued.map((r, i) => {
  const serial = parseCertificate(r.der).serial;
  const certId = seq(
    seq(oid("1.3.14.3.2.26"), Buffer.from([0x05, 0x00])),
    octetString(issuerNameHash),
    octetString(issuerKeyHash),
    Buffer.concat([
      Buffer.from([0x02, serial.length + (serial[0]! & 0x80 ? 1 : 0)]),
      serial[0]! & 0x80 ? Buffer.from([0]) : Buffer.alloc(0),
      serial,
    ]),
  );
  const nonce = seq(oid("1.3.6.1.5.5.7.48.1.2"), octetString(octetString(Buffer.alloc(16, i))));
  return i % 2 ? seq(seq(seq(seq(certId)))) : seq(seq(seq(seq(certId)), ctx(2, true, seq(nonce))));
});
void int;
let o = 0;
const probe = await ca.ocsp.respond(ocspReqs[0]!);
if (probe.der.length < 100) throw new Error(`OCSP probe failed: ${probe.der.toString("hex")}`);
const ocspRate = await rate(() => ca.ocsp.respond(ocspReqs[o++ % ocspReqs.length]!), 16);

const fmt = (n: number) => n.toFixed(0).padStart(7);
console.log(`P-256 leaf issuance through Ca.issue() (${CONCURRENCY} in flight, ${SECONDS}s, one process):`);
console.log(
  `  certificates issued      ${fmt(issueRate)}/s   (${recorded - before} recorded as issued in ${elapsed.toFixed(1)} s incl. warm-up)`,
);
console.log(`  bare HSM P-256 signature ${fmt(hsmRate)}/s   (same key, same run)`);
console.log(`  issuance ÷ HSM sign      ${(issueRate / hsmRate).toFixed(3)}`);
console.log(`  CSR parse + verify alone ${fmt(csrRate)}/s`);
console.log(`  leaf TBS from template   ${fmt(tbsRate)}/s`);
console.log(`  reference: @peculiar/x509 generator + HSM sign (no checks, no record) ${fmt(x509Rate)}/s`);
console.log(`  issuance ÷ reference     ${(issueRate / x509Rate).toFixed(2)}`);
console.log(
  `CRL with ${crl.entries} revoked entries: ${crlMs.toFixed(0)} ms (read + build + HSM sign + verify + store + audit), ${(crl.der.length / 1e6).toFixed(2)} MB`,
);
console.log(`OCSP responses (in-process responder, 16 in flight, half with nonce): ${fmt(ocspRate)}/s`);
await ca.close();
await db.close();
token.close();
rmSync(dir, { recursive: true, force: true });
