// Order resources (RFC 8555 §7.4, RFC 8738, RFC 9773 `replaces`, ACME profiles): newOrder with
// identifier policy, validity and profile checks, authorization reuse and pre-authorisation; reads.
import { quoted } from "../../clip.js";
import type { Identifier } from "../../ca/api.js";
import * as authzRepo from "../../store/acme/authorizations.js";
import * as ordersRepo from "../../store/acme/orders.js";
import type { Versioned } from "../../store/acme/versioned.js";
import type { Account } from "../account.js";
import { type Authorization, authorizationStatusAt } from "../authorization.js";
import { parseCertificate } from "../certificate.js";
import { challengeTypesFor, newToken } from "../challenge.js";
import { challengeId } from "../../store/acme/authorizations.js";
import { preAuthorized } from "../eab.js";
import { authorizationIdentifier, identifierKey, normalizeIdentifiers, parseIdentifier } from "../identifier.js";
import { checkRequestedValidity, derivedOrderError, type Order, orderStatusAt } from "../order.js";
import { AcmeProblem, problems, type ProblemOptions } from "../problems.js";
import { parseCertId } from "../renewal-info.js";
import type { OrderStatus } from "../status.js";
import { newId, type ServiceContext } from "./context.js";
import { getEabCredential } from "./eab.js";

export interface OrderView {
  order: Versioned<Order>;
  /** the status at read time (expiry and authorization changes applied) */
  status: OrderStatus;
}

function parseTime(v: unknown, name: string): Date | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v))
    throw problems.malformed(`${name} must be an RFC 3339 date-time`);
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw problems.malformed(`${name} is not a valid date-time`);
  return d;
}

/** RFC 8555 §7.4 newOrder. */
export async function newOrder(
  ctx: ServiceContext,
  account: Account,
  payload: Record<string, unknown>,
  clientAddress: string,
): Promise<OrderView> {
  const now = ctx.now();
  if (!Array.isArray(payload.identifiers) || payload.identifiers.length === 0)
    throw problems.malformed("identifiers must be a non-empty array");
  if (payload.identifiers.length > ctx.config.maxIdentifiersPerOrder)
    throw problems.rejectedIdentifier(`an order may name at most ${ctx.config.maxIdentifiersPerOrder} identifiers`);
  const parsed: Identifier[] = [];
  const bad: NonNullable<ProblemOptions["subproblems"]> = [];
  for (const raw of payload.identifiers) {
    const r = parseIdentifier(raw);
    if (r.ok) parsed.push(r.identifier);
    else {
      const v = raw as { type?: unknown; value?: unknown };
      bad.push({
        type: r.unsupportedType ? "unsupportedIdentifier" : "rejectedIdentifier",
        detail: r.reason,
        ...(typeof v?.type === "string" && typeof v?.value === "string"
          ? { identifier: { type: v.type as "dns", value: v.value } }
          : {}),
      });
    }
  }
  if (bad.length) throw rejected(bad);
  const identifiers = normalizeIdentifiers(parsed);
  for (const k of ["notBefore", "notAfter", "profile", "replaces"] as const)
    if (payload[k] !== undefined && typeof payload[k] !== "string") throw problems.malformed(`${k} must be a string`);
  const notBefore = parseTime(payload.notBefore, "notBefore");
  const notAfter = parseTime(payload.notAfter, "notAfter");

  const profiles = ctx.ca.profiles();
  const profileName = (payload.profile as string | undefined) ?? ctx.ca.defaultProfile;
  const profile = profiles.find((p) => p.name === profileName);
  if (!profile) throw problems.invalidProfile(`profile ${quoted(profileName)} is not offered`);
  checkRequestedValidity(
    notBefore,
    notAfter,
    {
      maxValidityMs: (profile.maxValiditySeconds ?? profile.validitySeconds) * 1000,
      maxBackdateMs: ctx.config.maxBackdateSeconds * 1000,
      maxFutureStartMs: ctx.config.maxFutureStartSeconds * 1000,
    },
    now,
  );

  const verdicts = ctx.ca.checkIdentifiers(identifiers);
  const refused = verdicts.filter((v) => !v.ok);
  if (refused.length)
    throw rejected(
      refused.map((v) => ({
        type: "rejectedIdentifier" as const,
        detail: v.reason ?? "outside the issuance policy",
        identifier: v.identifier,
      })),
    );

  const replaces = payload.replaces as string | undefined;
  if (replaces !== undefined) await checkReplaces(ctx, account, replaces, identifiers);

  const pending = await ordersRepo.pendingOrders(ctx.db, account.id, now.getTime());
  if (pending.count >= ctx.config.maxPendingOrdersPerAccount) {
    const wait = Math.min(
      3600,
      Math.max(1, Math.ceil(((pending.firstExpires ?? now.getTime()) - now.getTime()) / 1000)),
    );
    throw problems.rateLimited(
      `this account has ${pending.count} unfinished orders (at most ${ctx.config.maxPendingOrdersPerAccount}): ` +
        `finalize them or let them expire; retry after ${wait} s`,
      { retryAfter: wait },
    );
  }
  ctx.limits.take("newOrdersPerAccount", account.id, "new orders for this account");
  ctx.limits.take("newOrdersPerAddress", clientAddress, "new orders from this address");
  ctx.limits.check("failedValidationsPerAccount", account.id, "failed validations for this account");
  ctx.limits.check("failedValidationsPerAddress", clientAddress, "failed validations from this address");

  const patterns = account.eabKid ? ((await getEabCredential(ctx, account.eabKid))?.identifiers ?? []) : [];
  const orderExpires = new Date(now.getTime() + ctx.config.orderLifetimeSeconds * 1000);
  const pendingExpires = new Date(
    now.getTime() + Math.min(ctx.config.pendingAuthorizationLifetimeSeconds, ctx.config.orderLifetimeSeconds) * 1000,
  );
  const validLifetime = ctx.config.validAuthorizationLifetimeSeconds * 1000;

  const orderId = newId();
  const created: Versioned<Authorization>[] = [];
  const order = await ctx.db.write(async (tx) => {
    // everything the job computes starts afresh: Db.write may run a job body again
    created.length = 0;
    let expires = orderExpires;
    const authzIds: string[] = [];
    const statuses: Authorization["status"][] = [];
    const seen = new Set<string>();
    for (const id of identifiers) {
      const { identifier, wildcard } = authorizationIdentifier(id);
      const key = `${identifierKey(identifier)}:${wildcard}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const pre = patterns.length > 0 && preAuthorized(patterns, id);
      const authzId = newId();
      const authz: Authorization = {
        id: authzId,
        accountId: account.id,
        orderId,
        identifier,
        wildcard,
        status: pre ? "valid" : "pending",
        expires: pre ? new Date(now.getTime() + validLifetime) : pendingExpires,
        preAuthorized: pre,
        challenges: pre
          ? []
          : challengeTypesFor(identifier, wildcard, ctx.config.challengeTypes).map((type) => ({
              id: challengeId(authzId, type),
              authorizationId: authzId,
              type,
              token: newToken(),
              status: "pending" as const,
            })),
      };
      // a valid or still-pending authorization of this account for the identifier is reused instead
      // (same statement)
      const stored = await authzRepo.insertAuthorizationUnlessReusable(tx, authz, now.getTime() + 60_000);
      if ("reuse" in stored) {
        const { reuse } = stored;
        authzIds.push(reuse.id);
        statuses.push(reuse.status);
        if (reuse.expires.getTime() < expires.getTime()) expires = reuse.expires;
        continue;
      }
      created.push(stored.created);
      if (authz.expires.getTime() < expires.getTime()) expires = authz.expires;
      authzIds.push(authz.id);
      statuses.push(authz.status);
    }
    const o: Order = {
      id: orderId,
      accountId: account.id,
      status: "pending",
      expires,
      identifiers,
      authorizationIds: authzIds,
      ...(notBefore ? { notBefore } : {}),
      ...(notAfter ? { notAfter } : {}),
      profile: profile.name,
      ...(replaces ? { replaces } : {}),
      createdAt: now,
    };
    // stored status stays pending: ready is derived from the authorizations when read
    return { stored: await ordersRepo.insertOrder(tx, o), status: orderStatusAt(o, statuses, now) };
  });
  for (const a of created) ctx.cache.putAuthorization(a);
  ctx.cache.putOrder(order.stored);
  ctx.events.orderCreated();
  return { order: order.stored, status: order.status };
}

function rejected(subproblems: NonNullable<ProblemOptions["subproblems"]>): AcmeProblem {
  if (subproblems.length === 1) {
    const s = subproblems[0]!;
    return new AcmeProblem(s.type, s.detail, { subproblems });
  }
  const allUnsupported = subproblems.every((s) => s.type === "unsupportedIdentifier");
  return new AcmeProblem(
    allUnsupported ? "unsupportedIdentifier" : "rejectedIdentifier",
    `${subproblems.length} identifiers were refused; see subproblems`,
    { subproblems },
  );
}

/**
 * RFC 9773 §5: `replaces` must name a certificate of this account that shares an identifier with
 * the order and was not replaced yet (checked again when the order is finalized: Finalizer).
 */
async function checkReplaces(
  ctx: ServiceContext,
  account: Account,
  certId: string,
  identifiers: readonly Identifier[],
): Promise<void> {
  const id = parseCertId(certId);
  const cert = await ctx.ca.getCertificate(id.serialHex);
  if (!cert?.authorityKeyId.equals(id.authorityKeyId))
    throw problems.malformed("replaces names a certificate this CA did not issue", { status: 404 });
  if (cert.accountId !== account.id) throw problems.unauthorized("replaces names a certificate of another account");
  const wanted = new Set(identifiers.map(identifierKey));
  if (!parseCertificate(cert.der).identifiers.some((i) => wanted.has(identifierKey(i))))
    throw problems.malformed("replaces names a certificate that shares no identifier with this order");
  const other = await ordersRepo.findReplacingOrder(ctx.db, certId);
  if (other)
    throw problems.alreadyReplaced(`the certificate was already replaced by order ${ctx.links.url("order", other)}`);
}

/** The order with its status at read time; unauthorized for another account's order. */
export async function getOrder(ctx: ServiceContext, accountId: string, orderId: string): Promise<OrderView> {
  const order = await ctx.cache.order(ctx.db, orderId);
  if (!order) throw problems.malformed("no such order", { status: 404 });
  if (order.accountId !== accountId) throw problems.unauthorized("the order belongs to another account");
  return viewOrder(ctx, order);
}

/** The order with its status at read time (expiry, and readiness from its authorizations). */
export async function viewOrder(ctx: ServiceContext, order: Versioned<Order>): Promise<OrderView> {
  const now = ctx.now();
  if (order.status !== "pending" && order.status !== "ready") return { order, status: order.status };
  const authzs = await ctx.cache.authorizations(ctx.db, order.authorizationIds);
  const status = orderStatusAt(
    order,
    authzs.map((a) => authorizationStatusAt(a, now)),
    now,
  );
  if (status === "invalid" && !order.error) {
    const error = derivedOrderError(status, order, now);
    return { order: { ...order, ...(error ? { error } : {}) }, status };
  }
  return { order, status };
}
