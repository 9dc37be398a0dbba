// The append-only audit log: hash-chained entries written in the caller's transaction (so a record
// and its audit entry commit together) and periodic HSM-signed checkpoints over (size, head hash).
import type { SignatureAlgorithm } from "../../hsm/index.js";
import { ApplianceError } from "../errors.js";
import { auditRepository, type AuditRow, type CheckpointRow } from "../store/audit-repository.js";
import type { Db, Queryable } from "../store/db.js";
import { canonicalJson, checkpointStatement, entryHash, GENESIS_HASH } from "./chain.js";

/** What any component records: who did what to which object, with plain-data details. */
export interface AuditEvent {
  /** dotted kind, e.g. certificate.issued, certificate.revoked, crl.generated, config.changed, ceremony.key-used */
  type: string;
  /** who: "acme:account/…", "officer:…", "ca", "system" */
  actor: string;
  /** what: "certificate:<serial>", "crl:<number>", "config:ca" */
  subject: string;
  details?: Record<string, unknown>;
}

export interface AppendedEntry {
  seq: number;
  hash: string;
}

/** The HSM key that signs checkpoints (an HsmKey fits). */
export interface CheckpointSigner {
  readonly spki: Buffer;
  readonly defaultAlgorithm: SignatureAlgorithm;
  sign(data: Uint8Array, alg?: SignatureAlgorithm): Promise<Buffer>;
}

export interface AuditLogOptions {
  /** sign a checkpoint when the log grew and this many seconds passed (default 60) */
  checkpointEverySeconds?: number;
  /** ... or when this many entries were appended since the last one (default 10,000) */
  checkpointEveryEntries?: number;
  now?: () => Date;
}

const EVENT_TYPE = /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/;

export class AuditLog {
  private timer: NodeJS.Timeout | undefined;
  private sinceCheckpoint = 0;
  private checkpointing: Promise<CheckpointRow | undefined> | undefined;
  private readonly everySeconds: number;
  private readonly everyEntries: number;
  private readonly now: () => Date;
  /** the last entry this log appended (maybe rolled back since: only ever used as a checked guess) */
  private lastHead: { seq: number; hash: string } | undefined;

  constructor(
    private readonly db: Db,
    private readonly signer: CheckpointSigner,
    opts: AuditLogOptions = {},
  ) {
    this.everySeconds = opts.checkpointEverySeconds ?? 60;
    this.everyEntries = opts.checkpointEveryEntries ?? 10_000;
    this.now = opts.now ?? (() => new Date());
  }

  /** Appends one event in its own durable transaction. */
  async append(ev: AuditEvent): Promise<AppendedEntry> {
    const [e] = await this.db.write((tx) => this.appendTx(tx, [ev]));
    return e!;
  }

  /**
   * Appends events inside the caller's `db.write` transaction: they commit (or roll back) with the
   * caller's own changes. Call only from inside `db.write`.
   */
  async appendTx(tx: Queryable, events: AuditEvent[]): Promise<AppendedEntry[]> {
    if (!events.length) return [];
    for (const ev of events) {
      if (!EVENT_TYPE.test(ev.type)) throw new ApplianceError("internal", `bad audit event type "${ev.type}"`);
      if (!ev.actor || !ev.subject) throw new ApplianceError("internal", "audit events need an actor and a subject");
    }
    const time = this.now().toISOString();
    const details = events.map((ev) => canonicalJson(ev.details ?? {}));
    // the head this log wrote last, if any: the insert checks in the same statement that it is still
    // the head (a rolled-back transaction or another writer moves it), else read it and chain again
    let rows: AuditRow[] | undefined;
    const remembered = this.lastHead;
    this.lastHead = undefined;
    if (remembered) {
      const guess = chainRows(remembered, events, details, time);
      if (await auditRepository.insertManyAfter(tx, remembered, guess)) rows = guess;
    }
    if (!rows) {
      const head = await auditRepository.head(tx);
      rows = chainRows(head ?? { seq: 0, hash: GENESIS_HASH }, events, details, time);
      await auditRepository.insertMany(tx, rows);
    }
    const last = rows[rows.length - 1]!;
    this.lastHead = { seq: last.seq, hash: last.hash };
    this.sinceCheckpoint += rows.length;
    if (this.sinceCheckpoint >= this.everyEntries) setImmediate(() => void this.checkpoint().catch(() => undefined));
    return rows.map((r) => ({ seq: r.seq, hash: r.hash }));
  }

  /** Signs a checkpoint over the committed head if the log grew since the last one. */
  checkpoint(): Promise<CheckpointRow | undefined> {
    this.checkpointing ??= this.doCheckpoint().finally(() => {
      this.checkpointing = undefined;
    });
    return this.checkpointing;
  }

  private async doCheckpoint(): Promise<CheckpointRow | undefined> {
    const head = await auditRepository.head(this.db);
    if (!head) return undefined;
    const last = await auditRepository.lastCheckpoint(this.db);
    if (last && last.size >= head.seq) return last;
    this.sinceCheckpoint = 0;
    const time = this.now().toISOString();
    const alg = this.signer.defaultAlgorithm;
    const signature = await this.signer.sign(checkpointStatement(head.seq, head.hash, time), alg);
    const row: CheckpointRow = {
      size: head.seq,
      head_hash: head.hash,
      time,
      key_spki: Buffer.from(this.signer.spki),
      algorithm: alg,
      signature,
    };
    await this.db.write((tx) => auditRepository.insertCheckpoint(tx, row));
    return row;
  }

  /** Starts periodic checkpoints. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.checkpoint().catch(() => undefined), this.everySeconds * 1000);
    this.timer.unref();
  }

  /** Stops the timer and writes a final checkpoint. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.checkpoint();
  }

  lastOfType(type: string): Promise<AuditRow | undefined> {
    return auditRepository.lastByType(this.db, type);
  }
}

/** Entries for `events` chained after `head`. */
function chainRows(
  head: { seq: number; hash: string },
  events: AuditEvent[],
  details: string[],
  time: string,
): AuditRow[] {
  let seq = head.seq;
  let prev = head.hash;
  return events.map((ev, i) => {
    seq++;
    const row: AuditRow = {
      seq,
      time,
      type: ev.type,
      actor: ev.actor,
      subject: ev.subject,
      details: details[i]!,
      prev_hash: prev,
      hash: "",
    };
    row.hash = entryHash(row);
    prev = row.hash;
    return row;
  });
}
