// The few PKIX structures ceremonies handle themselves: distinguished names from a script's name spec,
// signature AlgorithmIdentifiers, PKCS#10 requests (build, assemble, parse + proof of possession),
// and verification of any signed DER (certificate, CRL, CSR) against a public key. Pure.
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { CertificationRequest, CertificationRequestInfo } from "@peculiar/asn1-csr";
import { AsnConvert, AsnParser } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";
import type { SignatureAlgorithm } from "../hsm/index.js";
import { CeremonyError } from "./errors.js";
import type { NameSpec } from "./script.js";

const OID = {
  C: "2.5.4.6",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  L: "2.5.4.7",
  CN: "2.5.4.3",
};

/** RDNs in the order C, O, OU, L, CN; country as PrintableString, the rest UTF8String. */
export function nameOf(spec: NameSpec): asn.Name {
  const rdns: asn.RelativeDistinguishedName[] = [];
  const add = (type: string, value: string | undefined, printable = false) => {
    if (value === undefined) return;
    const v = new asn.AttributeValue(printable ? { printableString: value } : { utf8String: value });
    rdns.push(new asn.RelativeDistinguishedName([new asn.AttributeTypeAndValue({ type, value: v })]));
  };
  add(OID.C, spec.country, true);
  add(OID.O, spec.organization);
  add(OID.OU, spec.organizationalUnit);
  add(OID.L, spec.locality);
  add(OID.CN, spec.commonName);
  return new asn.Name(rdns);
}

const SIG_OID: Record<string, string> = {
  "ecdsa-sha256": "1.2.840.10045.4.3.2",
  "ecdsa-sha384": "1.2.840.10045.4.3.3",
  "ecdsa-sha512": "1.2.840.10045.4.3.4",
  "rsa-pkcs1-sha256": "1.2.840.113549.1.1.11",
  "rsa-pkcs1-sha384": "1.2.840.113549.1.1.12",
  "rsa-pkcs1-sha512": "1.2.840.113549.1.1.13",
};
const HASH_OF_OID: Record<string, string> = {
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
};

/** AlgorithmIdentifier for ECDSA (no parameters) and RSA PKCS#1 v1.5 (NULL); PSS is not offered here. */
export function signatureAlgorithmId(alg: SignatureAlgorithm): asn.AlgorithmIdentifier {
  const oid = SIG_OID[alg];
  if (!oid) throw new CeremonyError("check-failed", `signature algorithm ${alg} is not supported for this structure`);
  return new asn.AlgorithmIdentifier(
    alg.startsWith("rsa-") ? { algorithm: oid, parameters: null } : { algorithm: oid },
  );
}

/** DER CertificationRequestInfo for `spki` and `subject` (no attributes). */
export function buildCsrInfo(subject: NameSpec, spki: Buffer): Buffer {
  const info = new CertificationRequestInfo({
    version: 0,
    subject: nameOf(subject),
    subjectPKInfo: AsnConvert.parse(spki, asn.SubjectPublicKeyInfo),
  });
  return Buffer.from(AsnConvert.serialize(info));
}

/** PKCS#10 request from the exact info bytes and their signature (info is embedded byte for byte). */
export function assembleCsr(infoDer: Buffer, alg: SignatureAlgorithm, signature: Buffer): Buffer {
  const algDer = Buffer.from(AsnConvert.serialize(signatureAlgorithmId(alg)));
  const bitString = Buffer.concat([Buffer.from([0]), signature]);
  return derSequence([infoDer, algDer, derTlv(0x03, bitString)]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function derTlv(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

export function derSequence(parts: Buffer[]): Buffer {
  return derTlv(0x30, Buffer.concat(parts));
}

/** The first element's exact bytes and the rest of a DER SEQUENCE (certificate, CRL, CSR). */
export function splitSigned(der: Buffer): { tbs: Buffer; algorithm: string; signature: Buffer } {
  const readTlv = (buf: Buffer, at: number) => {
    const tag = buf[at]!;
    let len = buf[at + 1]!;
    let hdr = 2;
    if (len & 0x80) {
      const k = len & 0x7f;
      if (k < 1 || k > 4) throw new CeremonyError("check-failed", "unsupported DER length");
      len = 0;
      for (let i = 0; i < k; i++) len = len * 256 + buf[at + 2 + i]!;
      hdr += k;
    }
    if (at + hdr + len > buf.length) throw new CeremonyError("check-failed", "truncated DER");
    return { tag, start: at, bodyStart: at + hdr, end: at + hdr + len };
  };
  const outer = readTlv(der, 0);
  if (outer.tag !== 0x30 || outer.end !== der.length) throw new CeremonyError("check-failed", "not a DER SEQUENCE");
  const t = readTlv(der, outer.bodyStart);
  const a = readTlv(der, t.end);
  const s = readTlv(der, a.end);
  if (s.end !== outer.end || s.tag !== 0x03 || der[s.bodyStart] !== 0)
    throw new CeremonyError("check-failed", "signed structure does not end with a BIT STRING signature");
  const alg = AsnConvert.parse(der.subarray(a.start, a.end), asn.AlgorithmIdentifier);
  return {
    tbs: der.subarray(t.start, t.end),
    algorithm: alg.algorithm,
    signature: der.subarray(s.bodyStart + 1, s.end),
  };
}

/** Verifies a signed DER structure's signature with `key` (ECDSA and RSA PKCS#1 v1.5). Never throws. */
export function verifySigned(der: Buffer, key: KeyObject): boolean {
  try {
    const { tbs, algorithm, signature } = splitSigned(der);
    const hash = HASH_OF_OID[algorithm];
    if (!hash) return false;
    return verify(hash, tbs, key, signature);
  } catch {
    return false;
  }
}

export interface ParsedCsr {
  der: Buffer;
  infoDer: Buffer;
  subjectPublicKey: KeyObject;
  spki: Buffer;
}

/** Parses a PKCS#10 request and checks its self-signature (proof of possession of the key). */
export function parseCsr(der: Buffer): ParsedCsr {
  let req: CertificationRequest;
  try {
    req = AsnParser.parse(der, CertificationRequest);
  } catch (e) {
    throw new CeremonyError("check-failed", `certificate request does not parse: ${(e as Error).message}`);
  }
  const spki = Buffer.from(AsnConvert.serialize(req.certificationRequestInfo.subjectPKInfo));
  const key = createPublicKey({ key: spki, format: "der", type: "spki" });
  if (!verifySigned(der, key))
    throw new CeremonyError("check-failed", "certificate request signature does not verify (no proof of possession)");
  return { der, infoDer: splitSigned(der).tbs, subjectPublicKey: key, spki };
}
