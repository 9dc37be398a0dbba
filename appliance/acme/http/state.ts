// The typed state Koa middleware of the ACME server passes along (`ctx.state`), and the context type.
import type { ParameterizedContext } from "koa";
import type { CachedAccount } from "../account-keys.js";
import type { FlattenedJws, ImportedKey, ProtectedHeader } from "../jws.js";

export interface VerifiedJws {
  jws: FlattenedJws;
  header: ProtectedHeader;
  /** the key the signature verified with (the account's, or the jwk of the header) */
  key: ImportedKey;
  /** set when authenticated by kid */
  account?: CachedAccount;
  /** decoded payload; undefined for POST-as-GET */
  payload?: Record<string, unknown>;
  postAsGet: boolean;
}

/** What the request log line records besides method, path, status and latency. */
export interface RequestLog {
  account?: string;
  order?: string;
  problem?: string;
}

export interface AcmeState {
  raw?: Buffer;
  /** filled step by step by the JWS pipeline */
  partial?: Partial<Pick<VerifiedJws, "jws" | "header" | "key" | "account">>;
  /** the verified request, set by the last step of the JWS pipeline */
  acme?: VerifiedJws;
  log: RequestLog;
  /** route name for metrics (set by each route) */
  route?: string;
}

/** The Koa context of an ACME request; `params` holds the route's path parameters (`:id`). */
export type AcmeContext = ParameterizedContext<AcmeState> & { params: Record<string, string | undefined> };
export type AcmeMiddleware = (ctx: AcmeContext, next: () => Promise<unknown>) => Promise<unknown>;

/** The verified JWS of this request (the route ran the JWS pipeline). */
export function verified(ctx: AcmeContext): VerifiedJws {
  if (!ctx.state.acme) throw new Error("route without JWS pipeline");
  return ctx.state.acme;
}
