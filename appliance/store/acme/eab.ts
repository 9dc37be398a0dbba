// Repository of EAB credentials (table acme_eab_credentials): create, list, revoke, look up by kid,
// and count the accounts bound to one.
import type { EabCredential } from "../../acme/eab.js";
import type { Queryable } from "../db.js";
import { date } from "./versioned.js";

interface Row {
  kid: string;
  hmac_key: Buffer;
  label: string;
  identifiers: string;
  reusable: number;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  bound_accounts: number;
}

function fromRow(r: Row): EabCredential {
  const expiresAt = date(r.expires_at);
  const revokedAt = date(r.revoked_at);
  return {
    kid: r.kid,
    hmacKey: r.hmac_key,
    label: r.label,
    identifiers: JSON.parse(r.identifiers) as string[],
    reusable: r.reusable === 1,
    createdAt: new Date(r.created_at),
    ...(expiresAt ? { expiresAt } : {}),
    ...(revokedAt ? { revokedAt } : {}),
    boundAccounts: r.bound_accounts,
  };
}

export async function getEab(q: Queryable, kid: string): Promise<EabCredential | undefined> {
  const r = await q.get<Row>("SELECT * FROM acme_eab_credentials WHERE kid = ?", [kid]);
  return r && fromRow(r);
}

export async function listEab(q: Queryable): Promise<EabCredential[]> {
  return (await q.all<Row>("SELECT * FROM acme_eab_credentials ORDER BY created_at, kid")).map(fromRow);
}

export async function insertEab(tx: Queryable, c: EabCredential): Promise<void> {
  await tx.run(
    `INSERT INTO acme_eab_credentials (kid, hmac_key, label, identifiers, reusable, created_at, expires_at, revoked_at, bound_accounts)
     VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0)`,
    [
      c.kid,
      c.hmacKey,
      c.label,
      JSON.stringify(c.identifiers),
      c.reusable ? 1 : 0,
      c.createdAt.getTime(),
      c.expiresAt?.getTime() ?? null,
    ],
  );
}

/** Marks a credential revoked; returns false when no such (unrevoked) credential exists. */
export async function revokeEab(tx: Queryable, kid: string, at: Date): Promise<boolean> {
  const r = await tx.run("UPDATE acme_eab_credentials SET revoked_at = ? WHERE kid = ? AND revoked_at IS NULL", [
    at.getTime(),
    kid,
  ]);
  return r.changes === 1;
}

/**
 * Binds one more account to the credential. Fails (returns false) when a single-use credential is
 * already bound — checked in the same statement, so two racing newAccount requests cannot both bind.
 */
export async function bindEab(tx: Queryable, kid: string): Promise<boolean> {
  const r = await tx.run(
    `UPDATE acme_eab_credentials SET bound_accounts = bound_accounts + 1
     WHERE kid = ? AND revoked_at IS NULL AND (reusable = 1 OR bound_accounts = 0)`,
    [kid],
  );
  return r.changes === 1;
}
