// The status values of RFC 8555 §7.1.6 for accounts, orders, authorizations and challenges, as
// string-literal unions; the transitions themselves live in account/order/authorization/challenge.ts.

export const ACCOUNT_STATUSES = ["valid", "deactivated", "revoked"] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

export const ORDER_STATUSES = ["pending", "ready", "processing", "valid", "invalid"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const AUTHORIZATION_STATUSES = ["pending", "valid", "invalid", "deactivated", "expired", "revoked"] as const;
export type AuthorizationStatus = (typeof AUTHORIZATION_STATUSES)[number];

export const CHALLENGE_STATUSES = ["pending", "processing", "valid", "invalid"] as const;
export type ChallengeStatus = (typeof CHALLENGE_STATUSES)[number];

/** Statuses from which an authorization never moves again. */
export function isFinalAuthorizationStatus(s: AuthorizationStatus): boolean {
  return s !== "pending" && s !== "valid";
}

/** Narrowing helper for values read back from storage. */
export function oneOf<T extends string>(allowed: readonly T[], v: string, what: string): T {
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new TypeError(`unknown ${what} status "${v}"`);
}
