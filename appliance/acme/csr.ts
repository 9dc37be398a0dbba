// The finalize CSR as the ACME layer sees it (RFC 8555 §7.4): a strict DER walk of the PKCS#10
// request for its identifiers (SAN dNSName/iPAddress, subject CN), key and signature check.
import { quoted } from "../clip.js";
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { children, content, expectTag, oidHex, readTlv, type Tlv, whole } from "./der.js";
import { canonicalIp, formatIpAddress, type Identifier, parseDnsName } from "./identifier.js";
import { problems } from "./problems.js";

// OID content bytes, hex
const OID_EXTENSION_REQUEST = "2a864886f70d01090e";
const OID_SAN = "551d11";
const OID_CN = "550403";

const SIGNATURE_ALGORITHMS: Record<string, { hash: string | null; ecdsa: boolean }> = {
  "2a8648ce3d040302": { hash: "sha256", ecdsa: true },
  "2a8648ce3d040303": { hash: "sha384", ecdsa: true },
  "2a8648ce3d040304": { hash: "sha512", ecdsa: true },
  "2a864886f70d01010b": { hash: "sha256", ecdsa: false },
  "2a864886f70d01010c": { hash: "sha384", ecdsa: false },
  "2a864886f70d01010d": { hash: "sha512", ecdsa: false },
  "2b6570": { hash: null, ecdsa: false },
};

export interface ParsedCsr {
  identifiers: Identifier[];
  /** DER SubjectPublicKeyInfo */
  spki: Buffer;
  /** set when the signature was checked */
  publicKey?: KeyObject;
}

/** GeneralNames of a SAN extension value: only dNSName [2] and iPAddress [7] are accepted. */
export function sanIdentifiers(der: Uint8Array): Identifier[] {
  const seq = readTlv(der, 0);
  if (seq.tag !== 0x30 || seq.end !== der.length) throw problems.badCSR("malformed subjectAltName");
  const out: Identifier[] = [];
  for (const gn of children(der, seq)) {
    const value = content(der, gn);
    if (gn.tag === 0x82) {
      const raw = value.toString("latin1");
      // an IP literal in a dNSName (Debian 12's lego writes IP identifiers this way) is that IP
      const ip = canonicalIp(raw);
      if (ip !== undefined) {
        out.push({ type: "ip", value: ip });
        continue;
      }
      const d = parseDnsName(raw);
      if (!d.ok || raw !== d.name) throw problems.badCSR(`the CSR names an invalid DNS name ${quoted(raw)}`);
      out.push({ type: "dns", value: d.name });
    } else if (gn.tag === 0x87) {
      if (value.length !== 4 && value.length !== 16) throw problems.badCSR("the CSR names a malformed IP address");
      out.push({ type: "ip", value: formatIpAddress(value) });
    } else {
      throw problems.badCSR("the CSR may only name DNS names and IP addresses in subjectAltName");
    }
  }
  return out;
}

const STRING_TAGS = new Set([0x0c, 0x13, 0x14, 0x16, 0x1e]);

function commonNames(b: Uint8Array, subject: Tlv): string[] {
  const out: string[] = [];
  for (const rdn of children(b, expectTag(subject, 0x30, "Name"))) {
    for (const atv of children(b, expectTag(rdn, 0x31, "RDN"))) {
      const [type, value] = children(b, expectTag(atv, 0x30, "AttributeTypeAndValue"));
      if (!type || !value || oidHex(b, type) !== OID_CN) continue;
      if (!STRING_TAGS.has(value.tag)) throw problems.badCSR("the CSR common name has an unsupported string type");
      const raw = content(b, value);
      out.push(value.tag === 0x1e ? Buffer.from(raw).swap16().toString("utf16le") : raw.toString("utf8"));
    }
  }
  return out;
}

function extensionSans(b: Uint8Array, attributes: Tlv | undefined): Identifier[] {
  const ids: Identifier[] = [];
  if (!attributes) return ids;
  for (const attr of children(b, attributes)) {
    const [type, values] = children(b, expectTag(attr, 0x30, "Attribute"));
    if (!type || oidHex(b, type) !== OID_EXTENSION_REQUEST) continue;
    for (const exts of children(b, expectTag(values, 0x31, "SET"))) {
      for (const ext of children(b, expectTag(exts, 0x30, "Extensions"))) {
        const parts = children(b, expectTag(ext, 0x30, "Extension"));
        if (oidHex(b, parts[0]!) !== OID_SAN) continue;
        const value = expectTag(parts[parts.length - 1], 0x04, "extnValue");
        ids.push(...sanIdentifiers(new Uint8Array(content(b, value))));
      }
    }
  }
  return ids;
}

/**
 * Parses a finalize CSR: well-formed DER, a supported signature algorithm, and the identifiers from
 * SAN (plus the CN, which must be one of them). With `verifySignature` (default) the signature is
 * also checked against the CSR's own key; the CA checks it again before it signs anything.
 */
export function parseCsr(der: Buffer, opts: { verifySignature?: boolean } = {}): ParsedCsr {
  const b = new Uint8Array(der.buffer, der.byteOffset, der.length);
  let ids: Identifier[];
  let spki: Buffer;
  let tbs: Buffer;
  let alg: { hash: string | null; ecdsa: boolean } | undefined;
  let signature: Buffer;
  try {
    const outer = expectTag(readTlv(b, 0), 0x30, "CertificationRequest");
    if (outer.end !== b.length) throw new RangeError("trailing data");
    const [info, sigAlg, sig] = children(b, outer);
    const infoParts = children(b, expectTag(info, 0x30, "CertificationRequestInfo"));
    const [version, subject, spkiTlv, attributes] = infoParts;
    expectTag(version, 0x02, "version");
    expectTag(spkiTlv, 0x30, "SubjectPublicKeyInfo");
    if (attributes && attributes.tag !== 0xa0) throw new RangeError("expected attributes");
    const algId = children(b, expectTag(sigAlg, 0x30, "AlgorithmIdentifier"));
    alg = SIGNATURE_ALGORITHMS[oidHex(b, algId[0]!)];
    const bits = content(b, expectTag(sig, 0x03, "signature"));
    if (bits[0] !== 0) throw new RangeError("signature has unused bits");
    signature = bits.subarray(1);
    tbs = whole(b, info!);
    spki = whole(b, spkiTlv!);
    ids = extensionSans(b, attributes);
    for (const cn of commonNames(b, subject!)) {
      const lc = cn.toLowerCase();
      if (!ids.some((i) => i.value === lc))
        throw problems.badCSR(`the CSR common name ${quoted(cn)} is not among its subjectAltNames`);
    }
  } catch (e) {
    if (e instanceof RangeError) throw problems.badCSR(`the CSR is not a DER PKCS#10 request (${e.message})`);
    throw e;
  }
  if (!alg) throw problems.badCSR("unsupported CSR signature algorithm");
  if (ids.length === 0) throw problems.badCSR("the CSR names no identifiers");
  const out: ParsedCsr = { identifiers: ids, spki: Buffer.from(spki) };
  if (opts.verifySignature !== false) {
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: out.spki, format: "der", type: "spki" });
    } catch {
      throw problems.badCSR("the CSR public key cannot be read");
    }
    let ok = false;
    try {
      ok = verify(alg.hash, tbs, alg.ecdsa ? { key: publicKey, dsaEncoding: "der" } : publicKey, signature);
    } catch {
      ok = false;
    }
    if (!ok) throw problems.badCSR("the CSR signature does not verify");
    out.publicKey = publicKey;
  }
  return out;
}
