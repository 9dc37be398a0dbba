// What the route modules share: the service, nonce source, JWS pipeline factory and helpers to
// answer with ACME's headers (Location, Link, Retry-After).
import type { CertificateAuthority } from "../../../ca/api.js";
import type { NonceService } from "../../nonces.js";
import type { AcmeService } from "../../service/index.js";
import type { AuthMode, JwsDeps } from "../jws-middleware.js";
import { jwsPipeline } from "../jws-middleware.js";
import type { AcmeContext, AcmeMiddleware } from "../state.js";

export interface RouteDeps {
  service: AcmeService;
  nonces: NonceService;
  ca: CertificateAuthority;
  jws: JwsDeps;
}

export type { AcmeRouter } from "../router.js";

export function jws(deps: RouteDeps, mode: AuthMode): AcmeMiddleware[] {
  return jwsPipeline(deps.jws, mode);
}

export function link(ctx: AcmeContext, url: string, rel: string): void {
  ctx.append("Link", `<${url}>;rel="${rel}"`);
}

/** Names the route for metrics and logs. */
export function named(route: string): AcmeMiddleware {
  return async function routeName(ctx, next) {
    ctx.state.route = route;
    return next();
  };
}

export function json(ctx: AcmeContext, status: number, body: unknown): void {
  ctx.status = status;
  ctx.type = "application/json";
  ctx.body = JSON.stringify(body);
}
