// Write-through cache of the records the ACME hot path reads again and again (authorizations,
// orders, certificate serial → order). This process is the only writer of these tables, every write
// goes through the service and updates the cache after it committed, and every update is a
// compare-and-set on the row version — so a stale entry can at worst cause a conflict and a re-read.
import type { Authorization } from "../authorization.js";
import type { Order } from "../order.js";
import type { Versioned } from "../../store/acme/versioned.js";
import * as authzRepo from "../../store/acme/authorizations.js";
import * as ordersRepo from "../../store/acme/orders.js";
import type { Queryable } from "../../store/db.js";

class Lru<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined) {
      this.m.delete(k);
      this.m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
  }
  delete(k: string): void {
    this.m.delete(k);
  }
}

export class RecordCache {
  private readonly authz: Lru<Versioned<Authorization>>;
  private readonly orders: Lru<Versioned<Order>>;
  private readonly bySerial: Lru<string>;
  /** DER of certificates this process just issued (immutable once issued; clients download them next) */
  private readonly issuedDer: Lru<Buffer>;

  constructor(max = 20_000, maxIssued = 2_000) {
    this.authz = new Lru(max);
    this.orders = new Lru(max);
    this.bySerial = new Lru(max);
    this.issuedDer = new Lru(maxIssued);
  }

  /** Remembers an issued certificate's DER (what ca.issue() returned after recording it as issued). */
  putIssued(serial: string, der: Buffer): void {
    this.issuedDer.set(serial, der);
  }

  issued(serial: string): Buffer | undefined {
    return this.issuedDer.get(serial);
  }

  async authorization(q: Queryable, id: string): Promise<Versioned<Authorization> | undefined> {
    const hit = this.authz.get(id);
    if (hit) return hit;
    const a = await authzRepo.getAuthorization(q, id);
    if (a) this.putAuthorization(a);
    return a;
  }

  async authorizations(q: Queryable, ids: readonly string[]): Promise<Versioned<Authorization>[]> {
    const out: Versioned<Authorization>[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const hit = this.authz.get(id);
      if (hit) out.push(hit);
      else missing.push(id);
    }
    if (missing.length)
      for (const a of await authzRepo.getAuthorizations(q, missing)) out.push(this.putAuthorization(a));
    const byId = new Map(out.map((a) => [a.id, a]));
    return ids.map((id) => byId.get(id)).filter((a): a is Versioned<Authorization> => a !== undefined);
  }

  putAuthorization(a: Versioned<Authorization>): Versioned<Authorization> {
    const cur = this.authz.get(a.id);
    if (!cur || cur.version <= a.version) this.authz.set(a.id, a);
    return a;
  }

  forgetAuthorization(id: string): void {
    this.authz.delete(id);
  }

  async order(q: Queryable, id: string): Promise<Versioned<Order> | undefined> {
    const hit = this.orders.get(id);
    if (hit) return hit;
    const o = await ordersRepo.getOrder(q, id);
    if (o) this.putOrder(o);
    return o;
  }

  putOrder(o: Versioned<Order>): Versioned<Order> {
    const cur = this.orders.get(o.id);
    if (!cur || cur.version <= o.version) this.orders.set(o.id, o);
    if (o.certificateSerial) this.bySerial.set(o.certificateSerial, o.id);
    return o;
  }

  forgetOrder(id: string): void {
    this.orders.delete(id);
  }

  async orderBySerial(q: Queryable, serial: string): Promise<Versioned<Order> | undefined> {
    const id = this.bySerial.get(serial);
    if (id) {
      const o = await this.order(q, id);
      if (o?.certificateSerial === serial) return o;
    }
    const o = await ordersRepo.getOrderBySerial(q, serial);
    return o && this.putOrder(o);
  }
}
