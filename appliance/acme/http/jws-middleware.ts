// The JWS pipeline of every ACME POST as named Koa middleware in a fixed order: content type →
// size limit → strict flattened-JSON parse → protected header (alg, jwk xor kid, url, nonce) →
// kid lookup or jwk import → signature → POST-as-GET detection. Verified data lands on ctx.state.acme.
import { requireValidAccount } from "../account.js";
import type { CachedAccount } from "../account-keys.js";
import {
  algorithmFitsKey,
  decodePayload,
  importAccountJwk,
  parseFlattenedJws,
  parseProtectedHeader,
  verifyJwsSignature,
} from "../jws.js";
import type { Links } from "../links.js";
import type { NonceService } from "../nonces.js";
import { problems } from "../problems.js";
import type { AcmeContext, AcmeMiddleware } from "./state.js";

export interface JwsDeps {
  links: Links;
  nonces: NonceService;
  accountForKid(id: string): Promise<CachedAccount | undefined>;
  /** request body limit, bytes */
  maxBody: number;
}

/** Which key a route accepts: an existing account (kid), a new key (jwk), or either (revokeCert). */
export type AuthMode = "kid" | "jwk" | "either";

function work(ctx: AcmeContext): NonNullable<AcmeContext["state"]["partial"]> {
  ctx.state.partial ??= {};
  return ctx.state.partial;
}

export function requireJoseContentType(): AcmeMiddleware {
  return async function requireJoseContentType(ctx, next) {
    const ct = (ctx.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (ct !== "application/jose+json")
      throw problems.malformed("Content-Type must be application/jose+json", { status: 415 });
    return next();
  };
}

export function limitBody(max: number): AcmeMiddleware {
  return async function limitBody(ctx, next) {
    ctx.state.raw = await readBody(ctx, max);
    return next();
  };
}

/** Reads the request body, refusing more than `max` bytes (413) before buffering it. */
export async function readBody(ctx: AcmeContext, max: number): Promise<Buffer> {
  const declared = ctx.get("content-length");
  if (declared && Number(declared) > max)
    throw problems.malformed(`the request body is larger than ${max} bytes`, { status: 413 });
  const chunks = await new Promise<Buffer[] | undefined>((resolve, reject) => {
    const got: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) return void got.push(chunk);
      // stop buffering and answer 413; Node discards the rest of the body after the response and
      // closes the connection (destroying the socket here would reset it before the client reads the 413)
      ctx.req.off("data", onData);
      ctx.req.off("end", onEnd);
      resolve(undefined);
    };
    const onEnd = () => resolve(got);
    ctx.req.on("data", onData);
    ctx.req.once("end", onEnd);
    ctx.req.once("error", reject);
  });
  if (!chunks) {
    ctx.set("Connection", "close");
    throw problems.malformed(`the request body is larger than ${max} bytes`, { status: 413 });
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

export function parseJws(): AcmeMiddleware {
  return async function parseJws(ctx, next) {
    work(ctx).jws = parseFlattenedJws(ctx.state.raw ?? Buffer.alloc(0));
    return next();
  };
}

export function checkProtectedHeader(deps: JwsDeps, mode: AuthMode): AcmeMiddleware {
  return async function checkProtectedHeader(ctx, next) {
    const w = work(ctx);
    const header = parseProtectedHeader(w.jws!, deps.links.origin + ctx.originalUrl);
    if (mode === "kid" && header.jwk)
      throw problems.malformed("this resource needs a kid (an existing account), not a jwk");
    if (mode === "jwk" && header.kid) throw problems.malformed("newAccount needs the account key as jwk, not a kid");
    const verdict = deps.nonces.consume(header.nonce!);
    if (verdict !== "ok") throw problems.badNonce(`the nonce is ${verdict === "used" ? "already used" : verdict}`);
    w.header = header;
    return next();
  };
}

export function resolveKey(deps: JwsDeps): AcmeMiddleware {
  return async function resolveKey(ctx, next) {
    const w = work(ctx);
    const header = w.header!;
    if (header.kid !== undefined) {
      const id = deps.links.accountIdFromKid(header.kid);
      if (!id) throw problems.accountDoesNotExist("kid is not an account URL of this server");
      const cached = await deps.accountForKid(id);
      requireValidAccount(cached?.account);
      w.account = cached!;
      w.key = cached!.key;
      ctx.state.log.account = id;
    } else {
      w.key = importAccountJwk(header.jwk!);
    }
    if (!algorithmFitsKey(header.alg, w.key.jwk))
      throw problems.badSignatureAlgorithm(`algorithm ${header.alg} does not fit the ${w.key.jwk.kty} key`);
    return next();
  };
}

export function verifySignature(): AcmeMiddleware {
  return async function verifySignature(ctx, next) {
    const w = work(ctx);
    if (!verifyJwsSignature(w.jws!, w.header!.alg, w.key!)) throw problems.malformed("the JWS signature is invalid");
    return next();
  };
}

export function detectPostAsGet(): AcmeMiddleware {
  return async function detectPostAsGet(ctx, next) {
    const w = work(ctx);
    const payload = decodePayload(w.jws!);
    ctx.state.acme = {
      jws: w.jws!,
      header: w.header!,
      key: w.key!,
      ...(w.account ? { account: w.account } : {}),
      ...(payload ? { payload } : {}),
      postAsGet: payload === undefined,
    };
    return next();
  };
}

/** The whole pipeline for one route, in the fixed order. */
export function jwsPipeline(deps: JwsDeps, mode: AuthMode): AcmeMiddleware[] {
  return [
    requireJoseContentType(),
    limitBody(deps.maxBody),
    parseJws(),
    checkProtectedHeader(deps, mode),
    resolveKey(deps),
    verifySignature(),
    detectPostAsGet(),
  ];
}
