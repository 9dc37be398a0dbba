// DER builders for the X.509 v3 certificate and CRL extensions Plantroot profiles use
// (RFC 5280 section 4.2 and 5.2/5.3), plus key identifiers. Pure.
import { createHash } from "node:crypto";
import type { Identifier } from "./api.js";
import {
  bitString,
  bool,
  children,
  content,
  ctx,
  DerError,
  expectTag,
  int,
  octetString,
  oid,
  readWhole,
  seq,
} from "./der.js";
import { ipToBytes } from "./ip.js";
import { encodeNameConstraints, type NameConstraintsSpec } from "./name-constraints.js";

export const KEY_USAGES = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
] as const;
export type KeyUsageName = (typeof KEY_USAGES)[number];

export const EKU_OIDS = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  OCSPSigning: "1.3.6.1.5.5.7.3.9",
} as const;
export type EkuName = keyof typeof EKU_OIDS;

export const OID = {
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  crlNumber: "2.5.29.20",
  reasonCode: "2.5.29.21",
  issuingDistributionPoint: "2.5.29.28",
  nameConstraints: "2.5.29.30",
  crlDistributionPoints: "2.5.29.31",
  certificatePolicies: "2.5.29.32",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  ocsp: "1.3.6.1.5.5.7.48.1",
  caIssuers: "1.3.6.1.5.5.7.48.2",
} as const;

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
export function extension(extnId: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(extnId), bool(true), octetString(value)) : seq(oid(extnId), octetString(value));
}

export function basicConstraints(ca: boolean, pathLen?: number): Buffer {
  const parts: Buffer[] = [];
  if (ca) parts.push(bool(true));
  if (pathLen !== undefined) {
    if (!ca) throw new DerError("pathLenConstraint only for CA certificates");
    parts.push(int(pathLen));
  }
  return extension(OID.basicConstraints, true, seq(...parts));
}

export function keyUsage(usages: readonly KeyUsageName[]): Buffer {
  if (usages.length === 0) throw new DerError("empty key usage");
  let high = -1;
  const bits = [0, 0];
  for (const u of usages) {
    const i = KEY_USAGES.indexOf(u);
    if (i < 0) throw new DerError(`unknown key usage ${u}`);
    bits[i >> 3]! |= 0x80 >> (i & 7);
    high = Math.max(high, i);
  }
  const n = (high >> 3) + 1;
  return extension(OID.keyUsage, true, bitString(Buffer.from(bits.slice(0, n)), 7 - (high & 7)));
}

export function extKeyUsage(ekus: readonly EkuName[]): Buffer {
  if (ekus.length === 0) throw new DerError("empty extended key usage");
  return extension(OID.extKeyUsage, false, seq(...ekus.map((e) => oid(EKU_OIDS[e]))));
}

export const subjectKeyIdentifier = (ski: Buffer): Buffer =>
  extension(OID.subjectKeyIdentifier, false, octetString(ski));

export const authorityKeyIdentifier = (keyId: Buffer): Buffer =>
  extension(OID.authorityKeyIdentifier, false, seq(ctx(0, false, keyId)));

const uri = (u: string): Buffer => {
  if (!/^[\x21-\x7e]+$/.test(u)) throw new DerError(`"${u}" is not a URI`);
  return ctx(6, false, Buffer.from(u, "latin1"));
};

export function authorityInfoAccess(aia: { ocsp?: string[]; caIssuers?: string[] }): Buffer {
  const ads = [
    ...(aia.ocsp ?? []).map((u) => seq(oid(OID.ocsp), uri(u))),
    ...(aia.caIssuers ?? []).map((u) => seq(oid(OID.caIssuers), uri(u))),
  ];
  if (!ads.length) throw new DerError("empty authority information access");
  return extension(OID.authorityInfoAccess, false, seq(...ads));
}

/** One DistributionPoint with fullName URIs. */
export function crlDistributionPoints(urls: string[]): Buffer {
  if (!urls.length) throw new DerError("empty CRL distribution points");
  return extension(OID.crlDistributionPoints, false, seq(seq(ctx(0, true, ctx(0, true, ...urls.map(uri))))));
}

export function certificatePolicies(oids: string[]): Buffer {
  return extension(OID.certificatePolicies, false, seq(...oids.map((o) => seq(oid(o)))));
}

export function nameConstraints(spec: NameConstraintsSpec): Buffer {
  return extension(OID.nameConstraints, true, encodeNameConstraints(spec));
}

/** GeneralNames for identifiers: dNSName [2] / iPAddress [7]. Critical when the subject is empty. */
export function subjectAltName(ids: readonly Identifier[], critical: boolean): Buffer {
  if (!ids.length) throw new DerError("empty subject alternative name");
  const names = ids.map((id) => {
    if (id.type === "dns") return ctx(2, false, Buffer.from(id.value, "latin1"));
    const b = ipToBytes(id.value);
    if (!b) throw new DerError(`"${id.value}" is not an IP address`);
    return ctx(7, false, b);
  });
  return extension(OID.subjectAltName, critical, seq(...names));
}

export const crlNumber = (n: bigint): Buffer => extension(OID.crlNumber, false, int(n));

export const reasonCode = (reason: number): Buffer =>
  extension(OID.reasonCode, false, Buffer.from([0x0a, 0x01, reason]));

/** IssuingDistributionPoint with a fullName URI (critical, RFC 5280 5.2.5). */
export function issuingDistributionPoint(url: string): Buffer {
  return extension(OID.issuingDistributionPoint, true, seq(ctx(0, true, ctx(0, true, uri(url)))));
}

/** The subjectPublicKey BIT STRING contents (without the unused-bits byte) of a DER SPKI. */
export function spkiKeyBits(spki: Buffer): Buffer {
  const top = readWhole(spki);
  const [alg, key] = children(spki, top);
  expectTag(alg, 0x30, "SubjectPublicKeyInfo.algorithm");
  const k = expectTag(key, 0x03, "SubjectPublicKeyInfo.subjectPublicKey");
  const c = content(spki, k);
  if (c[0] !== 0) throw new DerError("subjectPublicKey has unused bits");
  return c.subarray(1);
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Buffer): Buffer {
  return createHash("sha1").update(spkiKeyBits(spki)).digest();
}
