// Building CA certificates (root, issuing SubCA, cross) from a profile: the exact tbsCertificate DER
// first (officers approve its SHA-256), then `assemble(signature)` around the HSM's signature. Pure.
import { createHash, createPublicKey, type KeyObject, randomBytes } from "node:crypto";
import type { SignatureAlgorithm } from "../../hsm/index.js";
import { ApplianceError } from "../errors.js";
import { algorithmIdentifier, verifySignature } from "./algorithms.js";
import { authorityKeyIdOf, type ParsedCertificate, parseCertificate, subjectKeyIdOf } from "./cert-parse.js";
import { bitString, ctx, int, seq, time, uintFromBytes } from "./der.js";
import {
  authorityInfoAccess,
  authorityKeyIdentifier,
  basicConstraints,
  certificatePolicies,
  crlDistributionPoints,
  extKeyUsage,
  keyIdentifier,
  keyUsage,
  nameConstraints,
  subjectKeyIdentifier,
} from "./extensions.js";
import { type DistinguishedName, nameDer } from "./names.js";
import { assertProfile, type CaProfile } from "./profiles.js";

/** TBS bytes ready for approval and signing; `assemble` wraps a signature into the final DER. */
export interface Prepared {
  kind: "certificate" | "crl";
  /** DER tbsCertificate / tbsCertList: exactly the bytes the HSM signs */
  tbs: Buffer;
  /** SHA-256 of `tbs` (what officers approve) */
  tbsHash: Buffer;
  signatureAlgorithm: SignatureAlgorithm;
  /** Certificate / CertificateList DER around `signature` (X.509 form: DER ECDSA, raw RSA/Ed25519) */
  assemble(signature: Buffer): Buffer<ArrayBuffer>;
}

/** What a child certificate needs to know about its issuer. */
export interface IssuerRef {
  /** issuer's subject, as data or raw DER (copy the raw bytes from its certificate) */
  name: DistinguishedName | Buffer;
  /** issuer's SPKI DER */
  publicKey: Buffer;
  /** issuer's SubjectKeyIdentifier (default: computed from publicKey, RFC 5280 method 1) */
  keyIdentifier?: Buffer;
  /** a child never outlives its issuer */
  notAfter?: Date;
}

export interface CaCertificateParams {
  /** positive serial magnitude, 1..20 octets (see newSerial) */
  serial: Buffer;
  subject: DistinguishedName | Buffer;
  /** SPKI DER of the key being certified */
  subjectPublicKey: Buffer;
  /** omitted for a self-signed root */
  issuer?: IssuerRef;
  notBefore: Date;
  notAfter: Date;
  /** algorithm the issuer's key signs with; must fit the issuer key */
  signatureAlgorithm: SignatureAlgorithm;
  /** keep an existing SKI (cross certificates); default computed from subjectPublicKey */
  subjectKeyIdentifier?: Buffer;
}

/** A fresh serial: 16 bytes from the CSPRNG, first byte 0x01..0x7f (positive, fixed length, >= 120 random bits). */
export function newSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b;
}

export function checkSerial(serial: Buffer): void {
  if (serial.length === 0 || serial.length > 20) throw new ApplianceError("malformed", "serial must be 1..20 octets");
  if (serial.every((b) => b === 0)) throw new ApplianceError("malformed", "serial must be positive");
  if (serial[0] === 0) throw new ApplianceError("malformed", "serial must not have leading zero bytes");
}

/** Does `alg` fit the key in `spki`? */
export function algorithmFitsKey(alg: SignatureAlgorithm, key: KeyObject): boolean {
  const t = key.asymmetricKeyType;
  if (t === "ec") return alg.startsWith("ecdsa-");
  if (t === "rsa") return alg.startsWith("rsa-");
  if (t === "rsa-pss") return alg.startsWith("rsa-pss-");
  if (t === "ed25519") return alg === "ed25519";
  return false;
}

export function spkiToKey(spki: Buffer): KeyObject {
  try {
    return createPublicKey({ key: spki, format: "der", type: "spki" });
  } catch (e) {
    throw new ApplianceError("badKey", `public key cannot be parsed: ${(e as Error).message}`);
  }
}

export function sha256(b: Buffer): Buffer {
  return createHash("sha256").update(b).digest();
}

/** Certificate / CertificateList ::= SEQUENCE { tbs, signatureAlgorithm, signatureValue BIT STRING } */
export function assembleSigned(tbs: Buffer, alg: SignatureAlgorithm, signature: Buffer): Buffer<ArrayBuffer> {
  return seq(tbs, algorithmIdentifier(alg), bitString(signature));
}

/** Builds the tbsCertificate of a CA certificate (root, issuing SubCA, cross) under `profile`. */
export function prepareCertificate(profile: CaProfile, p: CaCertificateParams): Prepared {
  assertProfile(profile);
  checkSerial(p.serial);
  const selfSigned = p.issuer === undefined;
  if (profile.kind === "root" && !selfSigned)
    throw new ApplianceError("policyViolation", `profile "${profile.name}" is for self-signed roots: omit issuer`);
  if (profile.kind !== "root" && selfSigned)
    throw new ApplianceError("policyViolation", `profile "${profile.name}" needs an issuer`);
  spkiToKey(p.subjectPublicKey); // refuses a key node cannot parse
  const issuerSpki = p.issuer?.publicKey ?? p.subjectPublicKey;
  if (!algorithmFitsKey(p.signatureAlgorithm, spkiToKey(issuerSpki)))
    throw new ApplianceError("policyViolation", `${p.signatureAlgorithm} does not fit the issuer's key`);
  if (!(p.notAfter.getTime() > p.notBefore.getTime()))
    throw new ApplianceError("policyViolation", "notAfter must be after notBefore");
  const seconds = (p.notAfter.getTime() - p.notBefore.getTime()) / 1000;
  if (seconds > profile.maxValiditySeconds)
    throw new ApplianceError(
      "policyViolation",
      `validity of ${Math.round(seconds / 86400)} days exceeds profile "${profile.name}" maximum of ${Math.round(profile.maxValiditySeconds / 86400)} days`,
    );
  if (p.issuer?.notAfter && p.notAfter.getTime() > p.issuer.notAfter.getTime())
    throw new ApplianceError("policyViolation", "notAfter is beyond the issuer's notAfter");

  const ski = p.subjectKeyIdentifier ?? keyIdentifier(p.subjectPublicKey);
  const aki = p.issuer ? (p.issuer.keyIdentifier ?? keyIdentifier(p.issuer.publicKey)) : ski;
  const subject = nameDer(p.subject);
  const issuer = p.issuer ? nameDer(p.issuer.name) : subject;

  const exts: Buffer[] = [
    basicConstraints(true, profile.pathLen),
    keyUsage(profile.keyUsage),
    subjectKeyIdentifier(ski),
    authorityKeyIdentifier(aki),
  ];
  if (profile.ekus?.length) exts.push(extKeyUsage(profile.ekus));
  if (profile.nameConstraints) exts.push(nameConstraints(profile.nameConstraints));
  if (profile.aia && (profile.aia.ocsp?.length || profile.aia.caIssuers?.length))
    exts.push(authorityInfoAccess(profile.aia));
  if (profile.crlDistributionPoints?.length) exts.push(crlDistributionPoints(profile.crlDistributionPoints));
  if (profile.policies?.length) exts.push(certificatePolicies(profile.policies));

  const alg = algorithmIdentifier(p.signatureAlgorithm);
  const tbs = seq(
    ctx(0, true, int(2)),
    uintFromBytes(p.serial),
    alg,
    issuer,
    seq(time(p.notBefore), time(p.notAfter)),
    subject,
    p.subjectPublicKey,
    ctx(3, true, seq(...exts)),
  );
  return prepared("certificate", tbs, p.signatureAlgorithm);
}

export function prepared(kind: Prepared["kind"], tbs: Buffer, alg: SignatureAlgorithm): Prepared {
  return {
    kind,
    tbs,
    tbsHash: sha256(tbs),
    signatureAlgorithm: alg,
    assemble: (signature: Buffer) => assembleSigned(tbs, alg, signature),
  };
}

/** Something that signs bytes with the issuer's key (an HsmKey fits). */
export interface Signer {
  sign(data: Uint8Array, alg: SignatureAlgorithm): Promise<Buffer>;
}

/**
 * Signs a prepared TBS, assembles it, then verifies the signature with the issuer's public key and
 * re-parses the result (TBS bytes must be unchanged). Returns the final DER.
 */
export async function signPrepared(
  prep: Prepared,
  signer: Signer,
  issuerPublicKey: KeyObject,
): Promise<Buffer<ArrayBuffer>> {
  const sig = await signer.sign(prep.tbs, prep.signatureAlgorithm);
  return finishSigned(prep, sig, issuerPublicKey);
}

/** Assembles and runs the post-signing checks (signature verifies, DER re-parses, TBS unchanged). */
export function finishSigned(prep: Prepared, signature: Buffer, issuerPublicKey: KeyObject): Buffer<ArrayBuffer> {
  return finishSignedParsed(prep, signature, issuerPublicKey).der;
}

/** finishSigned, also returning the re-parsed certificate (undefined for CRLs). */
export function finishSignedParsed(
  prep: Prepared,
  signature: Buffer,
  issuerPublicKey: KeyObject,
): { der: Buffer<ArrayBuffer>; parsed?: ParsedCertificate } {
  if (!verifySignature(prep.signatureAlgorithm, issuerPublicKey, prep.tbs, signature))
    throw new ApplianceError("internal", "post-signing check failed: signature does not verify with the issuer key");
  const der = prep.assemble(signature);
  if (prep.kind !== "certificate") return { der };
  const parsed = parseCertificate(der);
  if (!parsed.tbs.equals(prep.tbs)) throw new ApplianceError("internal", "post-signing check failed: TBS changed");
  if (!parsed.signatureAlgorithm.equals(parsed.tbsSignatureAlgorithm))
    throw new ApplianceError("internal", "post-signing check failed: signature algorithms differ");
  return { der, parsed };
}

/** IssuerRef from an issuer's certificate: raw subject bytes, SPKI, SKI, notAfter. */
export function issuerFromCertificate(der: Buffer | ParsedCertificate): IssuerRef {
  const c = Buffer.isBuffer(der) ? parseCertificate(der) : der;
  const kid = subjectKeyIdOf(c);
  return { name: c.subject, publicKey: c.spki, notAfter: c.notAfter, ...(kid ? { keyIdentifier: kid } : {}) };
}

export { authorityKeyIdOf, subjectKeyIdOf };
