// Repository of ACME authorizations with their challenges (table acme_authorizations): insert, look
// up, find a reusable valid one, compare-and-set update, and the ones with a validation in flight.
import type { Authorization } from "../../acme/authorization.js";
import type { Challenge } from "../../acme/challenge.js";
import { AUTHORIZATION_STATUSES, oneOf } from "../../acme/status.js";
import type { Queryable } from "../db.js";
import { casUpdate, type Versioned } from "./versioned.js";

interface Row {
  id: string;
  account_id: string;
  order_id: string | null;
  identifier_type: string;
  identifier_value: string;
  wildcard: number;
  status: string;
  expires: number;
  pre_authorized: number;
  challenges: string;
  version: number;
}

type StoredChallenge = Omit<Challenge, "id" | "authorizationId" | "validated"> & { validated?: number };

function fromRow(r: Row): Versioned<Authorization> {
  const challenges = (JSON.parse(r.challenges) as StoredChallenge[]).map(
    ({ validated, ...c }): Challenge => ({
      ...c,
      id: challengeId(r.id, c.type),
      authorizationId: r.id,
      ...(validated !== undefined ? { validated: new Date(validated) } : {}),
    }),
  );
  return {
    id: r.id,
    accountId: r.account_id,
    ...(r.order_id ? { orderId: r.order_id } : {}),
    identifier: { type: r.identifier_type as "dns" | "ip", value: r.identifier_value },
    wildcard: r.wildcard === 1,
    status: oneOf(AUTHORIZATION_STATUSES, r.status, "authorization"),
    expires: new Date(r.expires),
    preAuthorized: r.pre_authorized === 1,
    challenges,
    version: r.version,
  };
}

function challengesJson(cs: readonly Challenge[]): string {
  return JSON.stringify(
    cs.map(({ id: _id, authorizationId: _a, validated, ...c }) => ({
      ...c,
      ...(validated ? { validated: validated.getTime() } : {}),
    })),
  );
}

const TYPE_CODE: Record<string, string> = { "http-01": "h", "dns-01": "d", "tls-alpn-01": "t" };
const CODE_TYPE: Record<string, string> = { h: "http-01", d: "dns-01", t: "tls-alpn-01" };

/** A challenge's id is its authorization's id and a type code: `<authz>.<h|d|t>`. */
export function challengeId(authzId: string, type: string): string {
  return `${authzId}.${TYPE_CODE[type]}`;
}

export function parseChallengeId(id: string): { authorizationId: string; type: string } | undefined {
  const m = /^([A-Za-z0-9_-]{1,64})\.([hdt])$/.exec(id);
  return m ? { authorizationId: m[1]!, type: CODE_TYPE[m[2]!]! } : undefined;
}

export async function getAuthorization(q: Queryable, id: string): Promise<Versioned<Authorization> | undefined> {
  const r = await q.get<Row>("SELECT * FROM acme_authorizations WHERE id = ?", [id]);
  return r && fromRow(r);
}

export async function getAuthorizations(q: Queryable, ids: readonly string[]): Promise<Versioned<Authorization>[]> {
  if (ids.length === 0) return [];
  if (ids.length === 1) {
    const a = await getAuthorization(q, ids[0]!);
    return a ? [a] : [];
  }
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

/**
 * What a new order reuses for the identifier: the account's valid authorization (as above), else a
 * still-pending one (Boulder's reuse; bounds pending work per account). Never proof of control: only
 * findReusableAuthorization may authorise anything (revocation).
 */
async function findAuthorizationForNewOrder(
  q: Queryable,
  accountId: string,
  identifier: { type: string; value: string },
  wildcard: boolean,
  until: number,
): Promise<Versioned<Authorization> | undefined> {
  const r = await q.get<Row>(
    `SELECT * FROM acme_authorizations WHERE account_id = ? AND identifier_type = ? AND identifier_value = ?
       AND wildcard = ? AND status IN ('valid', 'pending') AND expires >= ?
     ORDER BY status = 'valid' DESC, expires DESC LIMIT 1`,
    [accountId, identifier.type, identifier.value, wildcard ? 1 : 0, until],
  );
  return r && fromRow(r);
}

export async function insertAuthorization(tx: Queryable, a: Authorization): Promise<Versioned<Authorization>> {
  await tx.run(
    `INSERT INTO acme_authorizations (id, account_id, order_id, identifier_type, identifier_value, wildcard, status,
       expires, pre_authorized, challenges, processing, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1)`,
    [
      a.id,
      a.accountId,
      a.orderId ?? null,
      a.identifier.type,
      a.identifier.value,
      a.wildcard ? 1 : 0,
      a.status,
      a.expires.getTime(),
      a.preAuthorized ? 1 : 0,
      challengesJson(a.challenges),
    ],
  );
  return { ...a, version: 1 };
}

/**
 * insertAuthorization unless the account already holds an authorization findAuthorizationForNewOrder
 * would return (checked in the same statement): one SQLite call in the common case. Returns the new
 * authorization, or the reusable one (then nothing was inserted).
 */
export async function insertAuthorizationUnlessReusable(
  tx: Queryable,
  a: Authorization,
  until: number,
): Promise<{ created: Versioned<Authorization> } | { reuse: Versioned<Authorization> }> {
  const wildcard = a.wildcard ? 1 : 0;
  const r = await tx.run(
    `INSERT INTO acme_authorizations (id, account_id, order_id, identifier_type, identifier_value, wildcard, status,
       expires, pre_authorized, challenges, processing, version)
     SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1
     WHERE NOT EXISTS (SELECT 1 FROM acme_authorizations WHERE account_id = ? AND identifier_type = ?
       AND identifier_value = ? AND wildcard = ? AND status IN ('valid', 'pending') AND expires >= ?)`,
    [
      a.id,
      a.accountId,
      a.orderId ?? null,
      a.identifier.type,
      a.identifier.value,
      wildcard,
      a.status,
      a.expires.getTime(),
      a.preAuthorized ? 1 : 0,
      challengesJson(a.challenges),
      a.accountId,
      a.identifier.type,
      a.identifier.value,
      wildcard,
      until,
    ],
  );
  if (r.changes === 1) return { created: { ...a, version: 1 } };
  const reuse = await findAuthorizationForNewOrder(tx, a.accountId, a.identifier, a.wildcard, until);
  if (!reuse) throw new Error(`authorization ${a.id} was neither inserted nor reusable`);
  return { reuse };
}

/** Writes status, expiry and challenges if the row still has `next.version` (else: conflict). */
export async function updateAuthorization(
  tx: Queryable,
  next: Versioned<Authorization>,
): Promise<Versioned<Authorization>> {
  const processing = next.challenges.some((c) => c.status === "processing") ? 1 : 0;
  await casUpdate(
    tx,
    `authorization ${next.id}`,
    `UPDATE acme_authorizations SET status = ?, expires = ?, challenges = ?, processing = ?, version = version + 1
     WHERE id = ? AND version = ?`,
    [next.status, next.expires.getTime(), challengesJson(next.challenges), processing, next.id, next.version],
  );
  return { ...next, version: next.version + 1 };
}

/** Authorizations with a challenge in validation (to resume after a restart). */
/** Account deactivation: the account's pending authorizations become deactivated; their ids. */
export async function deactivatePendingAuthorizationsOf(tx: Queryable, accountId: string): Promise<string[]> {
  const rows = await tx.all<{ id: string }>(
    "UPDATE acme_authorizations SET status = 'deactivated', version = version + 1 WHERE account_id = ? AND status = 'pending' RETURNING id",
    [accountId],
  );
  return rows.map((r) => r.id);
}

export async function processingAuthorizationIds(q: Queryable): Promise<string[]> {
  return (await q.all<{ id: string }>("SELECT id FROM acme_authorizations WHERE processing = 1")).map((r) => r.id);
}
