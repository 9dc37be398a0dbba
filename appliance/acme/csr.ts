// The finalize CSR as the ACME layer sees it (RFC 8555 §7.4): parse the PKCS#10 request, check its
// signature, and read the identifiers it names (SAN dNSName/iPAddress and the subject CN).
import { CertificationRequest } from "@peculiar/asn1-csr";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Extensions } from "@peculiar/asn1-x509";
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { formatIpAddress, type Identifier, parseDnsName } from "./identifier.js";
import { problems } from "./problems.js";

const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const OID_SAN = "2.5.29.17";
const OID_CN = "2.5.4.3";

const SIGNATURE_ALGORITHMS: Record<string, { hash: string | null; ecdsa: boolean }> = {
  "1.2.840.10045.4.3.2": { hash: "sha256", ecdsa: true },
  "1.2.840.10045.4.3.3": { hash: "sha384", ecdsa: true },
  "1.2.840.10045.4.3.4": { hash: "sha512", ecdsa: true },
  "1.2.840.113549.1.1.11": { hash: "sha256", ecdsa: false },
  "1.2.840.113549.1.1.12": { hash: "sha384", ecdsa: false },
  "1.2.840.113549.1.1.13": { hash: "sha512", ecdsa: false },
  "1.3.101.112": { hash: null, ecdsa: false },
};

export interface ParsedCsr {
  identifiers: Identifier[];
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo */
  spki: Buffer;
}

/** Reads one DER TLV at `off`; returns tag, content bounds and the offset after it. */
function tlv(b: Uint8Array, off: number): { tag: number; start: number; end: number } {
  if (off + 2 > b.length) throw new RangeError("truncated DER");
  const tag = b[off]!;
  let len = b[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || start + n > b.length) throw new RangeError("bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | b[start + i]!;
    start += n;
  }
  if (start + len > b.length) throw new RangeError("truncated DER");
  return { tag, start, end: start + len };
}

/** GeneralNames of a SAN extension value: only dNSName [2] and iPAddress [7] are accepted. */
export function sanIdentifiers(der: Uint8Array): Identifier[] {
  const seq = tlv(der, 0);
  if (seq.tag !== 0x30 || seq.end !== der.length) throw problems.badCSR("malformed subjectAltName");
  const out: Identifier[] = [];
  for (let off = seq.start; off < seq.end; ) {
    const gn = tlv(der, off);
    const content = der.subarray(gn.start, gn.end);
    if (gn.tag === 0x82) {
      const raw = Buffer.from(content).toString("latin1");
      const d = parseDnsName(raw);
      if (!d.ok || raw !== d.name) throw problems.badCSR(`the CSR names an invalid DNS name ${JSON.stringify(raw)}`);
      out.push({ type: "dns", value: d.name });
    } else if (gn.tag === 0x87) {
      if (content.length !== 4 && content.length !== 16) throw problems.badCSR("the CSR names a malformed IP address");
      out.push({ type: "ip", value: formatIpAddress(content) });
    } else {
      throw problems.badCSR("the CSR may only name DNS names and IP addresses in subjectAltName");
    }
    off = gn.end;
  }
  return out;
}

/**
 * Parses and checks a finalize CSR: well-formed DER, a supported signature that verifies with the
 * CSR's own key, and the identifiers from SAN (plus the CN, which must be one of them).
 */
export function parseCsr(der: Buffer): ParsedCsr {
  let req: CertificationRequest;
  try {
    req = AsnConvert.parse(der, CertificationRequest);
  } catch {
    throw problems.badCSR("the CSR is not a DER PKCS#10 request");
  }
  const info = req.certificationRequestInfo;
  const alg = SIGNATURE_ALGORITHMS[req.signatureAlgorithm.algorithm];
  if (!alg) throw problems.badCSR(`unsupported CSR signature algorithm ${req.signatureAlgorithm.algorithm}`);
  const spki = Buffer.from(AsnConvert.serialize(info.subjectPKInfo));
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: spki, format: "der", type: "spki" });
  } catch {
    throw problems.badCSR("the CSR public key cannot be read");
  }
  const tbs = req.certificationRequestInfoRaw
    ? Buffer.from(req.certificationRequestInfoRaw)
    : Buffer.from(AsnConvert.serialize(info));
  let ok = false;
  try {
    ok = verify(
      alg.hash,
      tbs,
      alg.ecdsa ? { key: publicKey, dsaEncoding: "der" } : publicKey,
      Buffer.from(req.signature),
    );
  } catch {
    ok = false;
  }
  if (!ok) throw problems.badCSR("the CSR signature does not verify");

  const ids: Identifier[] = [];
  for (const attr of info.attributes ?? []) {
    if (attr.type !== OID_EXTENSION_REQUEST) continue;
    for (const v of attr.values) {
      let exts: Extensions;
      try {
        exts = AsnConvert.parse(v, Extensions);
      } catch {
        throw problems.badCSR("the CSR extension request is malformed");
      }
      for (const e of exts) {
        if (e.extnID !== OID_SAN) continue;
        try {
          ids.push(...sanIdentifiers(new Uint8Array(e.extnValue.buffer)));
        } catch (err) {
          if (err instanceof RangeError) throw problems.badCSR("malformed subjectAltName");
          throw err;
        }
      }
    }
  }
  for (const rdn of info.subject) {
    for (const atv of rdn) {
      if (atv.type !== OID_CN) continue;
      const cn = atv.value.toString().toLowerCase();
      if (!ids.some((i) => i.value === cn))
        throw problems.badCSR(`the CSR common name ${JSON.stringify(cn)} is not among its subjectAltNames`);
    }
  }
  if (ids.length === 0) throw problems.badCSR("the CSR names no identifiers");
  return { identifiers: ids, publicKey, spki };
}
