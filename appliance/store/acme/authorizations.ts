// Repository of ACME authorizations (table acme_authorizations): insert, look up, find a reusable
// valid one for an account and identifier, compare-and-set update of status and expiry.
import type { Authorization } from "../../acme/authorization.js";
import { AUTHORIZATION_STATUSES, oneOf } from "../../acme/status.js";
import type { Queryable } from "../db.js";
import { casUpdate, type Versioned } from "./versioned.js";

interface Row {
  id: string;
  account_id: string;
  identifier_type: string;
  identifier_value: string;
  wildcard: number;
  status: string;
  expires: number;
  pre_authorized: number;
  version: number;
}

function fromRow(r: Row): Versioned<Authorization> {
  return {
    id: r.id,
    accountId: r.account_id,
    identifier: { type: r.identifier_type as "dns" | "ip", value: r.identifier_value },
    wildcard: r.wildcard === 1,
    status: oneOf(AUTHORIZATION_STATUSES, r.status, "authorization"),
    expires: new Date(r.expires),
    preAuthorized: r.pre_authorized === 1,
    version: r.version,
  };
}

export async function getAuthorization(q: Queryable, id: string): Promise<Versioned<Authorization> | undefined> {
  const r = await q.get<Row>("SELECT * FROM acme_authorizations WHERE id = ?", [id]);
  return r && fromRow(r);
}

export async function getAuthorizations(q: Queryable, ids: readonly string[]): Promise<Versioned<Authorization>[]> {
  if (ids.length === 0) return [];
  const rows = await q.all<Row>(`SELECT * FROM acme_authorizations WHERE id IN (${ids.map(() => "?").join(",")})`, [
    ...ids,
  ]);
  const byId = new Map(rows.map((r) => [r.id, fromRow(r)]));
  return ids.map((id) => byId.get(id)).filter((a): a is Versioned<Authorization> => a !== undefined);
}

/** The valid authorization of this account for the identifier that lives longest past `until`. */
export async function findReusableAuthorization(
  q: Queryable,
  accountId: string,
  identifier: { type: string; value: string },
  wildcard: boolean,
  until: number,
): Promise<Versioned<Authorization> | undefined> {
  const r = await q.get<Row>(
    `SELECT * FROM acme_authorizations WHERE account_id = ? AND identifier_type = ? AND identifier_value = ?
       AND wildcard = ? AND status = 'valid' AND expires >= ? ORDER BY expires DESC LIMIT 1`,
    [accountId, identifier.type, identifier.value, wildcard ? 1 : 0, until],
  );
  return r && fromRow(r);
}

export async function insertAuthorization(tx: Queryable, a: Authorization): Promise<Versioned<Authorization>> {
  await tx.run(
    `INSERT INTO acme_authorizations (id, account_id, identifier_type, identifier_value, wildcard, status, expires,
       pre_authorized, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)`,
    [
      a.id,
      a.accountId,
      a.identifier.type,
      a.identifier.value,
      a.wildcard ? 1 : 0,
      a.status,
      a.expires.getTime(),
      a.preAuthorized ? 1 : 0,
    ],
  );
  return { ...a, version: 1 };
}

export async function updateAuthorization(
  tx: Queryable,
  next: Versioned<Authorization>,
): Promise<Versioned<Authorization>> {
  await casUpdate(
    tx,
    `authorization ${next.id}`,
    "UPDATE acme_authorizations SET status = ?, expires = ?, version = version + 1 WHERE id = ? AND version = ?",
    [next.status, next.expires.getTime(), next.id, next.version],
  );
  return { ...next, version: next.version + 1 };
}
