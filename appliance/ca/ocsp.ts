// OCSP (RFC 6960) request parsing and response building for the issuing CA: CertID matching (SHA-1
// and SHA-256), good/revoked/unknown, nonce echo, responses signed by the CA key itself. Pure.
import { createHash } from "node:crypto";
import type { SignatureAlgorithm } from "../../hsm/index.js";
import { algorithmIdentifier } from "./algorithms.js";
import {
  bitString,
  children,
  content,
  ctx,
  DerError,
  expectTag,
  generalizedTime,
  octetString,
  oid,
  oidToString,
  readUint,
  readWhole,
  seq,
  type Tlv,
  whole,
} from "./der.js";
import { spkiKeyBits } from "./extensions.js";

export const OCSP_STATUS = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;

const OID_BASIC = "1.3.6.1.5.5.7.48.1.1";
const OID_NONCE = "1.3.6.1.5.5.7.48.1.2";
const HASHES: Record<string, "sha1" | "sha256" | "sha384" | "sha512"> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

export interface OcspCertRequest {
  /** the CertID exactly as sent (echoed in the response) */
  certId: Buffer;
  hash: "sha1" | "sha256" | "sha384" | "sha512";
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  /** serial magnitude */
  serial: Buffer;
}

export interface OcspRequest {
  requests: OcspCertRequest[];
  /** the nonce extension exactly as sent (Extension DER), to echo */
  nonceExtension?: Buffer;
}

/** Parses an OCSPRequest strictly; throws DerError on anything malformed. Signed requests are accepted, signature ignored. */
export function parseOcspRequest(der: Buffer, maxRequests = 8): OcspRequest {
  const top = expectTag(readWhole(der), 0x30, "OCSPRequest");
  const parts = children(der, top);
  if (parts.length < 1 || parts.length > 2) throw new DerError("OCSPRequest has the wrong number of fields");
  if (parts[1] && parts[1].tag !== 0xa0) throw new DerError("bad optionalSignature");
  const tbs = children(der, expectTag(parts[0], 0x30, "TBSRequest"));
  let i = 0;
  if (tbs[i]?.tag === 0xa0) {
    const v = readUint(der, expectTag(children(der, tbs[i]!)[0], 0x02, "version"));
    if (v.length !== 1 || v[0] !== 0) throw new DerError("unsupported OCSP request version");
    i++;
  }
  if (tbs[i]?.tag === 0xa1) i++; // requestorName: ignored
  const list = children(der, expectTag(tbs[i++], 0x30, "requestList"));
  if (list.length === 0) throw new DerError("empty requestList");
  if (list.length > maxRequests) throw new DerError(`more than ${maxRequests} certificates in one request`);
  let nonceExtension: Buffer | undefined;
  if (tbs[i]?.tag === 0xa2) {
    const wrapper = children(der, tbs[i]!);
    if (wrapper.length !== 1) throw new DerError("bad requestExtensions");
    const exts = children(der, expectTag(wrapper[0], 0x30, "requestExtensions"));
    const seen = new Set<string>();
    for (const e of exts) {
      // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }:
      // nonce extensions are echoed into the signed response, so they must be well-formed
      const ep = children(der, expectTag(e, 0x30, "Extension"));
      if (ep.length < 2 || ep.length > 3) throw new DerError("Extension has the wrong number of fields");
      const id = oidToString(content(der, expectTag(ep[0], 0x06, "extnID")));
      if (seen.has(id)) throw new DerError(`duplicate request extension ${id}`);
      seen.add(id);
      if (ep.length === 3) {
        const crit = content(der, expectTag(ep[1], 0x01, "critical"));
        if (crit.length !== 1 || crit[0] !== 0xff) throw new DerError("critical must be a DER TRUE when present");
      }
      const val = content(der, expectTag(ep[ep.length - 1], 0x04, "extnValue"));
      if (id === OID_NONCE) {
        if (val.length === 0 || val.length > 128) throw new DerError("nonce must be 1..128 bytes");
        nonceExtension = Buffer.from(whole(der, e));
      }
    }
    i++;
  }
  if (i !== tbs.length) throw new DerError("unexpected fields in TBSRequest");
  const requests = list.map((r: Tlv) => {
    const rp = children(der, expectTag(r, 0x30, "Request"));
    const certIdT = expectTag(rp[0], 0x30, "CertID");
    const [algT, nameT, keyT, serialT, ...rest] = children(der, certIdT);
    if (rest.length) throw new DerError("extra fields in CertID");
    // AlgorithmIdentifier { OID, NULL or absent }: the CertID is echoed into the signed response
    const alg = children(der, expectTag(algT, 0x30, "hashAlgorithm"));
    if (alg.length > 2 || (alg[1] && (alg[1].tag !== 0x05 || alg[1].end !== alg[1].contentStart)))
      throw new DerError("CertID hashAlgorithm parameters must be NULL or absent");
    const hash = HASHES[oidToString(content(der, expectTag(alg[0], 0x06, "hash OID")))];
    if (!hash) throw new DerError("unsupported CertID hash algorithm");
    return {
      certId: Buffer.from(whole(der, certIdT)),
      hash,
      issuerNameHash: Buffer.from(content(der, expectTag(nameT, 0x04, "issuerNameHash"))),
      issuerKeyHash: Buffer.from(content(der, expectTag(keyT, 0x04, "issuerKeyHash"))),
      serial: Buffer.from(readUint(der, expectTag(serialT, 0x02, "serialNumber"))),
    };
  });
  return { requests, ...(nonceExtension ? { nonceExtension } : {}) };
}

/** An OCSPResponse carrying only an error status (no responseBytes). */
export function ocspError(status: Exclude<(typeof OCSP_STATUS)[keyof typeof OCSP_STATUS], 0>): Buffer {
  return seq(Buffer.from([0x0a, 0x01, status]));
}

export type SingleStatus =
  | { status: "good" }
  | { status: "revoked"; revokedAt: Date; reason: number }
  | { status: "unknown" };

export interface OcspIssuer {
  subject: Buffer;
  spki: Buffer;
  signatureAlgorithm: SignatureAlgorithm;
}

/** Precomputed per issuer: hashes that CertIDs must carry, and the responderID byKey. */
export class OcspIssuerHashes {
  private readonly byHash = new Map<string, { name: Buffer; key: Buffer }>();
  readonly responderId: Buffer;
  constructor(readonly issuer: OcspIssuer) {
    const keyBits = spkiKeyBits(issuer.spki);
    for (const h of ["sha1", "sha256", "sha384", "sha512"] as const)
      this.byHash.set(h, {
        name: createHash(h).update(issuer.subject).digest(),
        key: createHash(h).update(keyBits).digest(),
      });
    this.responderId = ctx(2, true, octetString(this.byHash.get("sha1")!.key));
  }
  matches(r: OcspCertRequest): boolean {
    const h = this.byHash.get(r.hash)!;
    return h.name.equals(r.issuerNameHash) && h.key.equals(r.issuerKeyHash);
  }
}

function certStatus(s: SingleStatus): Buffer {
  if (s.status === "good") return Buffer.from([0x80, 0x00]);
  if (s.status === "unknown") return Buffer.from([0x82, 0x00]);
  const parts = [generalizedTime(s.revokedAt)];
  if (s.reason !== 0) parts.push(ctx(0, true, Buffer.from([0x0a, 0x01, s.reason])));
  return ctx(1, true, ...parts);
}

/** tbsResponseData (ResponseData) DER: the bytes the CA key signs. */
export function buildResponseData(
  issuer: OcspIssuerHashes,
  producedAt: Date,
  singles: Array<{ certId: Buffer; status: SingleStatus; thisUpdate: Date; nextUpdate: Date }>,
  nonceExtension?: Buffer,
): Buffer {
  const responses = singles.map((s) =>
    seq(s.certId, certStatus(s.status), generalizedTime(s.thisUpdate), ctx(0, true, generalizedTime(s.nextUpdate))),
  );
  const parts = [issuer.responderId, generalizedTime(producedAt), seq(...responses)];
  if (nonceExtension) parts.push(ctx(1, true, seq(nonceExtension)));
  return seq(...parts);
}

/** OCSPResponse (successful, id-pkix-ocsp-basic) around a signed ResponseData. */
export function assembleOcspResponse(responseData: Buffer, alg: SignatureAlgorithm, signature: Buffer): Buffer {
  const basic = seq(responseData, algorithmIdentifier(alg), bitString(signature));
  return seq(Buffer.from([0x0a, 0x01, 0x00]), ctx(0, true, seq(oid(OID_BASIC), octetString(basic))));
}
