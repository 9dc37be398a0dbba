// GET /acme/directory (RFC 8555 §7.1.1) and newNonce by HEAD and GET (§7.2).
import { directoryView } from "../views.js";
import { type AcmeRouter, json, named, type RouteDeps } from "./deps.js";

export function registerDirectory(router: AcmeRouter, deps: RouteDeps): void {
  const { service } = deps;
  router.get("/directory", named("directory"), async (ctx) => {
    ctx.set("Cache-Control", "public, max-age=0, no-cache");
    json(
      ctx,
      200,
      directoryView(service.links, {
        eabRequired: service.config.eabRequired,
        ...(service.config.termsOfService ? { termsOfService: service.config.termsOfService } : {}),
        ...(service.config.website ? { website: service.config.website } : {}),
        profiles: deps.ca.profiles(),
      }),
    );
  });
  // the problem renderer adds Replay-Nonce to every response; HEAD answers 200, GET 204
  router.head("/new-nonce", named("newNonce"), async (ctx) => {
    ctx.status = 200;
    ctx.set("Cache-Control", "no-store");
    ctx.set("Content-Length", "0");
  });
  router.get("/new-nonce", named("newNonce"), async (ctx) => {
    ctx.status = 204;
    ctx.set("Cache-Control", "no-store");
  });
}
