// The audit chain's hashing rules: canonical JSON, entry hash over (seq, time, type, actor,
// subject, details, prev), and the checkpoint statement the HSM signs. Pure; shared by writer and verifier.
import { createHash } from "node:crypto";

export const GENESIS_HASH = "0".repeat(64);

/** Canonical JSON (sorted keys, no whitespace; undefined members dropped). Only plain data. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === "number" || typeof v === "boolean" || typeof v === "string") {
    if (typeof v === "number" && !Number.isFinite(v)) throw new TypeError("non-finite number in audit details");
    return JSON.stringify(v);
  }
  if (typeof v === "bigint") return JSON.stringify(v.toString());
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (Buffer.isBuffer(v)) return JSON.stringify(v.toString("hex"));
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : canonicalJson(x))).join(",")}]`;
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
  }
  throw new TypeError(`cannot put a ${typeof v} into audit details`);
}

export interface ChainFields {
  seq: number;
  time: string;
  type: string;
  actor: string;
  subject: string;
  /** canonical JSON text as stored */
  details: string;
  prev_hash: string;
}

export function entryHash(e: ChainFields): string {
  const body = canonicalJson({
    seq: e.seq,
    time: e.time,
    type: e.type,
    actor: e.actor,
    subject: e.subject,
    details: e.details,
    prev: e.prev_hash,
  });
  return createHash("sha256").update("plantroot-audit-entry-v1\n").update(body).digest("hex");
}

/** The exact bytes an audit checkpoint signature covers. */
export function checkpointStatement(size: number, headHash: string, time: string): Buffer {
  return Buffer.from(`plantroot-audit-checkpoint-v1\nsize=${size}\nhead=${headHash}\ntime=${time}\n`, "utf8");
}
