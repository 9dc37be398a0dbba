// Orders (RFC 8555 §7.1.3, §7.4): the status derived from its authorizations and expiry, the
// finalize transitions ready → processing → valid | invalid, and notBefore/notAfter checks.
import type { Identifier } from "./identifier.js";
import { type ProblemDocument, problems } from "./problems.js";
import type { AuthorizationStatus, OrderStatus } from "./status.js";

export interface Order {
  id: string;
  accountId: string;
  /** stored status; read it through orderStatusAt() */
  status: OrderStatus;
  expires: Date;
  identifiers: Identifier[];
  authorizationIds: string[];
  notBefore?: Date;
  notAfter?: Date;
  profile?: string;
  /** RFC 9773 certificate ID of the certificate this order replaces */
  replaces?: string;
  error?: ProblemDocument;
  certificateSerial?: string;
  createdAt: Date;
}

/**
 * The status of an order at `now`, given its authorizations' statuses at `now`: a pending order is
 * ready when all are valid and invalid when any can no longer become valid; pending and ready
 * orders expire.
 */
export function orderStatusAt(
  o: Pick<Order, "status" | "expires">,
  authzStatuses: readonly AuthorizationStatus[],
  now: Date,
): OrderStatus {
  let s = o.status;
  if (s === "pending") {
    if (authzStatuses.some((a) => a !== "pending" && a !== "valid")) s = "invalid";
    else if (authzStatuses.length > 0 && authzStatuses.every((a) => a === "valid")) s = "ready";
  }
  if ((s === "pending" || s === "ready") && now.getTime() >= o.expires.getTime()) return "invalid";
  return s;
}

/** Error recorded on an order that became invalid because of an authorization or its expiry. */
export function derivedOrderError(
  status: OrderStatus,
  o: Pick<Order, "expires">,
  now: Date,
): ProblemDocument | undefined {
  if (status !== "invalid") return undefined;
  if (now.getTime() >= o.expires.getTime()) return problems.malformed("the order expired").toJSON();
  return problems.unauthorized("an authorization of this order is no longer pending or valid").toJSON();
}

/** finalize: only a ready order may start processing (RFC 8555 §7.4, orderNotReady otherwise). */
export function beginFinalize(o: Order, currentStatus: OrderStatus): Order {
  if (currentStatus !== "ready")
    throw problems.orderNotReady(`the order is ${currentStatus}; finalize needs a ready order`);
  return { ...o, status: "processing" };
}

export function completeFinalize(o: Order, serial: string): Order {
  return { ...o, status: "valid", certificateSerial: serial, error: undefined };
}

export function failFinalize(o: Order, error: ProblemDocument): Order {
  return { ...o, status: "invalid", error };
}

export interface ValidityPolicy {
  /** the longest certificate lifetime the profile allows, ms */
  maxValidityMs: number;
  /** how far in the past notBefore may lie (clock skew of devices), ms */
  maxBackdateMs: number;
  /** how far in the future notBefore may lie, ms */
  maxFutureStartMs: number;
}

/** Checks the optional notBefore/notAfter of newOrder against the profile (RFC 8555 §7.4). */
export function checkRequestedValidity(
  notBefore: Date | undefined,
  notAfter: Date | undefined,
  policy: ValidityPolicy,
  now: Date,
): void {
  const nb = notBefore ?? now;
  if (notBefore && notBefore.getTime() < now.getTime() - policy.maxBackdateMs)
    throw problems.malformed("notBefore lies further in the past than policy allows");
  if (notBefore && notBefore.getTime() > now.getTime() + policy.maxFutureStartMs)
    throw problems.malformed("notBefore lies further in the future than policy allows");
  if (notAfter) {
    if (notAfter.getTime() <= nb.getTime()) throw problems.malformed("notAfter must be later than notBefore");
    if (notAfter.getTime() - nb.getTime() > policy.maxValidityMs)
      throw problems.malformed(
        `the requested validity exceeds the profile's maximum of ${Math.floor(policy.maxValidityMs / 1000)} s`,
      );
  }
}
