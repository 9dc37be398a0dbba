// Challenges (RFC 8555 §7.1.5, §8): which types an identifier gets, the key authorization, and the
// pure transitions pending → processing → valid | invalid.
import { createHash, randomBytes } from "node:crypto";
import type { ChallengeType, ValidationRecord, ValidationResult } from "../validation/api.js";
import type { Identifier } from "./identifier.js";
import { type ProblemDocument, problems } from "./problems.js";
import type { ChallengeStatus } from "./status.js";

export type { ChallengeType };

export const CHALLENGE_TYPES: readonly ChallengeType[] = ["http-01", "dns-01", "tls-alpn-01"];

export interface Challenge {
  id: string;
  authorizationId: string;
  type: ChallengeType;
  /** base64url, 128 bits of entropy or more (RFC 8555 §8.3) */
  token: string;
  status: ChallengeStatus;
  validated?: Date;
  error?: ProblemDocument;
  validationRecord?: ValidationRecord[];
}

/**
 * The challenge types offered for an identifier: wildcards only dns-01 (RFC 8555 §7.1.3), IP
 * addresses only http-01 and tls-alpn-01 (RFC 8738 §7), restricted to what the operator enabled.
 */
export function challengeTypesFor(
  identifier: Identifier,
  wildcard: boolean,
  enabled: readonly ChallengeType[],
): ChallengeType[] {
  const allowed: ChallengeType[] = wildcard
    ? ["dns-01"]
    : identifier.type === "ip"
      ? ["http-01", "tls-alpn-01"]
      : ["http-01", "dns-01", "tls-alpn-01"];
  return allowed.filter((t) => enabled.includes(t));
}

export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** RFC 8555 §8.1: token || "." || base64url(SHA-256 JWK thumbprint). */
export function keyAuthorization(token: string, accountThumbprint: string): string {
  return `${token}.${accountThumbprint}`;
}

/** dns-01 TXT value (RFC 8555 §8.4): base64url(SHA-256(key authorization)). */
export function dns01TxtValue(keyAuth: string): string {
  return createHash("sha256").update(keyAuth).digest("base64url");
}

/**
 * The client asks the server to validate (POST {} to the challenge). Returns the next state, or the
 * same object when nothing changes (already processing or final: the request is idempotent).
 */
export function requestValidation(ch: Challenge, authzStatus: string): { next: Challenge; start: boolean } {
  if (ch.status !== "pending") return { next: ch, start: false };
  if (authzStatus !== "pending")
    throw problems.malformed(
      `the authorization is ${authzStatus}; only challenges of pending authorizations can be answered`,
      {
        status: 403,
      },
    );
  return { next: { ...ch, status: "processing" }, start: true };
}

/**
 * Applies the validator's result to a challenge being validated (stored as processing, or still
 * pending when the result came back before the request that started it was answered).
 */
export function completeValidation(ch: Challenge, result: ValidationResult, now: Date): Challenge {
  if (ch.status !== "processing" && ch.status !== "pending") return ch;
  if (result.ok) return { ...ch, status: "valid", validated: now, validationRecord: result.records, error: undefined };
  const p = result.problem ?? { type: "serverInternal", detail: "validation failed" };
  const problem = problems[p.type](p.detail).toJSON();
  return { ...ch, status: "invalid", validationRecord: result.records, error: problem };
}
