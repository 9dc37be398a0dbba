// RFC 5280 v2 CRLs: the exact tbsCertList DER (for root CRLs approved in ceremonies and for the
// issuing CA's full CRL), assembled around the HSM signature by `Prepared.assemble`. Pure.
import type { SignatureAlgorithm } from "../../hsm/index.js";
import { ApplianceError } from "../errors.js";
import { algorithmIdentifier } from "./algorithms.js";
import { type Prepared, prepared } from "./certificate.js";
import { ctx, int, seq, seqOf, time, uintFromBytes } from "./der.js";
import { authorityKeyIdentifier, crlNumber, issuingDistributionPoint, reasonCode } from "./extensions.js";
import { type DistinguishedName, nameDer } from "./names.js";

/** RFC 5280 5.3.1 CRLReason codes that may appear on a full CRL (7 is unused, 8 is delta-only). */
export const REVOCATION_REASONS: Record<number, string> = {
  0: "unspecified",
  1: "keyCompromise",
  2: "cACompromise",
  3: "affiliationChanged",
  4: "superseded",
  5: "cessationOfOperation",
  6: "certificateHold",
  9: "privilegeWithdrawn",
  10: "aACompromise",
};

export function isRevocationReason(n: number): boolean {
  return Number.isInteger(n) && REVOCATION_REASONS[n] !== undefined;
}

export interface CrlEntry {
  /** positive serial magnitude */
  serial: Buffer;
  revokedAt: Date;
  /** RFC 5280 reason; 0 (unspecified) is encoded by omitting the reasonCode extension */
  reason: number;
}

export interface CrlParams {
  issuer: { name: DistinguishedName | Buffer; keyIdentifier: Buffer };
  thisUpdate: Date;
  nextUpdate: Date;
  /** strictly increasing per issuer; at most 20 octets */
  crlNumber: bigint;
  entries: readonly CrlEntry[];
  signatureAlgorithm: SignatureAlgorithm;
  /** optional IssuingDistributionPoint URL (critical extension) */
  issuingDistributionPoint?: string;
}

export function prepareCrl(p: CrlParams): Prepared {
  if (p.crlNumber < 0n || p.crlNumber >= 1n << 159n)
    throw new ApplianceError("internal", "CRL number must be a non-negative integer of at most 20 octets");
  if (!(p.nextUpdate.getTime() > p.thisUpdate.getTime()))
    throw new ApplianceError("internal", "nextUpdate must be after thisUpdate");
  const timeCache = new Map<number, Buffer>();
  const reasonCache = new Map<number, Buffer>();
  const entries = p.entries.map((e) => {
    if (!isRevocationReason(e.reason)) throw new ApplianceError("badRevocationReason", `reason ${e.reason} is invalid`);
    const ms = e.revokedAt.getTime() - (e.revokedAt.getTime() % 1000);
    let t = timeCache.get(ms);
    if (!t) {
      t = time(new Date(ms));
      timeCache.set(ms, t);
    }
    if (e.reason === 0) return seq(uintFromBytes(e.serial), t);
    let ext = reasonCache.get(e.reason);
    if (!ext) {
      ext = seq(reasonCode(e.reason));
      reasonCache.set(e.reason, ext);
    }
    return seq(uintFromBytes(e.serial), t, ext);
  });
  const exts = [authorityKeyIdentifier(p.issuer.keyIdentifier), crlNumber(p.crlNumber)];
  if (p.issuingDistributionPoint) exts.push(issuingDistributionPoint(p.issuingDistributionPoint));
  const parts = [
    int(1), // v2
    algorithmIdentifier(p.signatureAlgorithm),
    nameDer(p.issuer.name),
    time(p.thisUpdate),
    time(p.nextUpdate),
  ];
  if (entries.length) parts.push(seqOf(entries));
  parts.push(ctx(0, true, seq(...exts)));
  return prepared("crl", seq(...parts), p.signatureAlgorithm);
}
