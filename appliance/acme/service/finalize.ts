// Finalize (RFC 8555 §7.4): CSR checks against the order, ready → processing, issuance through the
// CA contract off the request path, processing → valid | invalid; resumes after a restart.
import { isApplianceError } from "../../errors.js";
import * as ordersRepo from "../../store/acme/orders.js";
import { parseCsr } from "../csr.js";
import { identifierKey, sameIdentifiers } from "../identifier.js";
import { beginFinalize, completeFinalize, failFinalize } from "../order.js";
import { toProblem } from "../problem-mapper.js";
import { type AcmeProblem, problems } from "../problems.js";
import { type ServiceContext, within } from "./context.js";
import { getOrder, type OrderView, viewOrder } from "./orders.js";

export class Finalizer {
  private readonly running = new Map<string, Promise<AcmeProblem | undefined>>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly ctx: ServiceContext) {}

  async finalize(accountId: string, orderId: string, payload: Record<string, unknown>): Promise<OrderView> {
    const { ctx } = this;
    if (typeof payload.csr !== "string" || !/^[A-Za-z0-9_-]+$/.test(payload.csr))
      throw problems.malformed("csr must be a base64url-encoded DER CSR");
    const view = await getOrder(ctx, accountId, orderId);
    if (view.status !== "ready") throw problems.orderNotReady(`the order is ${view.status}`);
    const der = Buffer.from(payload.csr, "base64url");
    const csr = parseCsr(der);
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
    await ctx.db.write(async (tx) => {
      const cur = await ordersRepo.getOrder(tx, orderId);
      if (!cur) throw problems.malformed("no such order", { status: 404 });
      const { status } = await viewOrder(ctx, cur, tx);
      return ordersRepo.updateOrder(tx, { ...beginFinalize(cur, status), version: cur.version }, der);
    });
    const failure = await within(this.start(orderId, der), ctx.config.finalizeWaitMs);
    if (failure) throw failure;
    return getOrder(ctx, accountId, orderId);
  }

  /** Re-runs issuance for orders a previous run left `processing` (the CSR was stored with them). */
  async resume(): Promise<number> {
    const ids = await ordersRepo.processingOrderIds(this.ctx.db);
    for (const id of ids) {
      const csr = await ordersRepo.getOrderCsr(this.ctx.db, id);
      if (csr) void this.start(id, csr);
    }
    return ids.length;
  }

  /** Stops retries and waits up to `graceMs` for running issuances (the CA records each durably). */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    for (const t of this.retryTimers) clearTimeout(t);
    await within(Promise.allSettled([...this.running.values()]), graceMs);
  }

  /** Issues once per order; resolves with the client-facing problem when issuance was refused. */
  private start(orderId: string, csr: Buffer): Promise<AcmeProblem | undefined> {
    const existing = this.running.get(orderId);
    if (existing) return existing;
    const p = this.issue(orderId, csr).finally(() => this.running.delete(orderId));
    this.running.set(orderId, p);
    return p;
  }

  private async issue(orderId: string, csr: Buffer): Promise<AcmeProblem | undefined> {
    const { ctx } = this;
    const order = await ordersRepo.getOrder(ctx.db, orderId);
    if (order?.status !== "processing") return undefined;
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
      await ctx.db.write(async (tx) => {
        const cur = await ordersRepo.getOrder(tx, orderId);
        if (cur?.status !== "processing") throw new Error(`order ${orderId} left processing during issuance`);
        await ordersRepo.updateOrder(tx, { ...completeFinalize(cur, cert.serial), version: cur.version });
      });
      ctx.events.issued(performance.now() - started);
      return undefined;
    } catch (e) {
      const now = ctx.now();
      if (isApplianceError(e, "unavailable") && now.getTime() < order.expires.getTime() && !this.closed) {
        // HSM or disk briefly unavailable: the order stays processing and issuance is retried
        ctx.log.warn("issuance postponed", { order: orderId, error: e.message });
        const t = setTimeout(
          () => {
            this.retryTimers.delete(t);
            void this.start(orderId, csr);
          },
          (e.retryAfter ?? 5) * 1000,
        );
        this.retryTimers.add(t);
        return undefined;
      }
      const { problem, internal } = toProblem(e);
      if (internal)
        ctx.log.error("issuance failed", {
          order: orderId,
          error: String(e),
          cause: String((e as Error)?.cause ?? ""),
        });
      ctx.events.issuanceFailed(isApplianceError(e) ? e.kind : "internal");
      await ctx.db
        .write(async (tx) => {
          const cur = await ordersRepo.getOrder(tx, orderId);
          if (cur?.status !== "processing") return;
          await ordersRepo.updateOrder(tx, { ...failFinalize(cur, problem.toJSON()), version: cur.version });
        })
        .catch((err) => ctx.log.error("could not record the failed issuance", { order: orderId, error: String(err) }));
      return problem;
    }
  }
}
