// Repository of ACME accounts (table acme_accounts): lookup by id and key thumbprint, insert,
// compare-and-set update of status, contact and key.
import type { Account } from "../../acme/account.js";
import { ACCOUNT_STATUSES, oneOf } from "../../acme/status.js";
import type { Queryable } from "../db.js";
import { casUpdate, type Versioned } from "./versioned.js";

interface Row {
  id: string;
  thumbprint: string;
  jwk: string;
  status: string;
  contact: string;
  tos_agreed: number;
  eab_kid: string | null;
  created_at: number;
  version: number;
}

function fromRow(r: Row): Versioned<Account> {
  return {
    id: r.id,
    thumbprint: r.thumbprint,
    jwk: JSON.parse(r.jwk) as Record<string, string>,
    status: oneOf(ACCOUNT_STATUSES, r.status, "account"),
    contact: JSON.parse(r.contact) as string[],
    termsOfServiceAgreed: r.tos_agreed === 1,
    ...(r.eab_kid ? { eabKid: r.eab_kid } : {}),
    createdAt: new Date(r.created_at),
    version: r.version,
  };
}

export async function getAccount(q: Queryable, id: string): Promise<Versioned<Account> | undefined> {
  const r = await q.get<Row>("SELECT * FROM acme_accounts WHERE id = ?", [id]);
  return r && fromRow(r);
}

export async function getAccountByThumbprint(
  q: Queryable,
  thumbprint: string,
): Promise<Versioned<Account> | undefined> {
  const r = await q.get<Row>("SELECT * FROM acme_accounts WHERE thumbprint = ?", [thumbprint]);
  return r && fromRow(r);
}

export async function insertAccount(tx: Queryable, a: Account): Promise<Versioned<Account>> {
  await tx.run(
    `INSERT INTO acme_accounts (id, thumbprint, jwk, status, contact, tos_agreed, eab_kid, created_at, version)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)`,
    [
      a.id,
      a.thumbprint,
      JSON.stringify(a.jwk),
      a.status,
      JSON.stringify(a.contact),
      a.termsOfServiceAgreed ? 1 : 0,
      a.eabKid ?? null,
      a.createdAt.getTime(),
    ],
  );
  return { ...a, version: 1 };
}

/** Writes status, contact and key of `next` if the stored row still has `next.version`. */
export async function updateAccount(tx: Queryable, next: Versioned<Account>): Promise<Versioned<Account>> {
  await casUpdate(
    tx,
    `account ${next.id}`,
    `UPDATE acme_accounts SET status = ?, contact = ?, thumbprint = ?, jwk = ?, version = version + 1
     WHERE id = ? AND version = ?`,
    [next.status, JSON.stringify(next.contact), next.thumbprint, JSON.stringify(next.jwk), next.id, next.version],
  );
  return { ...next, version: next.version + 1 };
}
