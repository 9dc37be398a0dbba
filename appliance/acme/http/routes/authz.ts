// Authorizations and challenges (RFC 8555 §7.5): reads, deactivation, and answering a challenge.
import { problems } from "../../problems.js";
import { verified } from "../state.js";
import { authorizationView, challengeView } from "../views.js";
import { type AcmeRouter, json, jws, link, named, type RouteDeps } from "./deps.js";

export function registerAuthorizations(router: AcmeRouter, deps: RouteDeps): void {
  const { service } = deps;
  const links = service.links;

  router.post("/authz/:id", named("authorization"), ...jws(deps, "kid"), async (ctx) => {
    const v = verified(ctx);
    const accountId = v.account!.account.id;
    let view: Awaited<ReturnType<typeof service.getAuthorization>>;
    if (v.postAsGet) view = await service.getAuthorization(accountId, ctx.params.id!);
    else if (v.payload!.status === "deactivated")
      view = await service.deactivateAuthorization(accountId, ctx.params.id!);
    else throw problems.malformed('the only change a client may make to an authorization is status "deactivated"');
    if (view.status === "pending" && view.challenges.some((c) => c.status === "processing"))
      ctx.set("Retry-After", "1");
    json(ctx, 200, authorizationView(links, view));
  });

  router.post("/chall/:id", named("challenge"), ...jws(deps, "kid"), async (ctx) => {
    const v = verified(ctx);
    const accountId = v.account!.account.id;
    const view = v.postAsGet
      ? await service.getChallenge(accountId, ctx.params.id!)
      : await service.respondToChallenge(accountId, ctx.params.id!, ctx.ip);
    link(ctx, links.url("authorization", view.authorizationId), "up");
    if (view.challenge.status === "processing") ctx.set("Retry-After", "1");
    json(ctx, 200, challengeView(links, view.challenge));
  });
}
