// Runs challenge validations off the request path: a bounded-concurrency queue calls the Validator,
// then applies the result to challenge, authorization and orders in one transaction.
import * as accountsRepo from "../../store/acme/accounts.js";
import * as authzRepo from "../../store/acme/authorizations.js";
import * as challRepo from "../../store/acme/challenges.js";
import type { Versioned } from "../../store/acme/versioned.js";
import type { ValidationResult } from "../../validation/api.js";
import { onChallengeFinished } from "../authorization.js";
import { type Challenge, completeValidation, keyAuthorization } from "../challenge.js";
import type { ServiceContext } from "./context.js";
import { recomputeOrders } from "./order-status.js";

export class ValidationQueue {
  private readonly waiting: string[] = [];
  private readonly inFlight = new Map<string, Promise<Challenge | undefined>>();
  private readonly resolvers = new Map<string, (c: Challenge | undefined) => void>();
  private running = 0;
  private closed = false;

  constructor(private readonly ctx: ServiceContext) {}

  /** Queues a processing challenge (once); resolves with the challenge after the result is stored. */
  enqueue(challengeId: string): Promise<Challenge | undefined> {
    const existing = this.inFlight.get(challengeId);
    if (existing) return existing;
    const p = new Promise<Challenge | undefined>((resolve) => this.resolvers.set(challengeId, resolve));
    this.inFlight.set(challengeId, p);
    this.waiting.push(challengeId);
    this.pump();
    return p;
  }

  /** Re-queues challenges left `processing` by a previous run (crash or restart). */
  async resume(): Promise<number> {
    const ids = await challRepo.processingChallengeIds(this.ctx.db);
    for (const id of ids) void this.enqueue(id);
    return ids.length;
  }

  get pending(): number {
    return this.waiting.length + this.running;
  }

  /**
   * Stops taking new work and waits up to `graceMs` for running validations to be applied; the rest
   * stay `processing` in the store and are resumed by the next start.
   */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    const until = Date.now() + graceMs;
    while (this.running > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  private pump(): void {
    while (!this.closed && this.running < this.ctx.config.validationConcurrency && this.waiting.length) {
      const id = this.waiting.shift()!;
      this.running++;
      void this.run(id).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async run(id: string): Promise<void> {
    let result: Challenge | undefined;
    try {
      result = await this.validateAndApply(id);
    } catch (e) {
      this.ctx.log.error("validation could not be applied", { challenge: id, error: String(e) });
    } finally {
      this.inFlight.delete(id);
      this.resolvers.get(id)?.(result);
      this.resolvers.delete(id);
    }
  }

  private async validateAndApply(id: string): Promise<Challenge | undefined> {
    const { ctx } = this;
    const ch = await challRepo.getChallenge(ctx.db, id);
    if (ch?.status !== "processing") return ch;
    const authz = await authzRepo.getAuthorization(ctx.db, ch.authorizationId);
    const account =
      authz && (ctx.keys.get(authz.accountId)?.account ?? (await accountsRepo.getAccount(ctx.db, authz.accountId)));
    if (!authz || !account) return ch;
    const started = performance.now();
    let result: ValidationResult;
    try {
      result = await ctx.validator.validate({
        type: ch.type,
        identifier: authz.identifier,
        token: ch.token,
        keyAuthorization: keyAuthorization(ch.token, account.thumbprint),
      });
    } catch (e) {
      // the contract says validate() never throws; if it does, the challenge fails closed
      ctx.log.error("validator threw", { challenge: id, error: String(e) });
      result = { ok: false, records: [], problem: { type: "serverInternal", detail: "validation failed" } };
    }
    ctx.events.validation(ch.type, result.ok, performance.now() - started);
    if (!result.ok) ctx.limits.spend("failedValidationsPerAccount", authz.accountId);
    if (this.closed) return ch; // shutting down: leave it processing for the next start
    const now = ctx.now();
    return ctx.db.write(async (tx) => {
      const cur = await challRepo.getChallenge(tx, id);
      if (cur?.status !== "processing") return cur;
      const next: Versioned<Challenge> = { ...completeValidation(cur, result, now), version: cur.version };
      const saved = await challRepo.updateChallenge(tx, next);
      const a = await authzRepo.getAuthorization(tx, cur.authorizationId);
      if (a) {
        const na = onChallengeFinished(a, saved.status, now, ctx.config.validAuthorizationLifetimeSeconds * 1000);
        if (na !== a) {
          await authzRepo.updateAuthorization(tx, { ...na, version: a.version });
          await recomputeOrders(tx, a.id, now);
        }
      }
      return saved;
    });
  }
}
