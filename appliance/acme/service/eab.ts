// EAB credentials as plant IT manages them (`plantroot eab create|list|revoke`) and as newAccount and
// newOrder read them (MAC key, pre-authorised identifier patterns).
import { randomBytes } from "node:crypto";
import type { AuditLog } from "../../audit/index.js";
import * as eabRepo from "../../store/acme/eab.js";
import type { Db } from "../../store/db.js";
import { type EabCredential, parsePattern } from "../eab.js";
import type { ServiceContext } from "./context.js";

export async function getEabCredential(ctx: ServiceContext, kid: string): Promise<EabCredential | undefined> {
  return eabRepo.getEab(ctx.db, kid);
}

export interface CreateEabOptions {
  label: string;
  /** pre-authorised identifier patterns (checked for syntax here; the CA policy still applies) */
  identifiers?: string[];
  reusable?: boolean;
  expiresAt?: Date;
  now?: Date;
  /** record the creation (never the key) in the audit chain, in the same transaction */
  audit?: AuditLog;
  actor?: string;
}

/** Creates a credential; the HMAC key is returned once (base64url) and stored for verification. */
export async function createEab(
  db: Db,
  opts: CreateEabOptions,
): Promise<{ kid: string; hmacKey: string; credential: EabCredential }> {
  for (const p of opts.identifiers ?? []) parsePattern(p);
  const cred: EabCredential = {
    kid: `eab-${randomBytes(9).toString("base64url")}`,
    hmacKey: randomBytes(32),
    label: opts.label,
    identifiers: opts.identifiers ?? [],
    reusable: opts.reusable ?? false,
    createdAt: opts.now ?? new Date(),
    ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
    boundAccounts: 0,
  };
  await db.write(async (tx) => {
    await eabRepo.insertEab(tx, cred);
    await opts.audit?.appendTx(tx, [
      {
        type: "eab.created",
        actor: opts.actor ?? "operator",
        subject: `eab:${cred.kid}`,
        details: {
          label: cred.label,
          identifiers: cred.identifiers,
          reusable: cred.reusable,
          expiresAt: cred.expiresAt?.toISOString() ?? null,
        },
      },
    ]);
  });
  return { kid: cred.kid, hmacKey: cred.hmacKey.toString("base64url"), credential: cred };
}

export function listEab(db: Db): Promise<EabCredential[]> {
  return eabRepo.listEab(db);
}

export function revokeEab(
  db: Db,
  kid: string,
  opts: { now?: Date; audit?: AuditLog; actor?: string } = {},
): Promise<boolean> {
  return db.write(async (tx) => {
    const done = await eabRepo.revokeEab(tx, kid, opts.now ?? new Date());
    if (done)
      await opts.audit?.appendTx(tx, [{ type: "eab.revoked", actor: opts.actor ?? "operator", subject: `eab:${kid}` }]);
    return done;
  });
}
