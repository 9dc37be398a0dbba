// The one translation from internal errors to RFC 8555 problems: AcmeProblem passes through,
// ApplianceError kinds map by table, anything else is serverInternal with a generic detail (the
// cause is logged by the caller, never sent). Used by the HTTP renderer and for order `error`s.
import type { ApplianceErrorKind } from "../errors.js";
import { isApplianceError } from "../errors.js";
import { AcmeProblem, type ProblemType } from "./problems.js";

const BY_KIND: Record<ApplianceErrorKind, { type: ProblemType; status?: number; exposeMessage: boolean }> = {
  malformed: { type: "malformed", exposeMessage: true },
  notFound: { type: "malformed", status: 404, exposeMessage: true },
  unauthorized: { type: "unauthorized", exposeMessage: true },
  conflict: { type: "malformed", status: 409, exposeMessage: true },
  rateLimited: { type: "rateLimited", exposeMessage: true },
  badCSR: { type: "badCSR", exposeMessage: true },
  // the key the CA judges is the CSR's: RFC 8555 §6.7 calls that badCSR ("e.g., due to a short key")
  badKey: { type: "badCSR", exposeMessage: true },
  policyViolation: { type: "rejectedIdentifier", exposeMessage: true },
  rejectedIdentifier: { type: "rejectedIdentifier", exposeMessage: true },
  badRevocationReason: { type: "badRevocationReason", exposeMessage: true },
  alreadyRevoked: { type: "alreadyRevoked", exposeMessage: true },
  unavailable: { type: "serverInternal", status: 503, exposeMessage: false },
  internal: { type: "serverInternal", exposeMessage: false },
};

export interface MappedProblem {
  problem: AcmeProblem;
  /** true when the error was not an expected client-facing one: log the cause */
  internal: boolean;
}

export function toProblem(e: unknown): MappedProblem {
  if (e instanceof AcmeProblem) return { problem: e, internal: e.type === "serverInternal" };
  if (isApplianceError(e)) {
    const m = BY_KIND[e.kind];
    const detail = m.exposeMessage
      ? e.message
      : e.kind === "unavailable"
        ? "the service is temporarily unavailable; retry later"
        : undefined;
    return {
      problem: new AcmeProblem(m.type, detail, {
        ...(m.status ? { status: m.status } : {}),
        ...(e.retryAfter !== undefined
          ? { retryAfter: e.retryAfter }
          : e.kind === "unavailable"
            ? { retryAfter: 5 }
            : {}),
      }),
      internal: !m.exposeMessage,
    };
  }
  return { problem: new AcmeProblem("serverInternal"), internal: true };
}
