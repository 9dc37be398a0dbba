// The issuing CA's full CRL: built from the store's revocations, signed by the HSM key, recorded
// (number strictly increasing, audited) before it is served; regenerated on revocation and on a schedule.
import type { KeyObject } from "node:crypto";
import type { SignatureAlgorithm } from "../../hsm/index.js";
import type { AuditLog } from "../audit/index.js";
import { caRepository } from "../store/ca-repository.js";
import type { Db } from "../store/db.js";
import { finishSigned, type Signer, sha256 } from "./certificate.js";
import { prepareCrl } from "./crl.js";

export interface CurrentCrl {
  der: Buffer;
  number: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  entries: number;
}

export interface CrlServiceDeps {
  db: Db;
  audit: AuditLog;
  signer: Signer;
  issuer: { subject: Buffer; keyIdentifier: Buffer; publicKey: KeyObject; signatureAlgorithm: SignatureAlgorithm };
  lifetimeSeconds: number;
  refreshSeconds: number;
  now: () => Date;
  onError?: (e: unknown) => void;
}

/** the schedule looks at the wall clock this often */
export const CHECK_EVERY_MS = 60_000;
/** a clock this far behind thisUpdate means it was stepped back */
const CLOCK_SLACK_MS = 5 * 60_000;

export class CrlService {
  private cur: CurrentCrl | undefined;
  private running: Promise<CurrentCrl> | undefined;
  private queued: Promise<CurrentCrl> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly d: CrlServiceDeps) {}

  current(): CurrentCrl | undefined {
    return this.cur;
  }

  /** Loads the stored CRL; generates a new one if there is none or it is due. */
  async init(): Promise<void> {
    const s = await caRepository.crlState(this.d.db, this.d.issuer.keyIdentifier);
    if (s)
      this.cur = {
        der: s.der,
        number: BigInt(s.crl_number),
        thisUpdate: new Date(s.this_update),
        nextUpdate: new Date(s.next_update),
        entries: s.entries,
      };
    const due = this.due();
    if (due) await this.refresh(`startup: ${due}`);
    else if (s && (await this.missesRevocations(s))) await this.refresh("startup: revocations after the stored CRL");
    else this.schedule();
  }

  /**
   * True when revocations were recorded that the stored CRL does not list: the process stopped between
   * a revocation's commit and its CRL (revocations only ever add rows matching the CRL's own query).
   */
  private async missesRevocations(s: { this_update: number; entries: number }): Promise<boolean> {
    const n = await caRepository.countRevokedFor(this.d.db, this.d.issuer.keyIdentifier, s.this_update);
    return n !== s.entries;
  }

  private dueAt(): number {
    return this.cur ? this.cur.thisUpdate.getTime() + this.d.refreshSeconds * 1000 : 0;
  }

  /**
   * Why the CRL must be regenerated now, by the wall clock, or undefined. Besides the refresh time:
   * a clock that jumped forward past nextUpdate (the served CRL would be expired) or backwards before
   * thisUpdate (it would not be valid yet for relying parties with the corrected clock).
   */
  private due(): string | undefined {
    if (!this.cur) return "no CRL";
    const now = this.d.now().getTime();
    if (now >= this.cur.nextUpdate.getTime()) return "past nextUpdate";
    if (now < this.cur.thisUpdate.getTime() - CLOCK_SLACK_MS) return "clock went back before thisUpdate";
    if (now >= this.dueAt()) return "refresh time";
    return undefined;
  }

  /** What the schedule runs (at least once a minute): regenerates if due by the wall clock. */
  async check(): Promise<void> {
    const due = this.due();
    if (due) await this.refresh(`schedule: ${due}`);
    else this.schedule();
  }

  /**
   * Generates a CRL that reflects every revocation committed before this call. Concurrent callers
   * share generations: at most one runs and one waits.
   */
  refresh(reason: string): Promise<CurrentCrl> {
    if (!this.running) {
      this.running = this.generate(reason)
        .catch((e) => {
          this.retrySoon(e);
          throw e;
        })
        .finally(() => {
          this.running = undefined;
        });
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.refresh(reason);
      });
    return this.queued;
  }

  private async generate(reason: string): Promise<CurrentCrl> {
    const { db, issuer } = this.d;
    const now = this.d.now();
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.d.lifetimeSeconds * 1000);
    const rows = await caRepository.revokedFor(db, issuer.keyIdentifier, thisUpdate.getTime());
    const state = await caRepository.crlState(db, issuer.keyIdentifier);
    const number = BigInt(state?.crl_number ?? 0) + 1n;
    const prep = prepareCrl({
      issuer: { name: issuer.subject, keyIdentifier: issuer.keyIdentifier },
      thisUpdate,
      nextUpdate,
      crlNumber: number,
      entries: rows.map((r) => ({
        serial: Buffer.from(r.serial, "hex"),
        revokedAt: new Date(r.revoked_at),
        reason: r.revocation_reason,
      })),
      signatureAlgorithm: issuer.signatureAlgorithm,
    });
    const sig = await this.d.signer.sign(prep.tbs, prep.signatureAlgorithm);
    const der = finishSigned(prep, sig, issuer.publicKey);
    await db.write(async (tx) => {
      await caRepository.saveCrl(tx, {
        issuer_key_id: issuer.keyIdentifier,
        crl_number: Number(number),
        this_update: thisUpdate.getTime(),
        next_update: nextUpdate.getTime(),
        entries: rows.length,
        der,
      });
      await this.d.audit.appendTx(tx, [
        {
          type: "crl.generated",
          actor: "ca",
          subject: `crl:${number}`,
          details: {
            reason,
            crlNumber: number.toString(),
            entries: rows.length,
            thisUpdate: thisUpdate.toISOString(),
            nextUpdate: nextUpdate.toISOString(),
            sha256: sha256(der).toString("hex"),
          },
        },
      ]);
    });
    this.cur = { der, number, thisUpdate, nextUpdate, entries: rows.length };
    this.schedule();
    return this.cur;
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    // timers run on a monotonic clock: look at the wall clock at least once a minute, so a clock
    // step (NTP correction, an operator) is noticed within a minute, not after the old wait
    const wait = Math.max(1000, Math.min(this.dueAt() - this.d.now().getTime(), CHECK_EVERY_MS));
    this.timer = setTimeout(() => {
      this.check().catch(() => undefined); // refresh() already arranged the retry
    }, wait);
    this.timer.unref();
  }

  /** HSM or disk trouble: report it and try again in a minute, long before nextUpdate. */
  private retrySoon(e: unknown): void {
    this.d.onError?.(e);
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.refresh("retry after failure").catch(() => undefined);
    }, 60_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    await this.queued?.catch(() => undefined);
  }
}
