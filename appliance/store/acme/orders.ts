// Repository of ACME orders (tables acme_orders, acme_order_authorizations): insert with links,
// look up by id, list per account, find by certificate serial or `replaces`, compare-and-set update.
import type { Identifier } from "../../acme/identifier.js";
import type { Order } from "../../acme/order.js";
import type { ProblemDocument } from "../../acme/problems.js";
import { ORDER_STATUSES, oneOf } from "../../acme/status.js";
import type { Queryable } from "../db.js";
import { casUpdate, date, json, type Versioned } from "./versioned.js";

interface Row {
  id: string;
  account_id: string;
  status: string;
  expires: number;
  identifiers: string;
  not_before: number | null;
  not_after: number | null;
  profile: string | null;
  replaces: string | null;
  error: string | null;
  certificate_serial: string | null;
  created_at: number;
  version: number;
  authorization_ids: string;
}

const SELECT = `SELECT o.id, o.account_id, o.status, o.expires, o.identifiers, o.authorization_ids, o.not_before,
  o.not_after, o.profile, o.replaces, o.error, o.certificate_serial, o.created_at, o.version FROM acme_orders o`;

function fromRow(r: Row): Versioned<Order> {
  const error = json<ProblemDocument>(r.error);
  const notBefore = date(r.not_before);
  const notAfter = date(r.not_after);
  return {
    id: r.id,
    accountId: r.account_id,
    status: oneOf(ORDER_STATUSES, r.status, "order"),
    expires: new Date(r.expires),
    identifiers: JSON.parse(r.identifiers) as Identifier[],
    authorizationIds: JSON.parse(r.authorization_ids) as string[],
    ...(notBefore ? { notBefore } : {}),
    ...(notAfter ? { notAfter } : {}),
    ...(r.profile ? { profile: r.profile } : {}),
    ...(r.replaces ? { replaces: r.replaces } : {}),
    ...(error ? { error } : {}),
    ...(r.certificate_serial ? { certificateSerial: r.certificate_serial } : {}),
    createdAt: new Date(r.created_at),
    version: r.version,
  };
}

export async function getOrder(q: Queryable, id: string): Promise<Versioned<Order> | undefined> {
  const r = await q.get<Row>(`${SELECT} WHERE o.id = ?`, [id]);
  return r && fromRow(r);
}

export async function insertOrder(tx: Queryable, o: Order): Promise<Versioned<Order>> {
  await tx.run(
    `INSERT INTO acme_orders (id, account_id, status, expires, identifiers, authorization_ids, not_before, not_after,
       profile, replaces, error, csr, certificate_serial, created_at, version)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, 1)`,
    [
      o.id,
      o.accountId,
      o.status,
      o.expires.getTime(),
      JSON.stringify(o.identifiers),
      JSON.stringify(o.authorizationIds),
      o.notBefore?.getTime() ?? null,
      o.notAfter?.getTime() ?? null,
      o.profile ?? null,
      o.replaces ?? null,
      o.createdAt.getTime(),
    ],
  );
  return { ...o, version: 1 };
}

/** Writes status, error, certificate serial (and the CSR while processing) if the version still matches. */
export async function updateOrder(
  tx: Queryable,
  next: Versioned<Order>,
  csr?: Buffer | null,
): Promise<Versioned<Order>> {
  await casUpdate(
    tx,
    `order ${next.id}`,
    `UPDATE acme_orders SET status = ?, error = ?, certificate_serial = ?, csr = coalesce(?, csr), version = version + 1
     WHERE id = ? AND version = ?`,
    [
      next.status,
      next.error ? JSON.stringify(next.error) : null,
      next.certificateSerial ?? null,
      csr ?? null,
      next.id,
      next.version,
    ],
  );
  return { ...next, version: next.version + 1 };
}

/**
 * updateOrder without the conflict error: the compare-and-set write, or undefined when the row's
 * version moved on (the caller then takes its usual re-read path).
 */
export async function tryUpdateOrder(tx: Queryable, next: Versioned<Order>): Promise<Versioned<Order> | undefined> {
  const r = await tx.run(
    `UPDATE acme_orders SET status = ?, error = ?, certificate_serial = ?, csr = coalesce(?, csr), version = version + 1
     WHERE id = ? AND version = ?`,
    [
      next.status,
      next.error ? JSON.stringify(next.error) : null,
      next.certificateSerial ?? null,
      null,
      next.id,
      next.version,
    ],
  );
  return r.changes === 1 ? { ...next, version: next.version + 1 } : undefined;
}

export async function getOrderCsr(q: Queryable, id: string): Promise<Buffer | undefined> {
  const r = await q.get<{ csr: Buffer | null }>("SELECT csr FROM acme_orders WHERE id = ?", [id]);
  return r?.csr ?? undefined;
}

/** Ids of an account's orders, newest first, one page (RFC 8555 §7.1.2.1 with Link rel=next). */
export async function listOrderIds(
  q: Queryable,
  accountId: string,
  opts: { before?: number; limit: number; now: number },
): Promise<{ ids: string[]; next?: number }> {
  const rows = await q.all<{ id: string; created_at: number; rowid: number }>(
    `SELECT id, created_at, rowid FROM acme_orders WHERE account_id = ? AND rowid < ?
       AND (status IN ('pending', 'ready', 'processing') AND expires > ? OR status = 'valid')
     ORDER BY rowid DESC LIMIT ?`,
    [accountId, opts.before ?? Number.MAX_SAFE_INTEGER, opts.now, opts.limit + 1],
  );
  const page = rows.slice(0, opts.limit);
  return { ids: page.map((r) => r.id), ...(rows.length > opts.limit ? { next: page[page.length - 1]!.rowid } : {}) };
}

/** Marks a pending order invalid (its authorization failed); no-op for orders past pending. */
export async function invalidatePendingOrder(tx: Queryable, id: string, error: ProblemDocument): Promise<void> {
  await tx.run(
    "UPDATE acme_orders SET status = 'invalid', error = ?, version = version + 1 WHERE id = ? AND status = 'pending'",
    [JSON.stringify(error), id],
  );
}

/** Account deactivation: the account's pending (and so ready) orders become invalid; their ids. */
export async function invalidatePendingOrdersOf(
  tx: Queryable,
  accountId: string,
  error: ProblemDocument,
): Promise<string[]> {
  const rows = await tx.all<{ id: string }>(
    "UPDATE acme_orders SET status = 'invalid', error = ?, version = version + 1 WHERE account_id = ? AND status = 'pending' RETURNING id",
    [JSON.stringify(error), accountId],
  );
  return rows.map((r) => r.id);
}

export async function getOrderBySerial(q: Queryable, serial: string): Promise<Versioned<Order> | undefined> {
  const r = await q.get<Row>(`${SELECT} WHERE o.certificate_serial = ?`, [serial]);
  return r && fromRow(r);
}

/** An order (other than `exceptOrderId`) replacing or that replaced the certificate with this RFC 9773 ID. */
export async function findReplacingOrder(
  q: Queryable,
  certId: string,
  exceptOrderId = "",
): Promise<string | undefined> {
  const r = await q.get<{ id: string }>(
    "SELECT id FROM acme_orders WHERE replaces = ? AND status IN ('processing', 'valid') AND id <> ? LIMIT 1",
    [certId, exceptOrderId],
  );
  return r?.id;
}

/** How many orders of the account are stored pending and unexpired at `now`, and when the first expires. */
export async function pendingOrders(
  q: Queryable,
  accountId: string,
  now: number,
): Promise<{ count: number; firstExpires: number | null }> {
  const r = await q.get<{ n: number; first: number | null }>(
    "SELECT count(*) AS n, min(expires) AS first FROM acme_orders WHERE account_id = ? AND status = 'pending' AND expires > ?",
    [accountId, now],
  );
  return { count: r?.n ?? 0, firstExpires: r?.first ?? null };
}

export async function processingOrderIds(q: Queryable): Promise<string[]> {
  return (await q.all<{ id: string }>("SELECT id FROM acme_orders WHERE status = 'processing'")).map((r) => r.id);
}
