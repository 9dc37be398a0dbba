// Authorization and challenge resources (RFC 8555 §7.5): reads with status at read time, client
// deactivation, and the client's request to validate a challenge (handed to the validation queue).
import { isApplianceError } from "../../errors.js";
import * as authzRepo from "../../store/acme/authorizations.js";
import * as ordersRepo from "../../store/acme/orders.js";
import type { Versioned } from "../../store/acme/versioned.js";
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
 * makes the CAS fail; the change is then recomputed on a fresh read, at most 5 times.
 */
export async function updateAuthorization(
  ctx: ServiceContext,
  first: Versioned<Authorization>,
  change: (a: Versioned<Authorization>) => Authorization,
  also?: (tx: import("../../store/db.js").Queryable, next: Versioned<Authorization>) => Promise<void>,
): Promise<{ before: Versioned<Authorization>; after: Versioned<Authorization> }> {
  let cur = first;
  for (let attempt = 0; ; attempt++) {
    const next = change(cur);
    if (next === cur) return { before: cur, after: cur };
    try {
      const after = await ctx.db.write(async (tx) => {
        const saved = await authzRepo.updateAuthorization(tx, { ...next, version: cur.version });
        if (also) await also(tx, saved);
        return saved;
      });
      return { before: cur, after };
    } catch (e) {
      if (!isApplianceError(e, "conflict") || attempt >= 4) throw e;
      const fresh = await authzRepo.getAuthorization(ctx.db, cur.id);
      if (!fresh) throw problems.malformed("no such authorization", { status: 404 });
      cur = fresh;
    }
  }
}

export async function getAuthorization(ctx: ServiceContext, accountId: string, id: string): Promise<AuthorizationView> {
  const authz = owned(await authzRepo.getAuthorization(ctx.db, id), accountId);
  return { authz, status: authorizationStatusAt(authz, ctx.now()), challenges: authz.challenges };
}

/** RFC 8555 §7.5.2 */
export async function deactivate(ctx: ServiceContext, accountId: string, id: string): Promise<AuthorizationView> {
  const first = owned(await authzRepo.getAuthorization(ctx.db, id), accountId);
  const { after } = await updateAuthorization(
    ctx,
    first,
    (a) => deactivateAuthorization(a, ctx.now()),
    async (tx, a) => {
      if (a.orderId)
        await ordersRepo.invalidatePendingOrder(
          tx,
          a.orderId,
          problems.unauthorized("an authorization was deactivated").toJSON(),
        );
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
  const authz = ref && (await authzRepo.getAuthorization(ctx.db, ref.authorizationId));
  const ch = authz?.challenges.find((c) => c.type === ref!.type);
  if (!authz || !ch) throw problems.malformed("no such challenge", { status: 404 });
  owned(authz, accountId);
  return { authz, ch };
}

export async function getChallenge(ctx: ServiceContext, accountId: string, id: string): Promise<ChallengeView> {
  const { authz, ch } = await ownedChallenge(ctx, accountId, id);
  return { challenge: ch, authorizationId: authz.id };
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
  const { authz, ch } = await ownedChallenge(ctx, accountId, id);
  if (ch.status === "pending") ctx.limits.check("failedValidationsPerAccount", accountId, "failed validations");
  let started = false;
  const { after } = await updateAuthorization(ctx, authz, (a) => {
    const cur = a.challenges.find((c) => c.type === ch.type)!;
    const r = requestValidation(cur, authorizationStatusAt(a, ctx.now()));
    started = r.start;
    return r.start ? withChallenge(a, r.next) : a;
  });
  const current = after.challenges.find((c) => c.type === ch.type)!;
  if (!started) return { challenge: current, authorizationId: authz.id };
  const finished = await within(queue.enqueue(after, ch.type), ctx.config.challengeWaitMs);
  return { challenge: finished ?? current, authorizationId: authz.id };
}
