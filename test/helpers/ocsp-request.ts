// Test helper: OCSP requests (RFC 6960) built byte by byte for an issuer — CertIDs with SHA-1 or
// SHA-256 hashes, optional nonce, version, requestorName and (ignored) signature — for tests and benches.
import { createHash } from "node:crypto";
import { BasicOCSPResponse, OCSPResponse } from "@peculiar/asn1-ocsp";
import { AsnConvert } from "@peculiar/asn1-schema";
import { algorithmIdentifier } from "../../appliance/ca/algorithms.js";
import { ctx, derNull, int, octetString, oid, seq, uintFromBytes } from "../../appliance/ca/der.js";
import { spkiKeyBits } from "../../appliance/ca/extensions.js";

const HASH_OIDS = { sha1: "1.3.14.3.2.26", sha256: "2.16.840.1.101.3.4.2.1" } as const;

/** CertID for `serial` under the issuer with this subject (Name DER) and SPKI (DER). */
export function certId(
  issuer: { subject: Buffer; spki: Buffer },
  serial: Buffer,
  hash: "sha1" | "sha256" = "sha1",
): Buffer {
  const nameHash = createHash(hash).update(issuer.subject).digest();
  const keyHash = createHash(hash).update(spkiKeyBits(issuer.spki)).digest();
  return seq(seq(oid(HASH_OIDS[hash]), derNull()), octetString(nameHash), octetString(keyHash), uintFromBytes(serial));
}

export function ocspRequest(
  certIds: Buffer[],
  opts: { nonce?: Buffer; version?: boolean; requestor?: boolean; signed?: boolean } = {},
): Buffer {
  const parts: Buffer[] = [];
  if (opts.version) parts.push(ctx(0, true, int(0)));
  if (opts.requestor) parts.push(ctx(1, true, ctx(2, false, Buffer.from("client.plant.example"))));
  parts.push(seq(...certIds.map((c) => seq(c))));
  if (opts.nonce) parts.push(ctx(2, true, seq(seq(oid("1.3.6.1.5.5.7.48.1.2"), octetString(octetString(opts.nonce))))));
  const tbs = seq(...parts);
  return opts.signed
    ? seq(tbs, ctx(0, true, seq(algorithmIdentifier("ecdsa-sha256"), Buffer.from([3, 1, 0]))))
    : seq(tbs);
}

/** responseStatus of an OCSPResponse (0 successful, 1 malformedRequest, 2 internalError, 3 tryLater …). */
export function ocspResponseStatus(der: Buffer): number {
  const off = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
  if (der[0] !== 0x30 || der[off] !== 0x0a || der[off + 1] !== 1) throw new Error("not an OCSPResponse");
  return der[off + 2]!;
}

/** The certStatus of the first SingleResponse of a successful OCSPResponse. */
export function ocspCertStatus(der: Buffer): "good" | "revoked" | "unknown" {
  const resp = AsnConvert.parse(der, OCSPResponse);
  const basic = AsnConvert.parse(resp.responseBytes!.response.buffer, BasicOCSPResponse);
  const s = basic.tbsResponseData.responses[0]!.certStatus;
  return s.good !== undefined ? "good" : s.revoked !== undefined ? "revoked" : "unknown";
}
