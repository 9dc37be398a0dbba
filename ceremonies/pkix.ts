// The few PKIX pieces ceremonies handle beyond appliance/ca: a script's name spec as a CA-core
// DistinguishedName, PKCS#10 requests (build, assemble, parse + proof of possession), and verification
// of any signed DER (certificate, CRL, CSR) against a public key. Pure.
import { createPublicKey, type KeyObject } from "node:crypto";
import { CertificationRequestInfo } from "@peculiar/asn1-csr";
import { AsnConvert } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";
import {
  assembleSigned,
  type DistinguishedName,
  encodeName,
  signatureAlgorithmOf,
  verifySignature,
} from "../appliance/ca/index.js";
import type { SignatureAlgorithm } from "../hsm/index.js";
import { CeremonyError } from "./errors.js";
import type { NameSpec } from "./script.js";

/** One attribute per RDN in the order C, O, OU, L, CN. */
export function dnOf(spec: NameSpec): DistinguishedName {
  const dn: DistinguishedName = [];
  if (spec.country) dn.push({ type: "C", value: spec.country });
  if (spec.organization) dn.push({ type: "O", value: spec.organization });
  if (spec.organizationalUnit) dn.push({ type: "OU", value: spec.organizationalUnit });
  if (spec.locality) dn.push({ type: "L", value: spec.locality });
  dn.push({ type: "CN", value: spec.commonName });
  return dn;
}

/** DER CertificationRequestInfo for `spki` and `subject` (no attributes). */
export function buildCsrInfo(subject: NameSpec, spki: Buffer): Buffer {
  const info = new CertificationRequestInfo({
    version: 0,
    subject: AsnConvert.parse(encodeName(dnOf(subject)), asn.Name),
    subjectPKInfo: AsnConvert.parse(spki, asn.SubjectPublicKeyInfo),
  });
  return Buffer.from(AsnConvert.serialize(info));
}

/** PKCS#10 request from the exact info bytes and their signature (same outer shape as a certificate). */
export function assembleCsr(infoDer: Buffer, alg: SignatureAlgorithm, signature: Buffer): Buffer {
  return assembleSigned(infoDer, alg, signature);
}

function readTlv(buf: Buffer, at: number) {
  const tag = buf[at];
  let len = buf[at + 1];
  if (tag === undefined || len === undefined) throw new CeremonyError("check-failed", "truncated DER");
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
}

/** The to-be-signed part, the AlgorithmIdentifier DER and the signature of a signed DER SEQUENCE. */
export function splitSigned(der: Buffer): { tbs: Buffer; algorithm: Buffer; signature: Buffer } {
  const outer = readTlv(der, 0);
  if (outer.tag !== 0x30 || outer.end !== der.length) throw new CeremonyError("check-failed", "not a DER SEQUENCE");
  const t = readTlv(der, outer.bodyStart);
  const a = readTlv(der, t.end);
  const s = readTlv(der, a.end);
  if (t.tag !== 0x30 || a.tag !== 0x30 || s.end !== outer.end || s.tag !== 0x03 || der[s.bodyStart] !== 0)
    throw new CeremonyError("check-failed", "not a signed structure (tbs, algorithm, BIT STRING signature)");
  return {
    tbs: der.subarray(t.start, t.end),
    algorithm: der.subarray(a.start, a.end),
    signature: der.subarray(s.bodyStart + 1, s.end),
  };
}

/** Verifies a signed DER structure's signature with `key`; never throws. */
export function verifySigned(der: Buffer, key: KeyObject): boolean {
  try {
    const { tbs, algorithm, signature } = splitSigned(der);
    const alg = signatureAlgorithmOf(algorithm);
    return alg !== undefined && verifySignature(alg, key, tbs, signature);
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
  let infoDer: Buffer;
  let spki: Buffer;
  try {
    infoDer = splitSigned(der).tbs;
    const info = AsnConvert.parse(infoDer, CertificationRequestInfo);
    spki = Buffer.from(AsnConvert.serialize(info.subjectPKInfo));
  } catch (e) {
    throw new CeremonyError("check-failed", `certificate request does not parse: ${(e as Error).message}`);
  }
  const key = createPublicKey({ key: spki, format: "der", type: "spki" });
  if (!verifySigned(der, key))
    throw new CeremonyError("check-failed", "certificate request signature does not verify (no proof of possession)");
  return { der, infoDer, subjectPublicKey: key, spki };
}
