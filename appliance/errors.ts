// The one internal error type of the appliance: components (store, ca, validation, audit) throw
// ApplianceError with a kind; the ACME layer maps kinds to RFC 8555 problems in one place.

export type ApplianceErrorKind =
  | "malformed" // the request could not be understood
  | "notFound"
  | "unauthorized" // authenticated but not allowed
  | "conflict" // state does not allow the operation (e.g. order not ready)
  | "rateLimited"
  | "badCSR"
  | "badKey" // key fails key policy
  | "policyViolation" // identifiers/validity outside the CA's issuance policy
  | "rejectedIdentifier"
  | "badRevocationReason"
  | "alreadyRevoked"
  | "unavailable" // HSM or disk temporarily unavailable: retry later
  | "internal";

export class ApplianceError extends Error {
  override readonly name = "ApplianceError";
  readonly kind: ApplianceErrorKind;
  /** seconds a client should wait before retrying (unavailable, rateLimited) */
  readonly retryAfter?: number;

  constructor(kind: ApplianceErrorKind, message: string, opts: { cause?: unknown; retryAfter?: number } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.kind = kind;
    if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter;
  }
}

export function isApplianceError(e: unknown, kind?: ApplianceErrorKind): e is ApplianceError {
  return e instanceof ApplianceError && (kind === undefined || e.kind === kind);
}
