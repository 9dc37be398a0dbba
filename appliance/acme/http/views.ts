// The JSON representations of ACME resources (RFC 8555 §7.1): built from domain records and the
// status at read time, with every URL from Links.
import type { ProfileSummary } from "../../ca/api.js";
import type { Account } from "../account.js";
import type { Challenge } from "../challenge.js";
import type { Links } from "../links.js";
import type { AuthorizationView, OrderView } from "../service/index.js";

export function directoryView(
  links: Links,
  meta: { eabRequired: boolean; termsOfService?: string; website?: string; profiles: ProfileSummary[] },
) {
  return {
    newNonce: links.url("newNonce"),
    newAccount: links.url("newAccount"),
    newOrder: links.url("newOrder"),
    revokeCert: links.url("revokeCert"),
    keyChange: links.url("keyChange"),
    renewalInfo: links.url("renewalInfo"),
    meta: {
      ...(meta.termsOfService ? { termsOfService: meta.termsOfService } : {}),
      ...(meta.website ? { website: meta.website } : {}),
      externalAccountRequired: meta.eabRequired,
      profiles: Object.fromEntries(meta.profiles.map((p) => [p.name, p.description])),
    },
  };
}

export function accountView(links: Links, a: Account) {
  return {
    status: a.status,
    contact: a.contact,
    termsOfServiceAgreed: a.termsOfServiceAgreed,
    orders: links.url("accountOrders", a.id),
  };
}

export function orderView(links: Links, v: OrderView) {
  const o = v.order;
  return {
    status: v.status,
    expires: o.expires.toISOString(),
    identifiers: o.identifiers,
    ...(o.notBefore ? { notBefore: o.notBefore.toISOString() } : {}),
    ...(o.notAfter ? { notAfter: o.notAfter.toISOString() } : {}),
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.replaces ? { replaces: o.replaces } : {}),
    ...(v.status === "invalid" && o.error ? { error: o.error } : {}),
    authorizations: o.authorizationIds.map((id) => links.url("authorization", id)),
    finalize: links.url("finalize", o.id),
    ...(v.status === "valid" && o.certificateSerial
      ? { certificate: links.url("certificate", o.certificateSerial) }
      : {}),
  };
}

export function challengeView(links: Links, c: Challenge) {
  return {
    type: c.type,
    url: links.url("challenge", c.id),
    status: c.status,
    token: c.token,
    ...(c.validated ? { validated: c.validated.toISOString() } : {}),
    ...(c.error ? { error: c.error } : {}),
    ...(c.validationRecord?.length ? { validationRecord: c.validationRecord } : {}),
  };
}

export function authorizationView(links: Links, v: AuthorizationView) {
  const a = v.authz;
  return {
    identifier: a.identifier,
    status: v.status,
    expires: a.expires.toISOString(),
    // RFC 8555 §7.1.4: once final, only the challenge that decided it
    challenges: (v.status === "pending" ? v.challenges : v.challenges.filter((c) => c.status !== "pending")).map((c) =>
      challengeView(links, c),
    ),
    ...(a.wildcard ? { wildcard: true } : {}),
  };
}
