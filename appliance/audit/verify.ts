// Offline verification of an audit chain: recomputes every entry hash and link, checks the
// sequence has no gaps, and checks every checkpoint's signature and head; names the first broken entry.
import { createPublicKey, type KeyObject } from "node:crypto";
import type { SignatureAlgorithm } from "../../hsm/index.js";
import { SIGNATURE_ALGORITHMS } from "../../hsm/index.js";
import { verifySignature } from "../ca/algorithms.js";
import { auditRepository } from "../store/audit-repository.js";
import type { Queryable } from "../store/db.js";
import { checkpointStatement, entryHash, GENESIS_HASH } from "./chain.js";

export interface VerifyProblem {
  /** the first entry (seq) or checkpoint (size) found broken */
  at: number;
  what: "entry" | "checkpoint";
  reason: string;
}

export interface VerifyReport {
  ok: boolean;
  entries: number;
  checkpoints: number;
  headHash: string;
  /** size covered by the last valid checkpoint */
  signedSize: number;
  /** entries after the last checkpoint (not yet covered by a signature) */
  unsignedTail: number;
  /** SPKI (DER) of the checkpoint key, when it was not pinned by the caller */
  checkpointKeys: Buffer[];
  problems: VerifyProblem[];
}

export interface VerifyOptions {
  /** the trusted checkpoint public key; without it the key stored in each checkpoint is used (and reported) */
  trustedKey?: KeyObject;
}

export async function verifyAuditChain(q: Queryable, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const rows = await auditRepository.all(q);
  const problems: VerifyProblem[] = [];
  let prev = GENESIS_HASH;
  const hashes = new Map<number, string>();
  let chainBrokenAt: number | undefined;
  rows.forEach((r, i) => {
    if (chainBrokenAt !== undefined) return;
    const expectedSeq = i + 1;
    const fail = (reason: string) => {
      chainBrokenAt = expectedSeq;
      problems.push({ at: expectedSeq, what: "entry", reason });
    };
    if (r.seq !== expectedSeq) {
      fail(
        r.seq > expectedSeq
          ? `entry ${expectedSeq} is missing (next entry present is ${r.seq}): deleted`
          : `entry ${r.seq} appears out of order`,
      );
      return;
    }
    if (r.prev_hash !== prev) {
      fail(
        `entry ${r.seq} does not link to entry ${r.seq - 1} (reordered, replaced or an entry before it was deleted)`,
      );
      return;
    }
    if (entryHash(r) !== r.hash) {
      fail(`entry ${r.seq} was modified: its content does not match its hash`);
      return;
    }
    hashes.set(r.seq, r.hash);
    prev = r.hash;
  });

  const cps = await auditRepository.checkpoints(q);
  const keys = new Map<string, Buffer>();
  let signedSize = 0;
  for (const c of cps) {
    const bad = (reason: string) => problems.push({ at: c.size, what: "checkpoint", reason });
    let key = opts.trustedKey;
    if (!key) {
      keys.set(c.key_spki.toString("hex"), c.key_spki);
      try {
        key = createPublicKey({ key: c.key_spki, format: "der", type: "spki" });
      } catch {
        bad(`checkpoint at size ${c.size} carries an unreadable key`);
        continue;
      }
    }
    if (!(SIGNATURE_ALGORITHMS as readonly string[]).includes(c.algorithm)) {
      bad(`checkpoint at size ${c.size} names an unknown algorithm`);
      continue;
    }
    const stmt = checkpointStatement(c.size, c.head_hash, c.time);
    if (!verifySignature(c.algorithm as SignatureAlgorithm, key, stmt, c.signature)) {
      bad(`checkpoint at size ${c.size}: signature does not verify${opts.trustedKey ? " with the trusted key" : ""}`);
      continue;
    }
    if (c.size > rows.length) {
      bad(
        `checkpoint signed ${c.size} entries but the log has ${rows.length}: entries after ${rows.length} were deleted`,
      );
      continue;
    }
    const h = hashes.get(c.size);
    if (h === undefined) {
      // the chain broke before this size: already reported as an entry problem
      continue;
    }
    if (h !== c.head_hash) {
      bad(
        `checkpoint at size ${c.size} signed head ${c.head_hash.slice(0, 16)}…, the log has ${h.slice(0, 16)}… (rewritten)`,
      );
      continue;
    }
    signedSize = Math.max(signedSize, c.size);
  }
  problems.sort((a, b) => a.at - b.at || (a.what === "entry" ? -1 : 1));
  return {
    ok: problems.length === 0,
    entries: rows.length,
    checkpoints: cps.length,
    headHash: rows.length ? rows[rows.length - 1]!.hash : GENESIS_HASH,
    signedSize,
    unsignedTail: rows.length - signedSize,
    checkpointKeys: [...keys.values()],
    problems,
  };
}
