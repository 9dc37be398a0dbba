// Keeps stored order statuses in step with their authorizations: after an authorization changes,
// every order linking it is re-derived (pending → ready | invalid) inside the same transaction.
import * as authzRepo from "../../store/acme/authorizations.js";
import * as ordersRepo from "../../store/acme/orders.js";
import type { Queryable } from "../../store/db.js";
import { authorizationStatusAt } from "../authorization.js";
import { derivedOrderError, orderStatusAt } from "../order.js";

export async function recomputeOrders(tx: Queryable, authzId: string, now: Date): Promise<void> {
  for (const orderId of await ordersRepo.orderIdsForAuthorization(tx, authzId)) {
    const o = await ordersRepo.getOrder(tx, orderId);
    if (!o || (o.status !== "pending" && o.status !== "ready")) continue;
    const authzs = await authzRepo.getAuthorizations(tx, o.authorizationIds);
    const status = orderStatusAt(
      o,
      authzs.map((a) => authorizationStatusAt(a, now)),
      now,
    );
    if (status === o.status) continue;
    const error = derivedOrderError(status, o, now);
    await ordersRepo.updateOrder(tx, { ...o, status, ...(error ? { error } : {}) });
  }
}
