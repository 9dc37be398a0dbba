// appliance/acme/{order,authorization,challenge,account}.ts: RFC 8555 §7.1.6 transitions with expiry.
import { describe, expect, it } from "vitest";
import { deactivateAccount, parseContacts, requireValidAccount } from "../../../appliance/acme/account.js";
import {
  type Authorization,
  authorizationStatusAt,
  deactivateAuthorization,
  onChallengeFinished,
  reusable,
} from "../../../appliance/acme/authorization.js";
import {
  type Challenge,
  challengeTypesFor,
  completeValidation,
  requestValidation,
} from "../../../appliance/acme/challenge.js";
import {
  beginFinalize,
  checkRequestedValidity,
  completeFinalize,
  failFinalize,
  type Order,
  orderStatusAt,
} from "../../../appliance/acme/order.js";
import { isAcmeProblem } from "../../../appliance/acme/problems.js";

const T0 = new Date("2026-01-01T00:00:00Z");
const at = (s: number) => new Date(T0.getTime() + s * 1000);

function type(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isAcmeProblem(e)) return e.type;
    throw e;
  }
  return undefined;
}

const authz: Authorization = {
  id: "a1",
  accountId: "acc",
  identifier: { type: "dns", value: "x.localhost" },
  wildcard: false,
  status: "pending",
  expires: at(100),
  preAuthorized: false,
  challenges: [],
};

describe("authorization", () => {
  it("pending → valid with a fresh lifetime, or → invalid", () => {
    const v = onChallengeFinished(authz, "valid", at(10), 1000_000);
    expect(v.status).toBe("valid");
    expect(v.expires).toEqual(at(1010));
    expect(onChallengeFinished(authz, "invalid", at(10), 1000).status).toBe("invalid");
    expect(onChallengeFinished(authz, "processing", at(10), 1000)).toBe(authz);
  });
  it("pending and valid expire; final states do not change", () => {
    expect(authorizationStatusAt(authz, at(99))).toBe("pending");
    expect(authorizationStatusAt(authz, at(100))).toBe("expired");
    expect(authorizationStatusAt({ ...authz, status: "valid" }, at(100))).toBe("expired");
    expect(authorizationStatusAt({ ...authz, status: "invalid" }, at(100))).toBe("invalid");
    expect(onChallengeFinished(authz, "valid", at(100), 1000)).toBe(authz);
  });
  it("deactivation only from pending or valid", () => {
    expect(deactivateAuthorization(authz, at(1)).status).toBe("deactivated");
    expect(type(() => deactivateAuthorization({ ...authz, status: "invalid" }, at(1)))).toBe("malformed");
    expect(type(() => deactivateAuthorization(authz, at(101)))).toBe("malformed");
  });
  it("reuse only for the same account, valid, outliving the order", () => {
    const valid = { ...authz, status: "valid" as const };
    expect(reusable(valid, "acc", at(50), at(1))).toBe(true);
    expect(reusable(valid, "other", at(50), at(1))).toBe(false);
    expect(reusable(valid, "acc", at(150), at(1))).toBe(false);
    expect(reusable(authz, "acc", at(50), at(1))).toBe(false);
  });
});

describe("challenge", () => {
  const ch: Challenge = { id: "c", authorizationId: "a1", type: "http-01", token: "t", status: "pending" };
  it("pending → processing only while the authorization is pending; repeats are idempotent", () => {
    const r = requestValidation(ch, "pending");
    expect(r).toEqual({ next: { ...ch, status: "processing" }, start: true });
    expect(requestValidation(r.next, "pending")).toEqual({ next: r.next, start: false });
    expect(type(() => requestValidation(ch, "expired"))).toBe("malformed");
  });
  it("processing → valid | invalid with the validator's problem", () => {
    const p = { ...ch, status: "processing" as const };
    expect(completeValidation(p, { ok: true, records: [{ url: "http://x/" }] }, at(5))).toMatchObject({
      status: "valid",
      validated: at(5),
    });
    const bad = completeValidation(
      p,
      { ok: false, records: [], problem: { type: "connection", detail: "refused" } },
      at(5),
    );
    expect(bad.status).toBe("invalid");
    expect(bad.error).toEqual({ type: "urn:ietf:params:acme:error:connection", detail: "refused", status: 400 });
  });
  it("offers dns-01 only for wildcards and no dns-01 for IP addresses", () => {
    const all = ["http-01", "dns-01", "tls-alpn-01"] as const;
    expect(challengeTypesFor({ type: "dns", value: "x" }, true, all)).toEqual(["dns-01"]);
    expect(challengeTypesFor({ type: "ip", value: "127.0.0.1" }, false, all)).toEqual(["http-01", "tls-alpn-01"]);
    expect(challengeTypesFor({ type: "dns", value: "x" }, false, ["http-01"])).toEqual(["http-01"]);
  });
});

describe("order", () => {
  const order: Order = {
    id: "o",
    accountId: "acc",
    status: "pending",
    expires: at(100),
    identifiers: [{ type: "dns", value: "x.localhost" }],
    authorizationIds: ["a1", "a2"],
    createdAt: T0,
  };
  it("derives pending/ready/invalid from its authorizations and expires", () => {
    expect(orderStatusAt(order, ["pending", "valid"], at(1))).toBe("pending");
    expect(orderStatusAt(order, ["valid", "valid"], at(1))).toBe("ready");
    for (const s of ["invalid", "deactivated", "expired", "revoked"] as const)
      expect(orderStatusAt(order, ["valid", s], at(1))).toBe("invalid");
    expect(orderStatusAt(order, ["valid", "valid"], at(100))).toBe("invalid");
    expect(orderStatusAt({ ...order, status: "processing" }, [], at(500))).toBe("processing");
    expect(orderStatusAt({ ...order, status: "valid" }, ["expired"], at(500))).toBe("valid");
  });
  it("finalize: ready → processing → valid | invalid; anything else is orderNotReady", () => {
    const p = beginFinalize(order, "ready");
    expect(p.status).toBe("processing");
    expect(completeFinalize(p, "0a")).toMatchObject({ status: "valid", certificateSerial: "0a" });
    expect(failFinalize(p, { type: "x", detail: "y", status: 400 }).status).toBe("invalid");
    for (const s of ["pending", "processing", "valid", "invalid"] as const)
      expect(type(() => beginFinalize(order, s))).toBe("orderNotReady");
  });
  it("checks notBefore/notAfter against the profile", () => {
    const pol = { maxValidityMs: 86400_000, maxBackdateMs: 3600_000, maxFutureStartMs: 3600_000 };
    expect(type(() => checkRequestedValidity(undefined, at(3600), pol, T0))).toBeUndefined();
    expect(type(() => checkRequestedValidity(at(-1800), at(3600), pol, T0))).toBeUndefined();
    expect(type(() => checkRequestedValidity(undefined, at(86401), pol, T0))).toBe("malformed");
    expect(type(() => checkRequestedValidity(at(-7200), undefined, pol, T0))).toBe("malformed");
    expect(type(() => checkRequestedValidity(at(7200), undefined, pol, T0))).toBe("malformed");
    expect(type(() => checkRequestedValidity(at(10), at(5), pol, T0))).toBe("malformed");
  });
});

describe("account", () => {
  it("contacts: mailto only, one plain address each", () => {
    expect(parseContacts(undefined)).toEqual([]);
    expect(parseContacts(["mailto:ot-admin@plant.example"])).toEqual(["mailto:ot-admin@plant.example"]);
    expect(type(() => parseContacts(["tel:+4912345"]))).toBe("unsupportedContact");
    expect(type(() => parseContacts(["mailto:a@b.example?subject=x"]))).toBe("invalidContact");
    expect(type(() => parseContacts(["mailto:a@b.example,c@d.example"]))).toBe("invalidContact");
    expect(type(() => parseContacts(["mailto:not-an-address"]))).toBe("invalidContact");
    expect(type(() => parseContacts("mailto:a@b.example"))).toBe("malformed");
  });
  it("a deactivated account cannot act and stays deactivated", () => {
    const a = {
      id: "a",
      status: "valid" as const,
      contact: [],
      termsOfServiceAgreed: true,
      thumbprint: "t",
      jwk: {},
      createdAt: T0,
    };
    const d = deactivateAccount(a);
    expect(d.status).toBe("deactivated");
    expect(type(() => requireValidAccount(d))).toBe("unauthorized");
    expect(type(() => deactivateAccount(d))).toBe("unauthorized");
    expect(type(() => requireValidAccount(undefined))).toBe("accountDoesNotExist");
  });
});
