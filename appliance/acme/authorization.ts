// Authorizations (RFC 8555 §7.1.4, §7.5): status with expiry, the transition when a challenge
// completes, client deactivation, and whether an existing one may be reused for a new order.
import type { Challenge } from "./challenge.js";
import type { Identifier } from "./identifier.js";
import { problems } from "./problems.js";
import type { AuthorizationStatus, ChallengeStatus } from "./status.js";

export interface Authorization {
  id: string;
  accountId: string;
  /** for a wildcard order identifier, the base name (RFC 8555 §7.1.4) */
  identifier: Identifier;
  wildcard: boolean;
  /** stored status; read it through authorizationStatusAt() */
  status: AuthorizationStatus;
  expires: Date;
  /** valid without a challenge because the account's EAB credential pre-authorised it */
  preAuthorized: boolean;
  challenges: Challenge[];
  /** the order that created it */
  orderId?: string;
}

/** The authorization with one challenge replaced (matched by type). */
export function withChallenge(a: Authorization, ch: Challenge): Authorization {
  return { ...a, challenges: a.challenges.map((c) => (c.type === ch.type ? ch : c)) };
}

/** The status a client sees at `now`: pending and valid turn into expired at `expires`. */
export function authorizationStatusAt(a: Pick<Authorization, "status" | "expires">, now: Date): AuthorizationStatus {
  if ((a.status === "pending" || a.status === "valid") && now.getTime() >= a.expires.getTime()) return "expired";
  return a.status;
}

/**
 * A challenge of this authorization finished. valid → the authorization is valid for
 * `validLifetimeMs` from now; invalid → the authorization is invalid (RFC 8555 §7.1.6: one failed
 * challenge fails the authorization).
 */
export function onChallengeFinished(
  a: Authorization,
  challengeStatus: ChallengeStatus,
  now: Date,
  validLifetimeMs: number,
): Authorization {
  if (authorizationStatusAt(a, now) !== "pending") return a;
  if (challengeStatus === "valid") return { ...a, status: "valid", expires: new Date(now.getTime() + validLifetimeMs) };
  if (challengeStatus === "invalid") return { ...a, status: "invalid" };
  return a;
}

/** RFC 8555 §7.5.2: the client may deactivate a pending or valid authorization. */
export function deactivateAuthorization(a: Authorization, now: Date): Authorization {
  const s = authorizationStatusAt(a, now);
  if (s !== "pending" && s !== "valid")
    throw problems.malformed(`an authorization that is ${s} cannot be deactivated`, { status: 403 });
  return { ...a, status: "deactivated" };
}

/** A valid authorization of the same account may serve a new order if it outlives `until`. */
export function reusable(a: Authorization, accountId: string, until: Date, now: Date): boolean {
  return (
    a.accountId === accountId && authorizationStatusAt(a, now) === "valid" && a.expires.getTime() >= until.getTime()
  );
}
