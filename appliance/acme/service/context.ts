// What the ACME service needs from the rest of the appliance (store, CA, validator, clock, limits,
// metrics hooks) and its configuration, in one object passed to every service module.
import { randomBytes } from "node:crypto";
import { setTimeout as nodeSetTimeout } from "node:timers";
import type { CertificateAuthority } from "../../ca/api.js";
import type { Db } from "../../store/db.js";
import type { ChallengeType, Validator } from "../../validation/api.js";
import type { AccountKeyCache } from "../account-keys.js";
import type { RecordCache } from "./cache.js";
import type { Links } from "../links.js";
import { DEFAULT_RATE_LIMITS, type RateLimitConfig, type RateLimiter } from "../rate-limits.js";

export interface AcmeConfig {
  /** newAccount needs externalAccountBinding (production default: true) */
  eabRequired: boolean;
  termsOfService?: string;
  website?: string;
  challengeTypes: ChallengeType[];
  orderLifetimeSeconds: number;
  pendingAuthorizationLifetimeSeconds: number;
  validAuthorizationLifetimeSeconds: number;
  maxIdentifiersPerOrder: number;
  /** orders an account may have pending (not finalized, not expired) at once; newOrder is rateLimited beyond */
  maxPendingOrdersPerAccount: number;
  /** validations running at once; the rest wait in the queue */
  validationConcurrency: number;
  /** how long a challenge POST waits for its queued validation before answering `processing` */
  challengeWaitMs: number;
  /** how long finalize waits for the CA before answering `processing` with Retry-After */
  finalizeWaitMs: number;
  /** newOrder notBefore may lie this far in the past / future */
  maxBackdateSeconds: number;
  maxFutureStartSeconds: number;
  renewalInfoRetryAfterSeconds: number;
  rateLimits: RateLimitConfig;
}

export const DEFAULT_ACME_CONFIG: AcmeConfig = {
  eabRequired: true,
  challengeTypes: ["http-01", "dns-01", "tls-alpn-01"],
  orderLifetimeSeconds: 7 * 86400,
  pendingAuthorizationLifetimeSeconds: 7 * 86400,
  validAuthorizationLifetimeSeconds: 30 * 86400,
  maxIdentifiersPerOrder: 100,
  maxPendingOrdersPerAccount: 1000,
  validationConcurrency: 32,
  challengeWaitMs: 3000,
  finalizeWaitMs: 5000,
  maxBackdateSeconds: 86400,
  maxFutureStartSeconds: 7 * 86400,
  renewalInfoRetryAfterSeconds: 6 * 3600,
  rateLimits: DEFAULT_RATE_LIMITS,
};

/** Counters the service reports to; the server wires them to Prometheus. */
export interface AcmeEvents {
  accountCreated(): void;
  orderCreated(): void;
  validation(type: ChallengeType, ok: boolean, ms: number): void;
  issued(ms: number): void;
  issuanceFailed(kind: string): void;
  revoked(): void;
}

export const NO_EVENTS: AcmeEvents = {
  accountCreated() {},
  orderCreated() {},
  validation() {},
  issued() {},
  issuanceFailed() {},
  revoked() {},
};

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface ServiceContext {
  db: Db;
  ca: CertificateAuthority;
  validator: Validator;
  links: Links;
  config: AcmeConfig;
  limits: RateLimiter;
  keys: AccountKeyCache;
  cache: RecordCache;
  events: AcmeEvents;
  log: Logger;
  now: () => Date;
}

/** Random resource id: 16 bytes, base64url (22 characters). */
export function newId(): string {
  return randomBytes(16).toString("base64url");
}

/** `p`'s value if it settles within `ms`, else undefined (the timer is cleared either way). */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => {
    t = nodeSetTimeout(() => r(undefined), ms) as NodeJS.Timeout;
    t.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}
