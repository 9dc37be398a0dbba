// The ACME service (Boulder's RA role): every resource operation of RFC 8555, composed from the
// modules beside this one, with the validation queue and the finalizer it owns. No HTTP here.
import type { CertificateAuthority } from "../../ca/api.js";
import type { Db } from "../../store/db.js";
import type { Validator } from "../../validation/api.js";
import type { Account } from "../account.js";
import { AccountKeyCache, type CachedAccount } from "../account-keys.js";
import type { ImportedKey } from "../jws.js";
import type { Links } from "../links.js";
import { RateLimiter } from "../rate-limits.js";
import * as accounts from "./accounts.js";
import * as authorizations from "./authorizations.js";
import * as certificates from "./certificates.js";
import {
  type AcmeConfig,
  type AcmeEvents,
  DEFAULT_ACME_CONFIG,
  type Logger,
  NO_EVENTS,
  type ServiceContext,
} from "./context.js";
import { RecordCache } from "./cache.js";
import { Finalizer } from "./finalize.js";
import * as orders from "./orders.js";
import { ValidationQueue } from "./validation-queue.js";

export type { AcmeConfig, AcmeEvents, Logger };
export type { AuthorizationView, ChallengeView } from "./authorizations.js";
export type { RenewalInfo, RevokeAuth } from "./certificates.js";
export type { OrderView } from "./orders.js";

export interface AcmeServiceOptions {
  db: Db;
  ca: CertificateAuthority;
  validator: Validator;
  links: Links;
  config?: Partial<AcmeConfig>;
  events?: AcmeEvents;
  log?: Logger;
  now?: () => Date;
}

export const SILENT_LOG: Logger = { info() {}, warn() {}, error() {} };

export class AcmeService {
  readonly ctx: ServiceContext;
  private readonly queue: ValidationQueue;
  private readonly finalizer: Finalizer;

  constructor(opts: AcmeServiceOptions) {
    const now = opts.now ?? (() => new Date());
    const config = { ...DEFAULT_ACME_CONFIG, ...opts.config };
    this.ctx = {
      db: opts.db,
      ca: opts.ca,
      validator: opts.validator,
      links: opts.links,
      config,
      limits: new RateLimiter(config.rateLimits), // monotonic: wall-clock steps must not lock clients out
      keys: new AccountKeyCache(),
      cache: new RecordCache(),
      events: opts.events ?? NO_EVENTS,
      log: opts.log ?? SILENT_LOG,
      now,
    };
    this.queue = new ValidationQueue(this.ctx);
    this.finalizer = new Finalizer(this.ctx);
  }

  get config(): AcmeConfig {
    return this.ctx.config;
  }

  get links(): Links {
    return this.ctx.links;
  }

  /** Picks up validations and issuances a previous run left unfinished. */
  async start(): Promise<{ validations: number; issuances: number }> {
    return { validations: await this.queue.resume(), issuances: await this.finalizer.resume() };
  }

  /** Stops background work, waiting at most `graceMs` for running validations and issuances. */
  async close(graceMs = 5000): Promise<void> {
    await this.queue.close(graceMs);
    await this.finalizer.close(graceMs);
  }

  accountForKid(id: string): Promise<CachedAccount | undefined> {
    return accounts.accountForKid(this.ctx, id);
  }
  newAccount(key: ImportedKey, payload: Record<string, unknown>, clientAddress: string) {
    return accounts.newAccount(this.ctx, key, payload, clientAddress);
  }
  updateAccount(accountId: string, payload: Record<string, unknown>): Promise<Account> {
    return accounts.updateAccount(this.ctx, accountId, payload);
  }
  keyChange(cached: CachedAccount, inner: unknown, url: string): Promise<Account> {
    return accounts.keyChange(this.ctx, cached, inner, url);
  }
  accountOrders(accountId: string, cursor?: number) {
    return accounts.accountOrders(this.ctx, accountId, cursor);
  }
  newOrder(account: Account, payload: Record<string, unknown>, clientAddress: string) {
    return orders.newOrder(this.ctx, account, payload, clientAddress);
  }
  async getOrder(accountId: string, orderId: string): Promise<orders.OrderView> {
    const v = await orders.getOrder(this.ctx, accountId, orderId);
    // an order whose issuance is running shows as processing before that is stored
    return v.status === "ready" && this.finalizer.isRunning(orderId) ? { ...v, status: "processing" } : v;
  }
  finalize(accountId: string, orderId: string, payload: Record<string, unknown>) {
    return this.finalizer.finalize(accountId, orderId, payload);
  }
  getAuthorization(accountId: string, id: string) {
    return authorizations.getAuthorization(this.ctx, this.queue, accountId, id);
  }
  deactivateAuthorization(accountId: string, id: string) {
    return authorizations.deactivate(this.ctx, accountId, id);
  }
  getChallenge(accountId: string, id: string) {
    return authorizations.getChallenge(this.ctx, this.queue, accountId, id);
  }
  respondToChallenge(accountId: string, id: string, clientAddress?: string) {
    return authorizations.respondToChallenge(this.ctx, this.queue, accountId, id, clientAddress);
  }
  certificateChain(accountId: string, serial: string) {
    return certificates.certificateChain(this.ctx, accountId, serial);
  }
  revoke(auth: certificates.RevokeAuth, payload: Record<string, unknown>) {
    return certificates.revokeCertificate(this.ctx, auth, payload);
  }
  renewalInfo(certId: string) {
    return certificates.renewalInfo(this.ctx, certId);
  }
}
