// Repository of ACME challenges (table acme_challenges): insert, look up by id or authorization,
// compare-and-set update, and the processing ones to resume after a restart.
import type { Challenge } from "../../acme/challenge.js";
import type { ProblemDocument } from "../../acme/problems.js";
import { CHALLENGE_STATUSES, oneOf } from "../../acme/status.js";
import type { ChallengeType, ValidationRecord } from "../../validation/api.js";
import type { Queryable } from "../db.js";
import { casUpdate, date, json, type Versioned } from "./versioned.js";

interface Row {
  id: string;
  authorization_id: string;
  type: string;
  token: string;
  status: string;
  validated: number | null;
  error: string | null;
  validation_record: string | null;
  version: number;
}

function fromRow(r: Row): Versioned<Challenge> {
  const validated = date(r.validated);
  const error = json<ProblemDocument>(r.error);
  const validationRecord = json<ValidationRecord[]>(r.validation_record);
  return {
    id: r.id,
    authorizationId: r.authorization_id,
    type: r.type as ChallengeType,
    token: r.token,
    status: oneOf(CHALLENGE_STATUSES, r.status, "challenge"),
    ...(validated ? { validated } : {}),
    ...(error ? { error } : {}),
    ...(validationRecord ? { validationRecord } : {}),
    version: r.version,
  };
}

export async function getChallenge(q: Queryable, id: string): Promise<Versioned<Challenge> | undefined> {
  const r = await q.get<Row>("SELECT * FROM acme_challenges WHERE id = ?", [id]);
  return r && fromRow(r);
}

export async function challengesOf(q: Queryable, authzId: string): Promise<Versioned<Challenge>[]> {
  return (await q.all<Row>("SELECT * FROM acme_challenges WHERE authorization_id = ? ORDER BY rowid", [authzId])).map(
    fromRow,
  );
}

export async function challengesOfMany(
  q: Queryable,
  authzIds: readonly string[],
): Promise<Map<string, Versioned<Challenge>[]>> {
  const out = new Map<string, Versioned<Challenge>[]>(authzIds.map((id) => [id, []]));
  if (authzIds.length === 0) return out;
  const rows = await q.all<Row>(
    `SELECT * FROM acme_challenges WHERE authorization_id IN (${authzIds.map(() => "?").join(",")}) ORDER BY rowid`,
    [...authzIds],
  );
  for (const r of rows) out.get(r.authorization_id)?.push(fromRow(r));
  return out;
}

export async function insertChallenge(tx: Queryable, c: Challenge): Promise<Versioned<Challenge>> {
  await tx.run(
    `INSERT INTO acme_challenges (id, authorization_id, type, token, status, validated, error, validation_record, version)
     VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, 1)`,
    [c.id, c.authorizationId, c.type, c.token, c.status],
  );
  return { ...c, version: 1 };
}

export async function updateChallenge(tx: Queryable, next: Versioned<Challenge>): Promise<Versioned<Challenge>> {
  await casUpdate(
    tx,
    `challenge ${next.id}`,
    `UPDATE acme_challenges SET status = ?, validated = ?, error = ?, validation_record = ?, version = version + 1
     WHERE id = ? AND version = ?`,
    [
      next.status,
      next.validated?.getTime() ?? null,
      next.error ? JSON.stringify(next.error) : null,
      next.validationRecord ? JSON.stringify(next.validationRecord) : null,
      next.id,
      next.version,
    ],
  );
  return { ...next, version: next.version + 1 };
}

export async function processingChallengeIds(q: Queryable): Promise<string[]> {
  return (await q.all<{ id: string }>("SELECT id FROM acme_challenges WHERE status = 'processing'")).map((r) => r.id);
}
