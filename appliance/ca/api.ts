// The narrow contract between the ACME front end and the CA: what the web side may ask for.
// The CA re-checks everything itself; nothing here lets a caller sign arbitrary bytes.
import type { Queryable } from "../store/db.js";

/** An ACME / X.509 subject identifier (RFC 8555 dns, RFC 8738 ip). Values are canonical. */
export interface Identifier {
  type: "dns" | "ip";
  /** dns: lower-case A-label name without trailing dot; ip: canonical textual form (RFC 5952 for v6) */
  value: string;
}

export interface ProfileSummary {
  name: string;
  description: string;
  /** validity of certificates issued under the profile, seconds */
  validitySeconds: number;
  /** the longest validity a request (newOrder notAfter) may ask for, seconds; default validitySeconds */
  maxValiditySeconds?: number;
}

/** Result of the issuance-policy pre-check for one identifier (used by newOrder). */
export interface IdentifierVerdict {
  identifier: Identifier;
  ok: boolean;
  /** why not, in words a plant IT person understands; set when ok is false */
  reason?: string;
}

export interface IssueRequest {
  /** the PKCS#10 CSR exactly as the client sent it (DER); the CA parses and checks it again */
  csr: Buffer;
  /** the identifiers the order authorised; the CSR must name exactly these */
  identifiers: Identifier[];
  /** certificate profile name; undefined = the CA's default */
  profile?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** who asked (recorded with the certificate and in the audit chain) */
  requester: { accountId?: string; orderId?: string; replaces?: string };
  /**
   * Optional store write of the caller's own (the ACME order becoming valid) that commits in the
   * same transaction that records the certificate as issued: both land together or neither does.
   * Runs once per recording attempt with the new serial; it must only use `tx` and should not
   * throw for expected outcomes (a throw fails the recording, and the certificate is abandoned).
   */
  recordWith?: (tx: Queryable, serial: string) => Promise<void>;
}

export interface IssuedCertificate {
  /** lower-case hex, no leading zero byte beyond DER needs */
  serial: string;
  der: Buffer;
  /** leaf followed by the issuing CA certificate, PEM */
  chainPem: string;
  notBefore: Date;
  notAfter: Date;
}

export type RevocationStatus =
  | { status: "good" }
  | { status: "revoked"; revokedAt: Date; reason: number }
  | { status: "unknown" };

export interface StoredCertificate {
  serial: string;
  der: Buffer;
  accountId?: string;
  orderId?: string;
  profile: string;
  notBefore: Date;
  notAfter: Date;
  /** key identifier of the issuer (AKI), for ARI certificate IDs */
  authorityKeyId: Buffer;
  revocation: RevocationStatus;
}

export interface CertificateAuthority {
  /** the profiles ACME offers in `meta.profiles` */
  profiles(): ProfileSummary[];
  readonly defaultProfile: string;
  /** issuance policy for identifiers, before any challenge is created */
  checkIdentifiers(ids: Identifier[]): IdentifierVerdict[];
  /**
   * Issue a certificate. Throws ApplianceError (badCSR, badKey, policyViolation, unavailable …).
   * When it resolves, the certificate is durably recorded exactly once.
   */
  issue(req: IssueRequest): Promise<IssuedCertificate>;
  getCertificate(serial: string): Promise<StoredCertificate | undefined>;
  /** The first certificate recorded as issued for this ACME order, if any (finalize resumes with it). */
  certificateForOrder(orderId: string): Promise<StoredCertificate | undefined>;
  /** RFC 5280 reason code; the CRL and OCSP reflect it when this resolves */
  revoke(
    serial: string,
    reason: number,
    by: { accountId?: string; byCertificateKey?: boolean; actor?: string },
  ): Promise<void>;
  /** PEM chain the ACME server appends to leaf certificates (issuing CA, then any intermediates) */
  issuerChainPem(): string;
}
