// The ACME Koa application: request log → problem renderer (Replay-Nonce and Link rel=index on every
// response) → security headers → routes under /acme. Replaces Koa's default error handling entirely.
import Koa from "koa";
import type { CertificateAuthority } from "../../ca/api.js";
import { ACME_PREFIX } from "../links.js";
import type { NonceService } from "../nonces.js";
import { toProblem } from "../problem-mapper.js";
import { problems } from "../problems.js";
import type { AcmeService, Logger } from "../service/index.js";
import { registerAccounts } from "./routes/account.js";
import { registerAuthorizations } from "./routes/authz.js";
import type { RouteDeps } from "./routes/deps.js";
import { registerDirectory } from "./routes/directory.js";
import { registerOrders } from "./routes/order.js";
import { registerRevocation } from "./routes/revoke.js";
import { AcmeRouter } from "./router.js";
import type { AcmeContext, AcmeMiddleware, AcmeState } from "./state.js";

export interface RequestObserver {
  /** called once per request after the response is ready */
  request(entry: RequestLogEntry): void;
}

export interface RequestLogEntry {
  method: string;
  route: string;
  path: string;
  status: number;
  ms: number;
  client: string;
  account?: string;
  order?: string;
  problem?: string;
}

export interface AcmeAppOptions {
  service: AcmeService;
  nonces: NonceService;
  ca: CertificateAuthority;
  log: Logger;
  observer?: RequestObserver;
  /** request body limit (default 64 KiB) */
  maxBody?: number;
}

export const DEFAULT_MAX_BODY = 64 * 1024;

/** First middleware: one structured line per request (account, order, outcome, latency). */
export function requestLog(observer: RequestObserver | undefined): AcmeMiddleware {
  return async function requestLog(ctx, next) {
    const started = performance.now();
    ctx.state.log = {};
    try {
      await next();
    } finally {
      observer?.request({
        method: ctx.method,
        route: ctx.state.route ?? "unmatched",
        path: ctx.path,
        status: ctx.status,
        ms: Math.round((performance.now() - started) * 100) / 100,
        client: ctx.ip,
        ...ctx.state.log,
      });
    }
  };
}

/**
 * Renders every error as application/problem+json (RFC 7807/8555) and adds a fresh Replay-Nonce and
 * the index link to every response. Internal causes are logged, never sent.
 */
export function renderProblems(nonces: NonceService, directoryUrl: string, log: Logger): AcmeMiddleware {
  return async function renderProblems(ctx, next) {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw problems.malformed("no such resource", { status: 404 });
    } catch (e) {
      const { problem, internal } = toProblem(e);
      if (internal)
        log.error("request failed", {
          path: ctx.path,
          error: e instanceof Error ? e.message : String(e),
          cause: e instanceof Error && e.cause ? String(e.cause) : undefined,
          stack: e instanceof Error ? e.stack : undefined,
        });
      ctx.status = problem.status;
      ctx.type = "application/problem+json";
      ctx.body = JSON.stringify(problem.toJSON());
      if (problem.retryAfter !== undefined) ctx.set("Retry-After", String(problem.retryAfter));
      for (const [k, v] of Object.entries(problem.headers ?? {})) ctx.set(k, v);
      ctx.state.log.problem = problem.type;
    }
    ctx.set("Replay-Nonce", nonces.issue());
    if (ctx.state.route !== "directory") ctx.append("Link", `<${directoryUrl}>;rel="index"`);
  };
}

export function securityHeaders(): AcmeMiddleware {
  return async function securityHeaders(ctx, next) {
    ctx.set("X-Content-Type-Options", "nosniff");
    ctx.set("X-Frame-Options", "DENY");
    ctx.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    ctx.set("Referrer-Policy", "no-referrer");
    ctx.set("Strict-Transport-Security", "max-age=31536000");
    ctx.set("Cache-Control", "no-store");
    return next();
  };
}

/** GET (other than directory, newNonce, renewalInfo) on an ACME resource: 405 with Allow: POST. */
function methodNotAllowed(): AcmeMiddleware {
  return async function methodNotAllowed(ctx: AcmeContext) {
    ctx.set("Allow", "POST");
    throw problems.malformed("this resource is read with POST-as-GET", { status: 405 });
  };
}

export function createAcmeApp(opts: AcmeAppOptions): Koa<AcmeState> {
  const app = new Koa<AcmeState>({ proxy: false });
  app.silent = true;
  const deps: RouteDeps = {
    service: opts.service,
    nonces: opts.nonces,
    ca: opts.ca,
    jws: {
      links: opts.service.links,
      nonces: opts.nonces,
      accountForKid: (id) => opts.service.accountForKid(id),
      maxBody: opts.maxBody ?? DEFAULT_MAX_BODY,
    },
  };
  const router = new AcmeRouter(ACME_PREFIX);
  registerDirectory(router, deps);
  registerAccounts(router, deps);
  registerOrders(router, deps);
  registerAuthorizations(router, deps);
  registerRevocation(router, deps);
  router.get(
    [
      "/new-account",
      "/new-order",
      "/revoke-cert",
      "/key-change",
      "/acct/:id",
      "/acct/:id/orders",
      "/order/:id",
      "/order/:id/finalize",
      "/authz/:id",
      "/chall/:id",
      "/cert/:id",
    ],
    methodNotAllowed(),
  );

  app.use(requestLog(opts.observer));
  app.use(renderProblems(opts.nonces, opts.service.links.url("directory"), opts.log));
  app.use(securityHeaders());
  app.use(router.middleware());
  return app;
}
