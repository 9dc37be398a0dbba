// Finalize (RFC 8555 §7.4): CSR checks against the order, ready → processing, issuance through the
// CA contract off the request path, processing → valid | invalid; resumes after a restart.
import { isApplianceError } from "../../errors.js";
import * as ordersRepo from "../../store/acme/orders.js";
import type { Versioned } from "../../store/acme/versioned.js";
import { parseCsr } from "../csr.js";
import { identifierKey, sameIdentifiers } from "../identifier.js";
import { beginFinalize, completeFinalize, failFinalize, type Order } from "../order.js";
import { toProblem } from "../problem-mapper.js";
import { type AcmeProblem, problems } from "../problems.js";
import { type ServiceContext, within } from "./context.js";
import { getOrder, type OrderView } from "./orders.js";

type Outcome = { order: Versioned<Order>; problem?: undefined } | { order?: Versioned<Order>; problem: AcmeProblem };

export class Finalizer {
  private readonly running = new Map<string, Promise<Outcome | undefined>>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly ctx: ServiceContext) {}

  async finalize(accountId: string, orderId: string, payload: Record<string, unknown>): Promise<OrderView> {
    const { ctx } = this;
    if (typeof payload.csr !== "string" || !/^[A-Za-z0-9_-]+$/.test(payload.csr))
      throw problems.malformed("csr must be a base64url-encoded DER CSR");
    const view = await getOrder(ctx, accountId, orderId);
    const processing = beginFinalize(view.order, view.status);
    const der = Buffer.from(payload.csr, "base64url");
    // structure and identifiers here; the CA verifies the CSR signature and key before it signs
    const csr = parseCsr(der, { verifySignature: false });
    if (!sameIdentifiers(csr.identifiers, view.order.identifiers)) {
      const want = new Set(view.order.identifiers.map(identifierKey));
      const got = new Set(csr.identifiers.map(identifierKey));
      const missing = [...want].filter((k) => !got.has(k));
      const extra = [...got].filter((k) => !want.has(k));
      throw problems.badCSR(
        `the CSR must name exactly the order's identifiers${missing.length ? `; missing ${missing.join(", ")}` : ""}${
          extra.length ? `; not in the order ${extra.join(", ")}` : ""
        }`,
      );
    }
    // compare-and-set on the order's version: of concurrent finalize requests exactly one wins
    let stored: Versioned<Order>;
    try {
      stored = await ctx.db.write((tx) =>
        ordersRepo.updateOrder(tx, { ...processing, version: view.order.version }, der),
      );
    } catch (e) {
      if (isApplianceError(e, "conflict")) throw problems.orderNotReady("the order changed (finalized concurrently?)");
      throw e;
    }
    const outcome = await within(this.start(stored, der), ctx.config.finalizeWaitMs);
    if (outcome?.problem) throw outcome.problem;
    if (outcome?.order) return { order: outcome.order, status: outcome.order.status };
    return { order: stored, status: "processing" };
  }

  /** Re-runs issuance for orders a previous run left `processing` (the CSR was stored with them). */
  async resume(): Promise<number> {
    const ids = await ordersRepo.processingOrderIds(this.ctx.db);
    for (const id of ids) {
      const [order, csr] = await Promise.all([
        ordersRepo.getOrder(this.ctx.db, id),
        ordersRepo.getOrderCsr(this.ctx.db, id),
      ]);
      if (order && csr) void this.start(order, csr);
    }
    return ids.length;
  }

  /** Stops retries and waits up to `graceMs` for running issuances (the CA records each durably). */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    for (const t of this.retryTimers) clearTimeout(t);
    await within(Promise.allSettled([...this.running.values()]), graceMs);
  }

  /** Issues once per order; resolves with the stored result (or the client-facing problem). */
  private start(order: Versioned<Order>, csr: Buffer): Promise<Outcome | undefined> {
    const existing = this.running.get(order.id);
    if (existing) return existing;
    const p = this.issue(order, csr).finally(() => this.running.delete(order.id));
    this.running.set(order.id, p);
    return p;
  }

  private async issue(order: Versioned<Order>, csr: Buffer): Promise<Outcome | undefined> {
    const { ctx } = this;
    const started = performance.now();
    try {
      const cert = await ctx.ca.issue({
        csr,
        identifiers: order.identifiers,
        ...(order.profile ? { profile: order.profile } : {}),
        ...(order.notBefore ? { notBefore: order.notBefore } : {}),
        ...(order.notAfter ? { notAfter: order.notAfter } : {}),
        requester: {
          accountId: order.accountId,
          orderId: order.id,
          ...(order.replaces ? { replaces: order.replaces } : {}),
        },
      });
      const valid = await ctx.db.write((tx) =>
        ordersRepo.updateOrder(tx, { ...completeFinalize(order, cert.serial), version: order.version }),
      );
      ctx.events.issued(performance.now() - started);
      return { order: valid };
    } catch (e) {
      const now = ctx.now();
      if (isApplianceError(e, "unavailable") && now.getTime() < order.expires.getTime() && !this.closed) {
        // HSM or disk briefly unavailable: the order stays processing and issuance is retried
        ctx.log.warn("issuance postponed", { order: order.id, error: e.message });
        const t = setTimeout(
          () => {
            this.retryTimers.delete(t);
            void this.start(order, csr);
          },
          (e.retryAfter ?? 5) * 1000,
        );
        this.retryTimers.add(t);
        return undefined;
      }
      const { problem, internal } = toProblem(e);
      if (internal)
        ctx.log.error("issuance failed", {
          order: order.id,
          error: String(e),
          cause: String((e as Error)?.cause ?? ""),
        });
      ctx.events.issuanceFailed(isApplianceError(e) ? e.kind : "internal");
      const invalid = await ctx.db
        .write((tx) => ordersRepo.updateOrder(tx, { ...failFinalize(order, problem.toJSON()), version: order.version }))
        .catch((err) => {
          ctx.log.error("could not record the failed issuance", { order: order.id, error: String(err) });
          return undefined;
        });
      return { ...(invalid ? { order: invalid } : {}), problem };
    }
  }
}
