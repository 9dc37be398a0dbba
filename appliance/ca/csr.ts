// PKCS#10 CSR parsing for issuance (strict DER): subject CN, requested SANs (dNSName / iPAddress
// only), SPKI, and the self-signature check. Everything else in a CSR is refused or ignored. Pure.
import { clip } from "../clip.js";
import { createPublicKey, KeyObject, webcrypto } from "node:crypto";
import { ApplianceError } from "../errors.js";
import { signatureAlgorithmOf, verifySignature } from "./algorithms.js";
import type { Identifier } from "./api.js";
import {
  children,
  content,
  DerError,
  expectTag,
  oidToString,
  readTlv,
  readUint,
  readWhole,
  type Tlv,
  whole,
} from "./der.js";
import { bytesToIp, canonicalIp } from "./ip.js";
import { type PublicKeyInfo, parseSpki } from "./spki.js";
import type { SignatureAlgorithm } from "../../hsm/index.js";

export interface ParsedCsr {
  /** certificationRequestInfo DER (what the CSR signature covers) */
  info: Buffer;
  signatureAlgorithm: SignatureAlgorithm;
  signature: Buffer;
  spki: Buffer;
  /** subject CN if present (exactly one allowed) */
  commonName?: string;
  /** SAN entries in CSR order (IPs in canonical text) */
  sans: Identifier[];
}

const OID_CN = "2.5.4.3";
const OID_EXT_REQ = "1.2.840.113549.1.9.14";
const OID_SAN = "2.5.29.17";

function bad(msg: string): never {
  throw new ApplianceError("badCSR", msg);
}

function parseSans(der: Buffer, t: Tlv): Identifier[] {
  const out: Identifier[] = [];
  for (const gn of children(der, expectTag(t, 0x30, "GeneralNames"))) {
    const v = content(der, gn);
    if (gn.tag === 0x82) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: IA5String range check
      if (!/^[\x00-\x7f]*$/.test(v.toString("latin1"))) bad("dNSName is not ASCII");
      // an IP literal in a dNSName (Debian 12's lego writes IP identifiers this way) is requested as
      // that IP: the certificate carries it as an iPAddress SAN, never as a dNSName
      const ip = canonicalIp(v.toString("latin1"));
      out.push(ip !== undefined ? { type: "ip", value: ip } : { type: "dns", value: v.toString("latin1") });
    } else if (gn.tag === 0x87) {
      if (v.length !== 4 && v.length !== 16) bad("iPAddress SAN must be 4 or 16 bytes");
      out.push({ type: "ip", value: bytesToIp(v) });
    } else {
      bad(`subjectAltName contains a name type ([${gn.tag & 0x1f}]) other than dNSName / iPAddress`);
    }
  }
  return out;
}

export function parseCsr(der: Buffer): ParsedCsr {
  try {
    const top = expectTag(readWhole(der), 0x30, "CertificationRequest");
    const [infoT, algT, sigT, ...extra] = children(der, top);
    if (extra.length) throw new DerError("extra fields in CertificationRequest");
    const infoTlv = expectTag(infoT, 0x30, "certificationRequestInfo");
    const algDer = whole(der, expectTag(algT, 0x30, "signatureAlgorithm"));
    const alg = signatureAlgorithmOf(algDer);
    if (!alg) {
      const o = oidToString(content(der, expectTag(readTlv(der, algT!.contentStart, algT!.end), 0x06, "algorithm")));
      bad(`CSR signature algorithm ${clip(o)} is not accepted`);
    }
    const sig = content(der, expectTag(sigT, 0x03, "signature"));
    if (sig[0] !== 0) throw new DerError("signature has unused bits");
    const f = children(der, infoTlv);
    if (f.length < 3 || f.length > 4) throw new DerError("certificationRequestInfo has the wrong number of fields");
    const ver = readUint(der, expectTag(f[0], 0x02, "version"));
    if (ver.length !== 1 || ver[0] !== 0) bad("CSR version must be 1 (0)");
    let commonName: string | undefined;
    for (const rdn of children(der, expectTag(f[1], 0x30, "subject"))) {
      for (const atv of children(der, expectTag(rdn, 0x31, "RDN"))) {
        const [t, v] = children(der, expectTag(atv, 0x30, "AttributeTypeAndValue"));
        if (!t || !v) throw new DerError("bad AttributeTypeAndValue");
        if (oidToString(content(der, expectTag(t, 0x06, "type"))) !== OID_CN) continue; // other attributes ignored
        if (commonName !== undefined) bad("CSR subject has more than one CN");
        if (v.tag !== 0x0c && v.tag !== 0x13 && v.tag !== 0x16) bad("CSR CN must be a UTF8, Printable or IA5 string");
        commonName = content(der, v).toString("utf8");
      }
    }
    const spki = whole(der, expectTag(f[2], 0x30, "subjectPKInfo"));
    let sans: Identifier[] = [];
    let sawSan = false;
    if (f[3]) {
      for (const attr of children(der, expectTag(f[3], 0xa0, "attributes"))) {
        const [t, vals] = children(der, expectTag(attr, 0x30, "Attribute"));
        const type = oidToString(content(der, expectTag(t, 0x06, "attribute type")));
        if (type !== OID_EXT_REQ) continue; // e.g. challengePassword: ignored
        const values = children(der, expectTag(vals, 0x31, "attribute values"));
        if (values.length !== 1) bad("extensionRequest must have exactly one value");
        for (const ext of children(der, expectTag(values[0], 0x30, "Extensions"))) {
          const parts = children(der, expectTag(ext, 0x30, "Extension"));
          const id = oidToString(content(der, expectTag(parts[0], 0x06, "extnID")));
          if (id !== OID_SAN) continue; // requested key usages etc. are decided by the profile, not the CSR
          if (sawSan) bad("CSR requests subjectAltName twice");
          sawSan = true;
          const ostr = expectTag(parts[parts.length - 1], 0x04, "extnValue");
          const inner = content(der, ostr);
          sans = parseSans(inner, readWhole(inner));
        }
      }
    }
    return {
      info: whole(der, infoTlv),
      signatureAlgorithm: alg,
      signature: sig.subarray(1),
      spki,
      ...(commonName !== undefined ? { commonName } : {}),
      sans,
    };
  } catch (e) {
    if (e instanceof ApplianceError) throw e;
    throw new ApplianceError("badCSR", `CSR cannot be parsed: ${(e as Error).message}`);
  }
}

/**
 * The CSR's public key as a KeyObject. EC and Ed25519 keys are imported from their raw points through
 * WebCrypto (about 2.5x cheaper than decoding the SPKI DER with OpenSSL 3's decoders), RSA from n/e.
 */
export async function csrPublicKey(key: PublicKeyInfo): Promise<KeyObject> {
  try {
    if (key.type === "ec") {
      const ck = await webcrypto.subtle.importKey("raw", key.point, { name: "ECDSA", namedCurve: key.curve }, true, [
        "verify",
      ]);
      return KeyObject.from(ck);
    }
    if (key.type === "ed25519") {
      const ck = await webcrypto.subtle.importKey("raw", key.point, { name: "Ed25519" }, true, ["verify"]);
      return KeyObject.from(ck);
    }
    const b64 = (n: bigint) => {
      const h = n.toString(16);
      return Buffer.from(h.length % 2 ? `0${h}` : h, "hex").toString("base64url");
    };
    return createPublicKey({ format: "jwk", key: { kty: "RSA", n: b64(key.n), e: b64(key.e) } });
  } catch (e) {
    throw new ApplianceError("badKey", `public key cannot be used: ${(e as Error).message}`);
  }
}

/** Verifies the CSR's self-signature with its own public key (`key` = the parsed CSR SPKI). */
export async function verifyCsrSignature(csr: ParsedCsr, key: PublicKeyInfo = parseSpki(csr.spki)): Promise<void> {
  const fits =
    (key.type === "ec" && csr.signatureAlgorithm.startsWith("ecdsa-")) ||
    (key.type === "rsa" && csr.signatureAlgorithm.startsWith("rsa-")) ||
    (key.type === "ed25519" && csr.signatureAlgorithm === "ed25519");
  if (!fits) bad(`CSR signature algorithm ${csr.signatureAlgorithm} does not match its ${key.type} key`);
  if (!verifySignature(csr.signatureAlgorithm, await csrPublicKey(key), csr.info, csr.signature))
    bad("CSR signature does not verify with the CSR's public key");
}
