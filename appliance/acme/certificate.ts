// What the ACME layer reads from a certificate a client sends (revokeCert): serial, public key and
// the identifiers in its subjectAltName; plus the PEM encoding used for downloads.
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { sanIdentifiers } from "./csr.js";
import type { Identifier } from "./identifier.js";
import { problems } from "./problems.js";

const OID_SAN = "2.5.29.17";

export interface ParsedCertificate {
  /** lower-case hex of the DER INTEGER content bytes */
  serialHex: string;
  spki: Buffer;
  identifiers: Identifier[];
}

export function parseCertificate(der: Buffer): ParsedCertificate {
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(der, Certificate);
  } catch {
    throw problems.malformed("the certificate is not DER X.509");
  }
  const tbs = cert.tbsCertificate;
  const identifiers: Identifier[] = [];
  for (const e of tbs.extensions ?? []) {
    if (e.extnID !== OID_SAN) continue;
    try {
      identifiers.push(...sanIdentifiers(new Uint8Array(e.extnValue.buffer)));
    } catch {
      // a certificate naming other SAN types was not issued through ACME; ownership decides then
    }
  }
  return {
    serialHex: Buffer.from(tbs.serialNumber).toString("hex"),
    spki: Buffer.from(AsnConvert.serialize(tbs.subjectPublicKeyInfo)),
    identifiers,
  };
}

export function toPem(der: Buffer, label = "CERTIFICATE"): string {
  const b64 = der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
