// The contract between the ACME service and the validation authority: one challenge check in,
// a result with what was contacted out. No store access, no issuance, no ACME types beyond names.
import type { Identifier } from "../ca/api.js";

export type ChallengeType = "http-01" | "tls-alpn-01" | "dns-01";

export interface ValidationRequest {
  type: ChallengeType;
  identifier: Identifier;
  /** the challenge token (base64url, as in the challenge object) */
  token: string;
  /** token || "." || base64url(JWK thumbprint of the account key) */
  keyAuthorization: string;
}

/** What the validator did, recorded on the challenge (RFC 8555 §8.3 validationRecord and friends). */
export interface ValidationRecord {
  url?: string;
  hostname?: string;
  port?: number;
  addressesResolved?: string[];
  addressUsed?: string;
  /** resolver or host-map answer used for a dns-01 lookup */
  resolver?: string;
}

/** RFC 8555 error type names (without the urn prefix) a failed validation may report. */
export type ValidationProblemType =
  | "connection"
  | "dns"
  | "incorrectResponse"
  | "tls"
  | "unauthorized"
  | "rejectedIdentifier"
  | "serverInternal";

export interface ValidationResult {
  ok: boolean;
  records: ValidationRecord[];
  /** set when ok is false: the reason that lands in the challenge's `error` */
  problem?: { type: ValidationProblemType; detail: string };
}

export interface Validator {
  /** Never throws for a failed validation; always resolves within the configured time bound. */
  validate(req: ValidationRequest): Promise<ValidationResult>;
}
