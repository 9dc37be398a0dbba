// Authorization and challenge resources (RFC 8555 §7.5): reads with status at read time, client
// deactivation, and the client's request to validate a challenge (handed to the validation queue).
import { isApplianceError } from "../../errors.js";
import * as authzRepo from "../../store/acme/authorizations.js";
import * as ordersRepo from "../../store/acme/orders.js";
import type { Versioned } from "../../store/acme/versioned.js";
import type { Queryable } from "../../store/db.js";
import type { ChallengeType } from "../../validation/api.js";
import { type Authorization, authorizationStatusAt, deactivateAuthorization, withChallenge } from "../authorization.js";
import { type Challenge, requestValidation } from "../challenge.js";
import { problems } from "../problems.js";
import type { AuthorizationStatus } from "../status.js";
import { type ServiceContext, within } from "./context.js";
import type { ValidationQueue } from "./validation-queue.js";

export interface AuthorizationView {
  authz: Authorization;
  status: AuthorizationStatus;
  challenges: Challenge[];
}

function owned(a: Versioned<Authorization> | undefined, accountId: string): Versioned<Authorization> {
  if (!a) throw problems.malformed("no such authorization", { status: 404 });
  if (a.accountId !== accountId) throw problems.unauthorized("the authorization belongs to another account");
  return a;
}

/**
 * Read-modify-write of one authorization row as a compare-and-set on its version: `change` gets the
 * current row and returns the next one (or the same object for no change). A concurrent writer
 * makes the CAS fail; the change is then recomputed on a fresh read, at most 5 times. `also` runs in
 * the same transaction (orders the change affects).
 */
export async function updateAuthorization(
  ctx: ServiceContext,
  first: Versioned<Authorization>,
  change: (a: Versioned<Authorization>) => Authorization,
  also?: (tx: Queryable, next: Versioned<Authorization>) => Promise<string | undefined>,
): Promise<{ before: Versioned<Authorization>; after: Versioned<Authorization> }> {
  let cur = first;
  for (let attempt = 0; ; attempt++) {
    const next = change(cur);
    if (next === cur) return { before: cur, after: cur };
    try {
      const { saved, touchedOrder } = await ctx.db.write(async (tx) => {
        const saved = await authzRepo.updateAuthorization(tx, { ...next, version: cur.version });
        return { saved, touchedOrder: also ? await also(tx, saved) : undefined };
      });
      ctx.cache.putAuthorization(saved);
      if (touchedOrder) ctx.cache.forgetOrder(touchedOrder);
      return { before: cur, after: saved };
    } catch (e) {
      if (!isApplianceError(e, "conflict") || attempt >= 4) throw e;
      ctx.cache.forgetAuthorization(cur.id);
      const fresh = await ctx.cache.authorization(ctx.db, cur.id);
      if (!fresh) throw problems.malformed("no such authorization", { status: 404 });
      cur = fresh;
    }
  }
}

/** Challenges being validated right now show as processing even before that is stored. */
function overlay(queue: ValidationQueue, a: Authorization): Challenge[] {
  return a.challenges.map((c) =>
    c.status === "pending" && queue.isRunning(a.id, c.type) ? { ...c, status: "processing" } : c,
  );
}

export async function getAuthorization(
  ctx: ServiceContext,
  queue: ValidationQueue,
  accountId: string,
  id: string,
): Promise<AuthorizationView> {
  const authz = owned(await ctx.cache.authorization(ctx.db, id), accountId);
  return { authz, status: authorizationStatusAt(authz, ctx.now()), challenges: overlay(queue, authz) };
}

/** RFC 8555 §7.5.2 */
export async function deactivate(ctx: ServiceContext, accountId: string, id: string): Promise<AuthorizationView> {
  const first = owned(await ctx.cache.authorization(ctx.db, id), accountId);
  const { after } = await updateAuthorization(
    ctx,
    first,
    (a) => deactivateAuthorization(a, ctx.now()),
    async (tx, a) => {
      if (!a.orderId) return undefined;
      await ordersRepo.invalidatePendingOrder(
        tx,
        a.orderId,
        problems.unauthorized("an authorization was deactivated").toJSON(),
      );
      return a.orderId;
    },
  );
  return { authz: after, status: after.status, challenges: after.challenges };
}

export interface ChallengeView {
  challenge: Challenge;
  authorizationId: string;
}

async function ownedChallenge(ctx: ServiceContext, accountId: string, id: string) {
  const ref = authzRepo.parseChallengeId(id);
  const authz = ref && (await ctx.cache.authorization(ctx.db, ref.authorizationId));
  const ch = authz?.challenges.find((c) => c.type === ref!.type);
  if (!authz || !ch) throw problems.malformed("no such challenge", { status: 404 });
  owned(authz, accountId);
  return { authz, ch };
}

export async function getChallenge(
  ctx: ServiceContext,
  queue: ValidationQueue,
  accountId: string,
  id: string,
): Promise<ChallengeView> {
  const { authz, ch } = await ownedChallenge(ctx, accountId, id);
  return { challenge: overlay(queue, authz).find((c) => c.type === ch.type)!, authorizationId: authz.id };
}

/**
 * RFC 8555 §7.5.1: the client says it is ready. The validation goes into the queue at once and the
 * answer waits up to `challengeWaitMs` for its result: a quick validation is stored in one write
 * (pending → valid | invalid) and needs no poll. A slower one is stored as processing before the
 * answer, so polls and a restart see it; a crash before any answer leaves the challenge pending,
 * which is what the client was told (nothing).
 */
export async function respondToChallenge(
  ctx: ServiceContext,
  queue: ValidationQueue,
  accountId: string,
  id: string,
  clientAddress?: string,
): Promise<ChallengeView> {
  const { authz, ch } = await ownedChallenge(ctx, accountId, id);
  const view = (c: Challenge | undefined) => ({ challenge: c ?? ch, authorizationId: authz.id });
  if (ch.status !== "pending") return view(ch);
  let done: Promise<Challenge | undefined>;
  if (queue.isRunning(authz.id, ch.type)) {
    done = queue.enqueue(authz, ch.type);
  } else {
    // the transition check (the authorization must still be pending) before anything starts
    requestValidation(ch, authorizationStatusAt(authz, ctx.now()));
    ctx.limits.check("failedValidationsPerAccount", accountId, "failed validations");
    if (clientAddress)
      ctx.limits.check("failedValidationsPerAddress", clientAddress, "failed validations from this address");
    done = queue.enqueue(authz, ch.type, clientAddress);
  }
  const finished = await within(done, ctx.config.challengeWaitMs);
  if (finished) return view(finished);
  const { after } = await updateAuthorization(ctx, authz, (a) => markProcessing(a, ch.type));
  return view(after.challenges.find((c) => c.type === ch.type));
}

function markProcessing(a: Versioned<Authorization>, type: ChallengeType): Authorization {
  const cur = a.challenges.find((c) => c.type === type);
  return cur?.status === "pending" ? withChallenge(a, { ...cur, status: "processing" }) : a;
}
