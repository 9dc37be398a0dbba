// newOrder, order reads, finalize and certificate download (RFC 8555 §7.4, §7.4.2).
import { problems } from "../../problems.js";
import type { OrderView } from "../../service/index.js";
import type { AcmeContext } from "../state.js";
import { verified } from "../state.js";
import { orderView } from "../views.js";
import { type AcmeRouter, json, jws, named, type RouteDeps } from "./deps.js";

export function registerOrders(router: AcmeRouter, deps: RouteDeps): void {
  const { service } = deps;
  const links = service.links;

  const answer = (ctx: AcmeContext, status: number, v: OrderView) => {
    ctx.state.log.order = v.order.id;
    if (v.status === "processing") ctx.set("Retry-After", "1");
    json(ctx, status, orderView(links, v));
  };

  router.post("/new-order", named("newOrder"), ...jws(deps, "kid"), async (ctx) => {
    const v = verified(ctx);
    if (v.postAsGet) throw problems.malformed("newOrder needs a payload");
    const view = await service.newOrder(v.account!.account, v.payload!, ctx.ip);
    ctx.set("Location", links.url("order", view.order.id));
    answer(ctx, 201, view);
  });

  router.post("/order/:id", named("order"), ...jws(deps, "kid"), async (ctx) => {
    const v = verified(ctx);
    ctx.state.log.order = ctx.params.id;
    if (!v.postAsGet) throw problems.malformed("orders are read with POST-as-GET");
    answer(ctx, 200, await service.getOrder(v.account!.account.id, ctx.params.id!));
  });

  router.post("/order/:id/finalize", named("finalize"), ...jws(deps, "kid"), async (ctx) => {
    const v = verified(ctx);
    ctx.state.log.order = ctx.params.id;
    if (v.postAsGet) throw problems.malformed("finalize needs a payload with the CSR");
    const view = await service.finalize(v.account!.account.id, ctx.params.id!, v.payload!);
    ctx.set("Location", links.url("order", view.order.id));
    answer(ctx, 200, view);
  });

  router.post("/cert/:id", named("certificate"), ...jws(deps, "kid"), async (ctx) => {
    const v = verified(ctx);
    if (!v.postAsGet) throw problems.malformed("certificates are downloaded with POST-as-GET");
    const accept = ctx.get("accept");
    if (accept && !/application\/pem-certificate-chain|\*\/\*|application\/\*/.test(accept))
      throw problems.malformed("the certificate is available as application/pem-certificate-chain only", {
        status: 406,
      });
    const pem = await service.certificateChain(v.account!.account.id, ctx.params.id!);
    ctx.status = 200;
    ctx.type = "application/pem-certificate-chain";
    ctx.body = pem;
  });
}
