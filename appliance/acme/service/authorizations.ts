// Authorization and challenge resources (RFC 8555 §7.5): reads with status at read time, client
// deactivation, and the client's request to validate a challenge (handed to the validation queue).
import * as authzRepo from "../../store/acme/authorizations.js";
import * as challRepo from "../../store/acme/challenges.js";
import type { Versioned } from "../../store/acme/versioned.js";
import { type Authorization, authorizationStatusAt, deactivateAuthorization } from "../authorization.js";
import { type Challenge, requestValidation } from "../challenge.js";
import { problems } from "../problems.js";
import type { AuthorizationStatus } from "../status.js";
import { type ServiceContext, within } from "./context.js";
import { recomputeOrders } from "./order-status.js";
import type { ValidationQueue } from "./validation-queue.js";

export interface AuthorizationView {
  authz: Authorization;
  status: AuthorizationStatus;
  challenges: Challenge[];
}

async function ownedAuthorization(
  ctx: ServiceContext,
  accountId: string,
  id: string,
): Promise<Versioned<Authorization>> {
  const a = await authzRepo.getAuthorization(ctx.db, id);
  if (!a) throw problems.malformed("no such authorization", { status: 404 });
  if (a.accountId !== accountId) throw problems.unauthorized("the authorization belongs to another account");
  return a;
}

export async function getAuthorization(ctx: ServiceContext, accountId: string, id: string): Promise<AuthorizationView> {
  const authz = await ownedAuthorization(ctx, accountId, id);
  const challenges = await challRepo.challengesOf(ctx.db, id);
  return { authz, status: authorizationStatusAt(authz, ctx.now()), challenges };
}

/** RFC 8555 §7.5.2 */
export async function deactivate(ctx: ServiceContext, accountId: string, id: string): Promise<AuthorizationView> {
  await ownedAuthorization(ctx, accountId, id);
  const authz = await ctx.db.write(async (tx) => {
    const cur = await authzRepo.getAuthorization(tx, id);
    if (!cur) throw problems.malformed("no such authorization", { status: 404 });
    const next = await authzRepo.updateAuthorization(tx, {
      ...deactivateAuthorization(cur, ctx.now()),
      version: cur.version,
    });
    await recomputeOrders(tx, id, ctx.now());
    return next;
  });
  return { authz, status: authz.status, challenges: await challRepo.challengesOf(ctx.db, id) };
}

export interface ChallengeView {
  challenge: Challenge;
  authorizationId: string;
}

export async function getChallenge(ctx: ServiceContext, accountId: string, id: string): Promise<ChallengeView> {
  const ch = await challRepo.getChallenge(ctx.db, id);
  if (!ch) throw problems.malformed("no such challenge", { status: 404 });
  await ownedAuthorization(ctx, accountId, ch.authorizationId);
  return { challenge: ch, authorizationId: ch.authorizationId };
}

/**
 * RFC 8555 §7.5.1: the client says it is ready. pending → processing and the validation goes into the
 * queue; the answer waits up to `challengeWaitMs` for the result so a quick validation needs no poll.
 */
export async function respondToChallenge(
  ctx: ServiceContext,
  queue: ValidationQueue,
  accountId: string,
  id: string,
): Promise<ChallengeView> {
  const first = await challRepo.getChallenge(ctx.db, id);
  if (!first) throw problems.malformed("no such challenge", { status: 404 });
  await ownedAuthorization(ctx, accountId, first.authorizationId);
  if (first.status === "pending") ctx.limits.check("failedValidationsPerAccount", accountId, "failed validations");
  const { challenge, start } = await ctx.db.write(async (tx) => {
    const ch = await challRepo.getChallenge(tx, id);
    const authz = ch && (await authzRepo.getAuthorization(tx, ch.authorizationId));
    if (!ch || !authz) throw problems.malformed("no such challenge", { status: 404 });
    const r = requestValidation(ch, authorizationStatusAt(authz, ctx.now()));
    if (!r.start) return { challenge: ch, start: false };
    return { challenge: await challRepo.updateChallenge(tx, { ...r.next, version: ch.version }), start: true };
  });
  if (!start) return { challenge, authorizationId: challenge.authorizationId };
  const done = queue.enqueue(challenge.id);
  const finished = await within(done, ctx.config.challengeWaitMs);
  return { challenge: finished ?? challenge, authorizationId: challenge.authorizationId };
}
