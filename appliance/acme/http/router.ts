// A small router for the ACME resources: method + path template (`:id` segments), each route's
// middleware composed once at registration (not per request), path parameters on ctx.params.
import type { AcmeContext, AcmeMiddleware } from "./state.js";

type Next = () => Promise<unknown>;

interface Route {
  method: string;
  parts: string[];
  run: (ctx: AcmeContext, next: Next) => Promise<unknown>;
}

/** Composes middleware once: each calls the next through its `next`. */
function compose(chain: readonly AcmeMiddleware[]): (ctx: AcmeContext, next: Next) => Promise<unknown> {
  return (ctx, last) => {
    const step = (i: number): Promise<unknown> => {
      const fn = chain[i];
      if (!fn) return last();
      return fn(ctx, () => step(i + 1));
    };
    return step(0);
  };
}

export class AcmeRouter {
  private readonly routes: Route[] = [];

  constructor(private readonly prefix: string) {}

  private add(method: string, paths: string | string[], chain: AcmeMiddleware[]): this {
    const run = compose(chain);
    for (const p of Array.isArray(paths) ? paths : [paths])
      this.routes.push({ method, parts: (this.prefix + p).split("/"), run });
    return this;
  }

  get(paths: string | string[], ...chain: AcmeMiddleware[]): this {
    return this.add("GET", paths, chain);
  }
  head(paths: string | string[], ...chain: AcmeMiddleware[]): this {
    return this.add("HEAD", paths, chain);
  }
  post(paths: string | string[], ...chain: AcmeMiddleware[]): this {
    return this.add("POST", paths, chain);
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    const segs = path.split("/");
    for (const route of this.routes) {
      if (route.method !== method || route.parts.length !== segs.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segs.length && ok; i++) {
        const want = route.parts[i]!;
        if (want.startsWith(":")) {
          if (segs[i] === "") ok = false;
          else {
            try {
              params[want.slice(1)] = decodeURIComponent(segs[i]!);
            } catch {
              ok = false;
            }
          }
        } else ok = want === segs[i];
      }
      if (ok) return { route, params };
    }
    return undefined;
  }

  /** The router as one Koa middleware; unmatched requests fall through (404). HEAD uses GET routes. */
  middleware(): AcmeMiddleware {
    return async (ctx, next) => {
      const m = this.match(ctx.method, ctx.path) ?? (ctx.method === "HEAD" ? this.match("GET", ctx.path) : undefined);
      if (!m) return next();
      (ctx as AcmeContext & { params: Record<string, string> }).params = m.params;
      return m.route.run(ctx, next);
    };
  }
}
