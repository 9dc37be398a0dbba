// Finalize (RFC 8555 §7.4): CSR checks against the order, ready → processing → valid | invalid,
// issuance through the CA contract. A quick issuance is stored in one write (ready → valid); a slow
// one is stored as processing (with the CSR) before the answer, and resumed after a restart.
import { clipList } from "../../clip.js";
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
  /** orders being issued in this process: the claim that makes concurrent finalize requests lose */
  private readonly running = new Map<string, Promise<Outcome | undefined>>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly ctx: ServiceContext) {}

  async finalize(accountId: string, orderId: string, payload: Record<string, unknown>): Promise<OrderView> {
    const { ctx } = this;
    if (typeof payload.csr !== "string" || !/^[A-Za-z0-9_-]+$/.test(payload.csr))
      throw problems.malformed("csr must be a base64url-encoded DER CSR");
    const view = await getOrder(ctx, accountId, orderId);
    if (this.running.has(orderId)) throw problems.orderNotReady("the order is processing");
    beginFinalize(view.order, view.status); // throws orderNotReady unless ready
    const der = Buffer.from(payload.csr, "base64url");
    // structure and identifiers here; the CA verifies the CSR signature and key before it signs
    const csr = parseCsr(der, { verifySignature: false });
    if (!sameIdentifiers(csr.identifiers, view.order.identifiers)) {
      const want = new Set(view.order.identifiers.map(identifierKey));
      const got = new Set(csr.identifiers.map(identifierKey));
      const missing = [...want].filter((k) => !got.has(k));
      const extra = [...got].filter((k) => !want.has(k));
      throw problems.badCSR(
        `the CSR must name exactly the order's identifiers${missing.length ? `; missing ${clipList(missing)}` : ""}${
          extra.length ? `; not in the order ${clipList(extra)}` : ""
        }`,
      );
    }
    // claimed synchronously after the checks: no await between running.has() and here
    const outcome = await within(this.start(view.order, der), ctx.config.finalizeWaitMs);
    if (outcome?.problem) throw outcome.problem;
    if (outcome?.order) return { order: outcome.order, status: outcome.order.status };
    // the CA is slow (HSM busy or briefly unavailable): store processing so polls and restarts see it
    // an order with `replaces` is stored processing by its claim (claimReplacement), done or running
    if (view.order.replaces)
      return { order: (await ctx.cache.order(ctx.db, orderId)) ?? view.order, status: "processing" };
    const stored = await this.write(view.order, (o) =>
      o.status === "pending" || o.status === "ready" ? { next: beginFinalize(o, "ready"), csr: der } : undefined,
    );
    return { order: stored, status: stored.status };
  }

  /** Is this order being issued right now (stored as ready while a quick issuance runs)? */
  isRunning(orderId: string): boolean {
    return this.running.has(orderId);
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

  /**
   * Compare-and-set write of an order with re-read on conflict: `change` gets the current order and
   * returns the next one (or undefined: leave it). Returns what is stored afterwards.
   */
  private async write(
    first: Versioned<Order>,
    change: (o: Versioned<Order>) => { next: Order; csr?: Buffer } | undefined,
  ): Promise<Versioned<Order>> {
    const { ctx } = this;
    let cur = first;
    for (let attempt = 0; ; attempt++) {
      const c = change(cur);
      if (!c) return cur;
      try {
        const saved = await ctx.db.write((tx) =>
          ordersRepo.updateOrder(tx, { ...c.next, version: cur.version }, c.csr),
        );
        return ctx.cache.putOrder(saved);
      } catch (e) {
        if (!isApplianceError(e, "conflict") || attempt >= 4) throw e;
        ctx.cache.forgetOrder(cur.id);
        const fresh = await ordersRepo.getOrder(ctx.db, cur.id);
        if (!fresh) throw e;
        cur = ctx.cache.putOrder(fresh);
      }
    }
  }

  /** Issues once per order; resolves with the stored result (or the client-facing problem). */
  private start(order: Versioned<Order>, csr: Buffer): Promise<Outcome | undefined> {
    const existing = this.running.get(order.id);
    if (existing) return existing;
    const p = this.issue(order, csr).finally(() => this.running.delete(order.id));
    this.running.set(order.id, p);
    return p;
  }

  /**
   * RFC 9773: an order with `replaces` claims the certificate before the CA signs, in one write that
   * finds no other order replacing (processing) or having replaced (valid) it and stores this order
   * processing with its CSR. Writes are serialised, so of two orders naming the same certificate
   * only the first gets here; the other becomes invalid with alreadyReplaced (it can never be
   * finalized, and a client answered `processing` sees why when it polls).
   */
  private async claimReplacement(order: Versioned<Order>, csr: Buffer): Promise<Outcome> {
    const certId = order.replaces!;
    let problem: AcmeProblem | undefined;
    const saved = await this.ctx.db.write(async (tx) => {
      const other = await ordersRepo.findReplacingOrder(tx, certId, order.id);
      if (!other) return ordersRepo.updateOrder(tx, { ...beginFinalize(order, "ready"), version: order.version }, csr);
      problem = problems.alreadyReplaced(
        `the certificate was already replaced by order ${this.ctx.links.url("order", other)}`,
      );
      return ordersRepo.updateOrder(tx, { ...failFinalize(order, problem.toJSON()), version: order.version });
    });
    const stored = this.ctx.cache.putOrder(saved);
    return problem ? { order: stored, problem } : { order: stored };
  }

  private async issue(first: Versioned<Order>, csr: Buffer): Promise<Outcome | undefined> {
    const { ctx } = this;
    const started = performance.now();
    let order = first;
    if (order.replaces && order.status !== "processing") {
      const claim = await this.claimReplacement(order, csr);
      if (claim.problem) return claim;
      order = claim.order;
    }
    const open = (o: Versioned<Order>) => o.status === "pending" || o.status === "ready" || o.status === "processing";
    try {
      // a processing order (resumed after a restart, or retried) may already have its certificate: the
      // CA recorded it but the order update was lost (kill, disk error). Deliver that one, never a second.
      // (Not after this call's own replacement claim: nothing was issued for the order yet.)
      if (first.status === "processing") {
        const prior = await ctx.ca.certificateForOrder(order.id);
        if (prior) {
          ctx.cache.putIssued(prior.serial, prior.der);
          const valid = await this.write(order, (o) =>
            open(o) ? { next: completeFinalize(o, prior.serial) } : undefined,
          );
          ctx.log.info("order completed with the certificate already recorded for it", {
            order: order.id,
            serial: prior.serial,
          });
          return { order: valid };
        }
      }
      // the order becomes valid in the transaction that records the certificate (one commit, and
      // never a certificate recorded without its order saying so); if the order moved on meanwhile,
      // the compare-and-set misses and the usual re-read write below applies the change
      let applied: Versioned<Order> | undefined;
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
        recordWith: async (tx, serial) => {
          applied = open(order)
            ? await ordersRepo.tryUpdateOrder(tx, { ...completeFinalize(order, serial), version: order.version })
            : undefined;
        },
      });
      ctx.cache.putIssued(cert.serial, cert.der);
      const valid = applied
        ? ctx.cache.putOrder(applied)
        : await this.write(order, (o) => (open(o) ? { next: completeFinalize(o, cert.serial) } : undefined));
      ctx.events.issued(performance.now() - started);
      return { order: valid };
    } catch (e) {
      const now = ctx.now();
      if (isApplianceError(e, "unavailable") && now.getTime() < order.expires.getTime() && !this.closed) {
        // HSM or disk briefly unavailable: the order stays (or becomes) processing; issuance is retried
        ctx.log.warn("issuance postponed", { order: order.id, error: e.message });
        await this.write(order, (o) =>
          o.status === "pending" || o.status === "ready" ? { next: beginFinalize(o, "ready"), csr } : undefined,
        ).catch((err) =>
          ctx.log.error("could not store the processing order", { order: order.id, error: String(err) }),
        );
        const t = setTimeout(
          async () => {
            this.retryTimers.delete(t);
            const cur = await ctx.cache.order(ctx.db, order.id).catch(() => undefined);
            if (cur?.status === "processing") void this.start(cur, csr);
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
      const invalid = await this.write(order, (o) =>
        open(o) ? { next: failFinalize(o, problem.toJSON()) } : undefined,
      ).catch((err) => {
        ctx.log.error("could not record the failed issuance", { order: order.id, error: String(err) });
        return undefined;
      });
      return { ...(invalid ? { order: invalid } : {}), problem };
    }
  }
}
