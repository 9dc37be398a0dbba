// Strict structural parse of a DER X.509 certificate (the post-issuance re-parse and issuer
// details for building children): TBS bytes, serial, names, validity, SPKI, extensions. Pure.
import {
  children,
  checkFraming,
  content,
  DerError,
  expectTag,
  oidToString,
  readTime,
  readUint,
  readWhole,
  type Tlv,
  whole,
} from "./der.js";
import { OID } from "./extensions.js";

export interface ParsedExtension {
  critical: boolean;
  /** extnValue contents (the DER inside the OCTET STRING) */
  value: Buffer;
}

export interface ParsedCertificate {
  der: Buffer;
  tbs: Buffer;
  /** DER AlgorithmIdentifier in the outer Certificate */
  signatureAlgorithm: Buffer;
  /** DER AlgorithmIdentifier inside the TBS (must equal the outer one) */
  tbsSignatureAlgorithm: Buffer;
  signature: Buffer;
  version: number;
  /** unsigned magnitude */
  serial: Buffer;
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  extensions: Map<string, ParsedExtension>;
}

function parseExtensions(der: Buffer, t: Tlv): Map<string, ParsedExtension> {
  const seqT = expectTag(children(der, t)[0], 0x30, "extensions");
  const out = new Map<string, ParsedExtension>();
  const exts = children(der, seqT);
  if (!exts.length) throw new DerError("empty extensions");
  for (const e of exts) {
    const parts = children(der, expectTag(e, 0x30, "Extension"));
    const id = oidToString(content(der, expectTag(parts[0], 0x06, "extnID")));
    let i = 1;
    let critical = false;
    if (parts[i]?.tag === 0x01) {
      const c = content(der, parts[i]!);
      if (c.length !== 1 || c[0] !== 0xff) throw new DerError("critical must be TRUE when present (DER)");
      critical = true;
      i++;
    }
    const v = expectTag(parts[i], 0x04, "extnValue");
    if (parts.length !== i + 1) throw new DerError("extra fields in Extension");
    if (out.has(id)) throw new DerError(`duplicate extension ${id}`);
    const value = content(der, v);
    checkFraming(value);
    out.set(id, { critical, value });
  }
  return out;
}

export function parseCertificate(der: Buffer): ParsedCertificate {
  checkFraming(der);
  const top = expectTag(readWhole(der), 0x30, "Certificate");
  const [tbsT, algT, sigT, ...extra] = children(der, top);
  if (extra.length) throw new DerError("extra fields in Certificate");
  expectTag(tbsT, 0x30, "tbsCertificate");
  expectTag(algT, 0x30, "signatureAlgorithm");
  const sigC = content(der, expectTag(sigT, 0x03, "signatureValue"));
  if (sigC[0] !== 0) throw new DerError("signature has unused bits");
  const f = children(der, tbsT!);
  let i = 0;
  let version = 1;
  if (f[0]?.tag === 0xa0) {
    const v = children(der, f[0])[0];
    version = Number(readUint(der, expectTag(v, 0x02, "version"))[0]) + 1;
    i++;
  }
  const serial = readUint(der, expectTag(f[i++], 0x02, "serialNumber"));
  const tbsAlg = whole(der, expectTag(f[i++], 0x30, "signature"));
  const issuer = whole(der, expectTag(f[i++], 0x30, "issuer"));
  const validity = children(der, expectTag(f[i++], 0x30, "validity"));
  if (validity.length !== 2) throw new DerError("validity needs two times");
  const subject = whole(der, expectTag(f[i++], 0x30, "subject"));
  const spki = whole(der, expectTag(f[i++], 0x30, "subjectPublicKeyInfo"));
  let extensions = new Map<string, ParsedExtension>();
  if (f[i]?.tag === 0xa3) {
    if (version !== 3) throw new DerError("extensions need a v3 certificate");
    extensions = parseExtensions(der, f[i]!);
    i++;
  }
  if (i !== f.length) throw new DerError("unexpected fields in tbsCertificate");
  return {
    der,
    tbs: whole(der, tbsT!),
    signatureAlgorithm: whole(der, algT!),
    tbsSignatureAlgorithm: tbsAlg,
    signature: sigC.subarray(1),
    version,
    serial,
    issuer,
    subject,
    notBefore: readTime(der, validity[0]!),
    notAfter: readTime(der, validity[1]!),
    spki,
    extensions,
  };
}

/** The SubjectKeyIdentifier of a parsed certificate, if present. */
export function subjectKeyIdOf(c: ParsedCertificate): Buffer | undefined {
  const e = c.extensions.get(OID.subjectKeyIdentifier);
  if (!e) return undefined;
  return content(e.value, expectTag(readWhole(e.value), 0x04, "SubjectKeyIdentifier"));
}

/** The AuthorityKeyIdentifier keyIdentifier of a parsed certificate, if present. */
export function authorityKeyIdOf(c: ParsedCertificate): Buffer | undefined {
  const e = c.extensions.get(OID.authorityKeyIdentifier);
  if (!e) return undefined;
  const kid = children(e.value, readWhole(e.value)).find((t) => t.tag === 0x80);
  return kid ? content(e.value, kid) : undefined;
}

export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!m) throw new DerError("no PEM block");
  return Buffer.from(m[2]!.replace(/\s+/g, ""), "base64");
}

export function derToPem(der: Buffer, label = "CERTIFICATE"): string {
  const b64 = der.toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END ${label}-----\n`;
}
