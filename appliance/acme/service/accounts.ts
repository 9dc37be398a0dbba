// Account resources (RFC 8555 §7.3): newAccount with EAB and onlyReturnExisting, lookup for `kid`,
// update of contact, deactivation, key rollover, and the account's orders list.
import { isApplianceError } from "../../errors.js";
import * as accountsRepo from "../../store/acme/accounts.js";
import * as authzRepo from "../../store/acme/authorizations.js";
import * as eabRepo from "../../store/acme/eab.js";
import * as ordersRepo from "../../store/acme/orders.js";
import { type Account, deactivateAccount, parseContacts, requireValidAccount } from "../account.js";
import type { CachedAccount } from "../account-keys.js";
import { parseEabJws, verifyEab } from "../eab.js";
import {
  type FlattenedJws,
  type ImportedKey,
  importAccountJwk,
  parseFlattenedJws,
  parseProtectedHeader,
  verifyJwsSignature,
} from "../jws.js";
import { problems } from "../problems.js";
import { newId, type ServiceContext } from "./context.js";
import { getEabCredential } from "./eab.js";

export interface NewAccountResult {
  account: Account;
  created: boolean;
}

/** The account behind a `kid`, from the key cache or the store (null when there is none). */
export async function accountForKid(ctx: ServiceContext, id: string): Promise<CachedAccount | undefined> {
  const hit = ctx.keys.get(id);
  if (hit) return hit;
  const a = await accountsRepo.getAccount(ctx.db, id);
  return a ? ctx.keys.put(a) : undefined;
}

/** RFC 8555 §7.3, §7.3.1, §7.3.4. `key` is the verified outer JWS key. */
export async function newAccount(
  ctx: ServiceContext,
  key: ImportedKey,
  payload: Record<string, unknown>,
  clientAddress: string,
): Promise<NewAccountResult> {
  const existing = await accountsRepo.getAccountByThumbprint(ctx.db, key.thumbprint);
  // RFC 8555 §7.3.6: a deactivated account's key is refused, onlyReturnExisting included
  if (existing) return { account: requireValidAccount(existing), created: false };
  if (payload.onlyReturnExisting === true) throw problems.accountDoesNotExist();
  if (payload.onlyReturnExisting !== undefined && typeof payload.onlyReturnExisting !== "boolean")
    throw problems.malformed("onlyReturnExisting must be a boolean");
  if (payload.termsOfServiceAgreed !== undefined && typeof payload.termsOfServiceAgreed !== "boolean")
    throw problems.malformed("termsOfServiceAgreed must be a boolean");
  const tos = payload.termsOfServiceAgreed === true;
  if (ctx.config.termsOfService && !tos) throw problems.malformed("you must agree to the terms of service");
  const contact = parseContacts(payload.contact);

  let eabKid: string | undefined;
  if (payload.externalAccountBinding !== undefined) {
    const { kid, jws } = parseEabJws(payload.externalAccountBinding, ctx.links.url("newAccount"));
    const cred = await getEabCredential(ctx, kid);
    if (!cred) throw problems.unauthorized("unknown EAB key identifier");
    await verifyEab(jws, cred, key.jwk, ctx.now());
    eabKid = kid;
  } else if (ctx.config.eabRequired) {
    throw problems.externalAccountRequired();
  }
  ctx.limits.take("newAccountsPerAddress", clientAddress, "new accounts from this address");

  const account: Account = {
    id: newId(),
    status: "valid",
    contact,
    termsOfServiceAgreed: tos,
    thumbprint: key.thumbprint,
    jwk: key.jwk,
    ...(eabKid ? { eabKid } : {}),
    createdAt: ctx.now(),
  };
  try {
    const stored = await ctx.db.write(async (tx) => {
      if (eabKid && !(await eabRepo.bindEab(tx, eabKid)))
        throw problems.unauthorized("the EAB credential is already bound or was revoked");
      return accountsRepo.insertAccount(tx, account);
    });
    ctx.keys.put(stored, key);
    ctx.events.accountCreated();
    return { account: stored, created: true };
  } catch (e) {
    // two newAccount requests with one key raced: the loser returns the winner's account
    const raced = await accountsRepo.getAccountByThumbprint(ctx.db, key.thumbprint);
    if (raced && !isApplianceError(e, "rateLimited")) return { account: raced, created: false };
    throw e;
  }
}

/** RFC 8555 §7.3.2 and §7.3.6: update contact, or deactivate. Other fields are ignored. */
export async function updateAccount(
  ctx: ServiceContext,
  accountId: string,
  payload: Record<string, unknown>,
): Promise<Account> {
  const contact = payload.contact !== undefined ? parseContacts(payload.contact) : undefined;
  if (payload.status !== undefined && payload.status !== "deactivated")
    throw problems.malformed('the only status a client may set is "deactivated"');
  const cancelled = { orders: [] as string[], authorizations: [] as string[] };
  const updated = await ctx.db.write(async (tx) => {
    const cur = await accountsRepo.getAccount(tx, accountId);
    if (!cur) throw problems.accountDoesNotExist();
    let next = cur;
    if (contact) next = { ...next, contact };
    if (payload.status === "deactivated") {
      next = { ...deactivateAccount(next), version: next.version };
      // RFC 8555 §7.3.6: the server SHOULD cancel the account's pending operations
      cancelled.orders = await ordersRepo.invalidatePendingOrdersOf(
        tx,
        accountId,
        problems.unauthorized("the account was deactivated").toJSON(),
      );
      cancelled.authorizations = await authzRepo.deactivatePendingAuthorizationsOf(tx, accountId);
    }
    if (next === cur) return cur;
    return accountsRepo.updateAccount(tx, next);
  });
  for (const id of cancelled.orders) ctx.cache.forgetOrder(id);
  for (const id of cancelled.authorizations) ctx.cache.forgetAuthorization(id);
  ctx.keys.put(updated);
  return updated;
}

/**
 * RFC 8555 §7.3.5 key rollover. `inner` is the payload of the outer JWS (itself a JWS signed by the
 * new key, with `jwk`, the same url and no nonce, whose payload names the account and the old key).
 */
export async function keyChange(
  ctx: ServiceContext,
  cached: CachedAccount,
  inner: unknown,
  url: string,
): Promise<Account> {
  if (typeof inner !== "object" || inner === null) throw problems.malformed("the keyChange payload must be a JWS");
  const jws: FlattenedJws = parseFlattenedJws(JSON.stringify(inner));
  const hdr = parseProtectedHeader(jws, url, false);
  if (!hdr.jwk) throw problems.malformed("the inner keyChange JWS must carry the new key as jwk");
  const newKey = importAccountJwk(hdr.jwk);
  if (!verifyJwsSignature(jws, hdr.alg, newKey))
    throw problems.malformed("the inner keyChange JWS signature is invalid");
  let body: { account?: unknown; oldKey?: unknown };
  try {
    body = JSON.parse(Buffer.from(jws.payload, "base64url").toString("utf8")) as typeof body;
  } catch {
    throw problems.malformed("the inner keyChange payload is not JSON");
  }
  if (body.account !== ctx.links.url("account", cached.account.id))
    throw problems.unauthorized("the inner keyChange payload names another account");
  if (typeof body.oldKey !== "object" || body.oldKey === null) throw problems.malformed("oldKey is missing");
  let oldThumb: string;
  try {
    oldThumb = importAccountJwk(body.oldKey as Record<string, unknown>).thumbprint;
  } catch {
    throw problems.malformed("oldKey is not a valid key");
  }
  if (oldThumb !== cached.account.thumbprint) throw problems.unauthorized("oldKey is not the account's current key");
  if (newKey.thumbprint === cached.account.thumbprint) throw problems.malformed("the new key is the current key");
  const updated = await ctx.db.write(async (tx) => {
    const other = await accountsRepo.getAccountByThumbprint(tx, newKey.thumbprint);
    if (other)
      throw problems.malformed("the new key is already in use by another account", {
        status: 409,
        headers: { Location: ctx.links.url("account", other.id) },
      });
    const cur = await accountsRepo.getAccount(tx, cached.account.id);
    if (cur?.status !== "valid") throw problems.unauthorized("the account is not valid");
    return accountsRepo.updateAccount(tx, { ...cur, thumbprint: newKey.thumbprint, jwk: newKey.jwk });
  });
  ctx.keys.put(updated, newKey);
  return updated;
}

/** One page of the account's orders (URLs), newest first, and the cursor of the next page. */
export async function accountOrders(
  ctx: ServiceContext,
  accountId: string,
  cursor: number | undefined,
): Promise<{ orders: string[]; next?: number }> {
  const page = await ordersRepo.listOrderIds(ctx.db, accountId, {
    ...(cursor !== undefined ? { before: cursor } : {}),
    limit: 100,
    now: ctx.now().getTime(),
  });
  return { orders: page.ids.map((id) => ctx.links.url("order", id)), ...(page.next ? { next: page.next } : {}) };
}
