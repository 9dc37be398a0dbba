// revokeCert (RFC 8555 §7.6) by account (kid) or by the certificate's key (jwk), and
// renewalInfo (RFC 9773 §4.2, unauthenticated GET).
import { problems } from "../../problems.js";
import { verified } from "../state.js";
import { type AcmeRouter, json, jws, named, type RouteDeps } from "./deps.js";

export function registerRevocation(router: AcmeRouter, deps: RouteDeps): void {
  const { service } = deps;

  router.post("/revoke-cert", named("revokeCert"), ...jws(deps, "either"), async (ctx) => {
    const v = verified(ctx);
    if (v.postAsGet) throw problems.malformed("revokeCert needs a payload");
    await service.revoke(
      v.account ? { kind: "account", account: v.account.account } : { kind: "certificateKey", key: v.key },
      v.payload!,
    );
    ctx.status = 200;
    ctx.body = "";
  });

  router.get("/renewal-info/:id", named("renewalInfo"), async (ctx) => {
    const info = await service.renewalInfo(ctx.params.id!);
    ctx.set("Retry-After", String(info.retryAfter));
    json(ctx, 200, { suggestedWindow: info.suggestedWindow });
  });
}
