// Runs challenge validations off the request path: a bounded-concurrency queue calls the Validator,
// then applies the result to the authorization row (challenge and authorization status) in one write.
import * as accountsRepo from "../../store/acme/accounts.js";
import * as authzRepo from "../../store/acme/authorizations.js";
import * as ordersRepo from "../../store/acme/orders.js";
import type { Versioned } from "../../store/acme/versioned.js";
import type { ChallengeType, ValidationResult } from "../../validation/api.js";
import { type Authorization, onChallengeFinished, withChallenge } from "../authorization.js";
import { type Challenge, completeValidation, keyAuthorization } from "../challenge.js";
import { problems } from "../problems.js";
import { updateAuthorization } from "./authorizations.js";
import type { ServiceContext } from "./context.js";

interface Job {
  authz: Versioned<Authorization>;
  type: ChallengeType;
  /** the address the client asked from (counted against failedValidationsPerAddress); none on resume */
  clientAddress?: string | undefined;
}

export class ValidationQueue {
  private readonly waiting: Job[] = [];
  private readonly inFlight = new Map<string, Promise<Challenge | undefined>>();
  private readonly resolvers = new Map<string, (c: Challenge | undefined) => void>();
  private running = 0;
  private closed = false;

  constructor(private readonly ctx: ServiceContext) {}

  /** Queues the processing challenge of `authz` (once); resolves with it after the result is stored. */
  enqueue(
    authz: Versioned<Authorization>,
    type: ChallengeType,
    clientAddress?: string,
  ): Promise<Challenge | undefined> {
    const key = authzRepo.challengeId(authz.id, type);
    const existing = this.inFlight.get(key);
    if (existing) return existing;
    const p = new Promise<Challenge | undefined>((resolve) => this.resolvers.set(key, resolve));
    this.inFlight.set(key, p);
    this.waiting.push({ authz, type, clientAddress });
    this.pump();
    return p;
  }

  /** Re-queues challenges left `processing` by a previous run (crash or restart). */
  async resume(): Promise<number> {
    let n = 0;
    for (const id of await authzRepo.processingAuthorizationIds(this.ctx.db)) {
      const a = await authzRepo.getAuthorization(this.ctx.db, id);
      for (const c of a?.challenges ?? [])
        if (c.status === "processing") {
          void this.enqueue(a!, c.type);
          n++;
        }
    }
    return n;
  }

  /** Is this challenge being validated (queued or running) right now? */
  isRunning(authzId: string, type: ChallengeType): boolean {
    return this.inFlight.has(authzRepo.challengeId(authzId, type));
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
      const job = this.waiting.shift()!;
      this.running++;
      void this.run(job).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async run(job: Job): Promise<void> {
    const key = authzRepo.challengeId(job.authz.id, job.type);
    let result: Challenge | undefined;
    try {
      result = await this.validateAndApply(job);
    } catch (e) {
      this.ctx.log.error("validation could not be applied", { challenge: key, error: String(e) });
    } finally {
      this.inFlight.delete(key);
      this.resolvers.get(key)?.(result);
      this.resolvers.delete(key);
    }
  }

  private async validateAndApply({ authz, type, clientAddress }: Job): Promise<Challenge | undefined> {
    const { ctx } = this;
    const ch = authz.challenges.find((c) => c.type === type);
    if (ch?.status !== "processing" && ch?.status !== "pending") return ch;
    const account = ctx.keys.get(authz.accountId)?.account ?? (await accountsRepo.getAccount(ctx.db, authz.accountId));
    if (!account) return ch;
    const started = performance.now();
    let result: ValidationResult;
    try {
      result = await ctx.validator.validate({
        type,
        identifier: authz.identifier,
        token: ch.token,
        keyAuthorization: keyAuthorization(ch.token, account.thumbprint),
      });
    } catch (e) {
      // the contract says validate() never throws; if it does, the challenge fails closed
      ctx.log.error("validator threw", { authorization: authz.id, error: String(e) });
      result = { ok: false, records: [], problem: { type: "serverInternal", detail: "validation failed" } };
    }
    ctx.events.validation(type, result.ok, performance.now() - started);
    if (!result.ok) ctx.limits.spend("failedValidationsPerAccount", authz.accountId);
    if (!result.ok && clientAddress) ctx.limits.spend("failedValidationsPerAddress", clientAddress);
    if (this.closed) return ch; // shutting down: leave it processing for the next start
    const now = ctx.now();
    const { after } = await updateAuthorization(
      ctx,
      authz,
      (a) => {
        const cur = a.challenges.find((c) => c.type === type);
        if (cur?.status !== "processing" && cur?.status !== "pending") return a;
        const done = completeValidation(cur, result, now);
        return onChallengeFinished(
          withChallenge(a, done),
          done.status,
          now,
          ctx.config.validAuthorizationLifetimeSeconds * 1000,
        );
      },
      async (tx, a) => {
        if (a.status !== "invalid" || !a.orderId) return undefined;
        await ordersRepo.invalidatePendingOrder(
          tx,
          a.orderId,
          problems.unauthorized(`the authorization for ${a.identifier.value} failed`).toJSON(),
        );
        return a.orderId;
      },
    );
    return after.challenges.find((c) => c.type === type);
  }
}
