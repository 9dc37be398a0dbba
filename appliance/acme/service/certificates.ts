// Certificate resources: download as application/pem-certificate-chain (RFC 8555 §7.4.2),
// revokeCert by the owning account or by the certificate's key (§7.6), renewalInfo (RFC 9773).
import * as authzRepo from "../../store/acme/authorizations.js";
import type { Account } from "../account.js";
import { parseCertificate, toPem } from "../certificate.js";
import { authorizationIdentifier } from "../identifier.js";
import type { ImportedKey } from "../jws.js";
import { problems } from "../problems.js";
import { parseCertId, type SuggestedWindow, suggestedWindow } from "../renewal-info.js";
import type { ServiceContext } from "./context.js";

/** The PEM chain (leaf, then the issuing CA chain) of a certificate the account ordered. */
export async function certificateChain(ctx: ServiceContext, accountId: string, serial: string): Promise<string> {
  const order = await ctx.cache.orderBySerial(ctx.db, serial);
  if (!order) throw problems.malformed("no such certificate", { status: 404 });
  if (order.accountId !== accountId) throw problems.unauthorized("the certificate belongs to another account");
  // a certificate's DER never changes once it is recorded as issued: the one finalize just got from
  // the CA needs no store read
  const der = ctx.cache.issued(serial) ?? (await ctx.ca.getCertificate(serial))?.der;
  if (!der) throw problems.malformed("no such certificate", { status: 404 });
  return toPem(der) + ctx.ca.issuerChainPem();
}

/** RFC 5280 reason codes a subscriber may ask for (not cACompromise, certificateHold, removeFromCRL, aACompromise). */
export const ALLOWED_REASONS = new Set([0, 1, 3, 4, 5, 9]);

export type RevokeAuth = { kind: "account"; account: Account } | { kind: "certificateKey"; key: ImportedKey };

export async function revokeCertificate(
  ctx: ServiceContext,
  auth: RevokeAuth,
  payload: Record<string, unknown>,
): Promise<void> {
  if (typeof payload.certificate !== "string" || !/^[A-Za-z0-9_-]+$/.test(payload.certificate))
    throw problems.malformed("certificate must be base64url-encoded DER");
  const reason = payload.reason ?? 0;
  if (typeof reason !== "number" || !Number.isInteger(reason) || !ALLOWED_REASONS.has(reason))
    throw problems.badRevocationReason(`reason must be one of ${[...ALLOWED_REASONS].join(", ")}`);
  const der = Buffer.from(payload.certificate, "base64url");
  const parsed = parseCertificate(der);
  const stored = await ctx.ca.getCertificate(parsed.serialHex);
  if (!stored?.der.equals(der)) throw problems.malformed("this CA did not issue that certificate", { status: 404 });

  if (auth.kind === "certificateKey") {
    const spki = auth.key.key.export({ type: "spki", format: "der" });
    if (!spki.equals(parsed.spki)) throw problems.unauthorized("the JWS was not signed by the certificate's key");
  } else if (stored.accountId !== auth.account.id) {
    // RFC 8555 §7.6: an account holding valid authorizations for every identifier may also revoke
    const now = ctx.now().getTime();
    let authorised = parsed.identifiers.length > 0;
    for (const id of parsed.identifiers) {
      const { identifier, wildcard } = authorizationIdentifier(id);
      if (!(await authzRepo.findReusableAuthorization(ctx.db, auth.account.id, identifier, wildcard, now))) {
        authorised = false;
        break;
      }
    }
    if (!authorised)
      throw problems.unauthorized("the account neither owns the certificate nor holds authorizations for it");
  }
  if (stored.revocation.status === "revoked") throw problems.alreadyRevoked();
  await ctx.ca.revoke(parsed.serialHex, reason, {
    ...(auth.kind === "account" ? { accountId: auth.account.id } : { byCertificateKey: true }),
  });
  ctx.events.revoked();
}

export interface RenewalInfo {
  suggestedWindow: { start: string; end: string };
  retryAfter: number;
}

/** RFC 9773 §4.2 (unauthenticated GET). */
export async function renewalInfo(ctx: ServiceContext, certId: string): Promise<RenewalInfo> {
  const id = parseCertId(certId);
  const cert = await ctx.ca.getCertificate(id.serialHex);
  if (!cert?.authorityKeyId.equals(id.authorityKeyId))
    throw problems.malformed("no certificate with that ID", { status: 404 });
  const w: SuggestedWindow = suggestedWindow(
    {
      serialHex: id.serialHex,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      revoked: cert.revocation.status === "revoked",
    },
    ctx.now(),
  );
  return {
    suggestedWindow: { start: w.start.toISOString(), end: w.end.toISOString() },
    retryAfter: ctx.config.renewalInfoRetryAfterSeconds,
  };
}
