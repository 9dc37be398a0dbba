// The appliance's listeners: ACME over HTTPS (own certificate, renewed in place), CRL/OCSP/CA
// certificates over plain HTTP, Prometheus metrics on a third port; limits, timeouts, no banners.
import { X509Certificate } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { CertificateAuthority } from "./ca/api.js";
import { createAcmeApp, type RequestLogEntry } from "./acme/http/app.js";
import { Links } from "./acme/links.js";
import { NonceService } from "./acme/nonces.js";
import { type AcmeConfig, type AcmeEvents, AcmeService } from "./acme/service/index.js";
import type { Logger } from "./log.js";
import { Registry } from "./metrics.js";
import type { Db } from "./store/db.js";
import type { TlsIdentity } from "./tls-identity.js";
import type { Validator } from "./validation/api.js";

export interface ListenConfig {
  host: string;
  /** ACME over HTTPS */
  port: number;
  /** CRL, OCSP and CA certificates over plain HTTP */
  httpPort: number;
  metricsHost: string;
  metricsPort: number;
}

export interface ServerLimits {
  maxConnections: number;
  /** open connections one client address may hold (so one device cannot take all maxConnections) */
  maxConnectionsPerAddress: number;
  /** a TLS handshake must finish within this (Node's default is 120 s) */
  handshakeTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxConnections: 2048,
  maxConnectionsPerAddress: 128,
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 30_000,
  maxHeaderBytes: 16 * 1024,
};

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface ApplianceServerOptions {
  db: Db;
  ca: CertificateAuthority;
  validator: Validator;
  tls: TlsIdentity;
  listen: ListenConfig;
  /** scheme://host:port clients use; default https://HOST:PORT of the listener */
  origin?: string;
  acme?: Partial<AcmeConfig>;
  limits?: Partial<ServerLimits>;
  /** the CA's CRL/OCSP/CA-certificate app for the plain-HTTP listener */
  pkiHandler?: RequestHandler;
  /** PEM certificates of the CA hierarchy (root, SubCA) for the expiry gauge */
  caCertificatesPem?: () => string[];
  log: Logger;
  /** log one line per ACME request (default true) */
  requestLog?: boolean;
  /** how often the HTTPS certificate is checked for renewal (default hourly) and the clock used */
  tlsRenewal?: TlsRenewalOptions;
}

export interface TlsRenewalOptions {
  checkEveryMs?: number;
  now?: () => Date;
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function harden(server: http.Server, l: ServerLimits): void {
  server.headersTimeout = l.headersTimeoutMs;
  server.requestTimeout = l.requestTimeoutMs;
  server.keepAliveTimeout = l.keepAliveTimeoutMs;
  server.maxHeadersCount = 64;
  server.maxConnections = l.maxConnections;
  server.maxRequestsPerSocket = 10_000;
  // one client address may not hold more than its share of the connections (slow-loris)
  const perAddress = new Map<string, number>();
  server.on("connection", (socket: Socket) => {
    const addr = socket.remoteAddress ?? "";
    const n = (perAddress.get(addr) ?? 0) + 1;
    if (n > l.maxConnectionsPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(addr, n);
    socket.once("close", () => {
      const left = (perAddress.get(addr) ?? 1) - 1;
      if (left > 0) perAddress.set(addr, left);
      else perAddress.delete(addr);
    });
  });
}

export class ApplianceServer {
  private renewTimer?: NodeJS.Timeout;
  private tls?: TlsIdentity;

  private constructor(
    readonly service: AcmeService,
    readonly registry: Registry,
    private readonly acme: https.Server,
    private readonly pki: http.Server,
    private readonly metrics: http.Server,
    readonly ports: { acme: number; http: number; metrics: number },
    readonly directoryUrl: string,
    private readonly log: Logger,
  ) {}

  static async start(o: ApplianceServerOptions): Promise<ApplianceServer> {
    const limits = { ...DEFAULT_LIMITS, ...o.limits };
    const registry = new Registry();
    const m = {
      requests: registry.counter("plantroot_acme_requests_total", "ACME requests by route and HTTP status"),
      latency: registry.histogram(
        "plantroot_acme_request_duration_seconds",
        "ACME request latency by route",
        [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      ),
      problems: registry.counter("plantroot_acme_problems_total", "ACME problem documents sent, by type"),
      issued: registry.counter("plantroot_acme_certificates_issued_total", "certificates issued through ACME"),
      issueFail: registry.counter("plantroot_acme_issuance_failures_total", "failed issuances by error kind"),
      issueTime: registry.histogram(
        "plantroot_acme_issuance_duration_seconds",
        "time the CA took per issuance",
        [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      ),
      validations: registry.counter("plantroot_acme_validations_total", "challenge validations by type and result"),
      validationTime: registry.histogram(
        "plantroot_acme_validation_duration_seconds",
        "challenge validation time",
        [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
      ),
      accounts: registry.counter("plantroot_acme_accounts_created_total", "accounts created"),
      orders: registry.counter("plantroot_acme_orders_created_total", "orders created"),
      revoked: registry.counter("plantroot_acme_revocations_total", "certificates revoked through ACME"),
    };
    registry.gauge(
      "plantroot_ca_certificate_expiry_earliest_timestamp_seconds",
      "earliest notAfter among the CA certificates (root and SubCA)",
      () => {
        const pems = o.caCertificatesPem?.() ?? splitPem(o.ca.issuerChainPem());
        const t = pems.map((p) => new Date(new X509Certificate(p).validTo).getTime() / 1000);
        return t.length ? [{ value: Math.min(...t) }] : [];
      },
    );
    const db = o.db.stats;
    registry.counterFrom(
      "plantroot_db_calls_total",
      "calls into SQLite (thread-pool round trips) by connection",
      () => [
        { labels: { connection: "writer" }, value: db.writerCalls },
        { labels: { connection: "reader" }, value: db.readerCalls },
      ],
    );
    registry.counterFrom("plantroot_db_commits_total", "durable write transactions committed", () => [
      { value: db.commits },
    ]);
    registry.counterFrom("plantroot_db_write_jobs_total", "store write jobs (group-committed)", () => [
      { value: db.writeJobs },
    ]);
    registry.gauge(
      "plantroot_tls_certificate_expiry_timestamp_seconds",
      "notAfter of the appliance's HTTPS certificate",
      () => [{ value: o.tls.current.notAfter.getTime() / 1000 }],
    );
    const events: AcmeEvents = {
      accountCreated: () => m.accounts.inc(),
      orderCreated: () => m.orders.inc(),
      validation: (type, ok, ms) => {
        m.validations.inc({ type, result: ok ? "valid" : "invalid" });
        m.validationTime.observe(ms / 1000);
      },
      issued: (ms) => {
        m.issued.inc();
        m.issueTime.observe(ms / 1000);
      },
      issuanceFailed: (kind) => m.issueFail.inc({ kind }),
      revoked: () => m.revoked.inc(),
    };

    // the ACME listener binds first: with port 0 the origin needs the chosen port
    const acmeServer = https.createServer({
      // how often header/request timeouts are enforced (Node's default is every 30 s)
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
      handshakeTimeout: limits.handshakeTimeoutMs,
      key: o.tls.current.key,
      cert: o.tls.current.cert,
      minVersion: "TLSv1.2",
      maxHeaderSize: limits.maxHeaderBytes,
      ALPNProtocols: ["http/1.1"],
    });
    harden(acmeServer, limits);
    const acmePort = await listen(acmeServer, o.listen.port, o.listen.host);
    const origin = o.origin ?? `https://${hostForUrl(o.listen.host)}:${acmePort}`;
    const links = new Links(origin);
    const service = new AcmeService({
      db: o.db,
      ca: o.ca,
      validator: o.validator,
      links,
      config: o.acme ?? {},
      events,
      log: o.log,
    });
    const nonces = new NonceService();
    const logRequests = o.requestLog !== false;
    const app = createAcmeApp({
      service,
      nonces,
      ca: o.ca,
      log: o.log,
      observer: {
        request(e: RequestLogEntry) {
          m.requests.inc({ route: e.route, status: String(e.status) });
          m.latency.observe(e.ms / 1000, { route: e.route });
          if (e.problem) m.problems.inc({ type: e.problem });
          if (logRequests) o.log.info("acme request", { ...e });
        },
      },
    });
    acmeServer.on("request", app.callback());

    const pkiServer = http.createServer(
      { maxHeaderSize: limits.maxHeaderBytes, connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs) },
      (req, res) => {
        if (o.pkiHandler) return o.pkiHandler(req, res);
        res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
      },
    );
    harden(pkiServer, limits);
    const httpPort = await listen(pkiServer, o.listen.httpPort, o.listen.host);

    const metricsServer = http.createServer((req, res) => {
      if (req.method === "GET" && req.url === "/metrics") {
        res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" }).end(registry.render());
      } else res.writeHead(404).end();
    });
    harden(metricsServer, limits);
    const metricsPort = await listen(metricsServer, o.listen.metricsPort, o.listen.metricsHost);

    const resumed = await service.start();
    if (resumed.validations || resumed.issuances) o.log.info("resumed unfinished work", resumed);
    const s = new ApplianceServer(
      service,
      registry,
      acmeServer,
      pkiServer,
      metricsServer,
      { acme: acmePort, http: httpPort, metrics: metricsPort },
      links.url("directory"),
      o.log,
    );
    s.scheduleRenewal(o.tls, o.tlsRenewal);
    return s;
  }

  /** Checks the HTTPS certificate hourly and swaps in a renewed one without a restart. */
  private scheduleRenewal(tls: TlsIdentity, o: TlsRenewalOptions = {}): void {
    this.tls = tls;
    const now = o.now ?? (() => new Date());
    let renewing = false;
    this.renewTimer = setInterval(() => {
      if (renewing || !tls.due(now())) return;
      renewing = true;
      this.renewTls()
        .catch((e) => this.log.error("could not renew the appliance's HTTPS certificate", { error: String(e) }))
        .finally(() => {
          renewing = false;
        });
    }, o.checkEveryMs ?? 3600_000);
    this.renewTimer.unref();
  }

  /** Issues a fresh HTTPS certificate through the CA and serves it to new connections at once. */
  async renewTls(): Promise<Date> {
    const m = await this.tls!.renew();
    this.acme.setSecureContext({ key: m.key, cert: m.cert, minVersion: "TLSv1.2" });
    this.log.info("renewed the appliance's HTTPS certificate", { notAfter: m.notAfter.toISOString() });
    return m.notAfter;
  }

  async close(graceMs = 5000): Promise<void> {
    if (this.renewTimer) clearInterval(this.renewTimer);
    const stop = (s: http.Server) =>
      new Promise<void>((r) => {
        s.close(() => r());
        s.closeAllConnections();
      });
    await Promise.all([stop(this.acme), stop(this.pki), stop(this.metrics)]);
    await this.service.close(graceMs);
  }
}

function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
