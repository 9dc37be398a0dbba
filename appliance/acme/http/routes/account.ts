// newAccount, account update/deactivation, the orders list, and keyChange (RFC 8555 §7.3).
import { problems } from "../../problems.js";
import { verified } from "../state.js";
import { accountView } from "../views.js";
import { type AcmeRouter, json, jws, link, named, type RouteDeps } from "./deps.js";

export function registerAccounts(router: AcmeRouter, deps: RouteDeps): void {
  const { service } = deps;
  const links = service.links;

  router.post("/new-account", named("newAccount"), ...jws(deps, "jwk"), async (ctx) => {
    const v = verified(ctx);
    if (v.postAsGet) throw problems.malformed("newAccount needs a payload");
    const { account, created } = await service.newAccount(v.key, v.payload!, ctx.ip);
    ctx.state.log.account = account.id;
    ctx.set("Location", links.url("account", account.id));
    json(ctx, created ? 201 : 200, accountView(links, account));
  });

  router.post("/acct/:id", named("account"), ...jws(deps, "kid"), async (ctx) => {
    const v = verified(ctx);
    const self = v.account!.account;
    if (ctx.params.id !== self.id) throw problems.unauthorized("the kid does not name this account");
    const account = v.postAsGet ? self : await service.updateAccount(self.id, v.payload!);
    json(ctx, 200, accountView(links, account));
  });

  router.post("/acct/:id/orders", named("accountOrders"), ...jws(deps, "kid"), async (ctx) => {
    const v = verified(ctx);
    const self = v.account!.account;
    if (ctx.params.id !== self.id) throw problems.unauthorized("the kid does not name this account");
    if (!v.postAsGet) throw problems.malformed("the orders list is read with POST-as-GET");
    const cursorRaw = ctx.query.cursor;
    const cursor = typeof cursorRaw === "string" && /^[0-9]{1,15}$/.test(cursorRaw) ? Number(cursorRaw) : undefined;
    const page = await service.accountOrders(self.id, cursor);
    if (page.next !== undefined) link(ctx, `${links.url("accountOrders", self.id)}?cursor=${page.next}`, "next");
    json(ctx, 200, { orders: page.orders });
  });

  router.post("/key-change", named("keyChange"), ...jws(deps, "kid"), async (ctx) => {
    const v = verified(ctx);
    if (v.postAsGet) throw problems.malformed("keyChange needs a payload");
    const account = await service.keyChange(v.account!, v.payload, links.url("keyChange"));
    json(ctx, 200, accountView(links, account));
  });
}
