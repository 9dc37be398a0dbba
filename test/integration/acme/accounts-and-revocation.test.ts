// Accounts (EAB, onlyReturnExisting, contact update, key rollover), private-trust pre-authorised
// identifiers, revocation (by account, by certificate key, reasons), renewalInfo and `replaces`.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatCertId } from "../../../appliance/acme/renewal-info.js";
import { createEab } from "../../../appliance/acme/service/eab.js";
import { buildCsr } from "../../../appliance/csr-builder.js";
import { type Harness, startHarness } from "../../helpers/acme-harness.js";
import {
  type AccountKey,
  newAccountKey,
  RawAccount,
  RawAcmeClient,
  type RawResponse,
  signWith,
  thumbprint,
} from "../../helpers/acme-raw-client.js";

let h: Harness;
let c: RawAcmeClient;

beforeAll(async () => {
  h = await startHarness({ acme: { eabRequired: true } });
  c = await new RawAcmeClient(h.directoryUrl, h.rootPem).init();
  c.publish = h.responder.publish;
});
afterAll(async () => {
  c?.close();
  await h?.close();
});

function expectProblem(r: RawResponse, type: string, status: number): Record<string, unknown> {
  expect({ status: r.status, type: r.json().type, detail: r.json().detail }).toMatchObject({
    status,
    type: `urn:ietf:params:acme:error:${type}`,
  });
  return r.json();
}

async function eabAccount(opts: { identifiers?: string[] } = {}): Promise<RawAccount> {
  const cred = await createEab(h.db, { label: "test", ...opts });
  const key = newAccountKey();
  const url = await c.register(key, {
    termsOfServiceAgreed: true,
    externalAccountBinding: c.eab(key, cred.kid, cred.hmacKey),
  });
  return new RawAccount(c, key, url);
}

async function issue(
  a: RawAccount,
  ids: Array<{ type: "dns" | "ip"; value: string }>,
  extra: Record<string, unknown> = {},
) {
  const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const order = await a.newOrder(ids, extra);
  await a.validate(order);
  const fin = await a.finalize(order, await buildCsr(ids, keys));
  expect(fin.status).toBe(200);
  const o = await a.settled(order.url);
  const pem = (await a.post(o.certificate as string, "")).body;
  const leaf = new X509Certificate(pem.split(/(?<=-----END CERTIFICATE-----)/)[0]!);
  return { order, pem, leaf, der: leaf.raw, keys };
}

describe("newAccount", () => {
  it("requires EAB when configured, and says so in the directory", async () => {
    expect(c.dir.meta).toMatchObject({ externalAccountRequired: true });
    const key = newAccountKey();
    expectProblem(
      await c.post(c.dir.newAccount!, { termsOfServiceAgreed: true }, { key }),
      "externalAccountRequired",
      400,
    );
  });

  it("binds with EAB once; the credential cannot bind a second account; revoked credentials are refused", async () => {
    const cred = await createEab(h.db, { label: "plc line 3" });
    const k1 = newAccountKey("Ed25519");
    const r = await c.post(
      c.dir.newAccount!,
      { termsOfServiceAgreed: true, externalAccountBinding: c.eab(k1, cred.kid, cred.hmacKey) },
      { key: k1 },
    );
    expect(r.status).toBe(201);
    expect(r.json()).toMatchObject({ status: "valid", termsOfServiceAgreed: true });
    const k2 = newAccountKey();
    expectProblem(
      await c.post(c.dir.newAccount!, { externalAccountBinding: c.eab(k2, cred.kid, cred.hmacKey) }, { key: k2 }),
      "unauthorized",
      403,
    );
    const wrongMac = await createEab(h.db, { label: "x" });
    expectProblem(
      await c.post(c.dir.newAccount!, { externalAccountBinding: c.eab(k2, wrongMac.kid, cred.hmacKey) }, { key: k2 }),
      "unauthorized",
      403,
    );
    const { revokeEab } = await import("../../../appliance/acme/service/eab.js");
    const revoked = await createEab(h.db, { label: "y" });
    await revokeEab(h.db, revoked.kid);
    expectProblem(
      await c.post(c.dir.newAccount!, { externalAccountBinding: c.eab(k2, revoked.kid, revoked.hmacKey) }, { key: k2 }),
      "unauthorized",
      403,
    );
    // the EAB payload must be this account's key
    const k3 = newAccountKey();
    const fresh = await createEab(h.db, { label: "z" });
    expectProblem(
      await c.post(c.dir.newAccount!, { externalAccountBinding: c.eab(k2, fresh.kid, fresh.hmacKey) }, { key: k3 }),
      "unauthorized",
      403,
    );
  });

  it("returns the existing account for a known key, and onlyReturnExisting never creates one", async () => {
    const a = await eabAccount();
    const again = await c.post(c.dir.newAccount!, { termsOfServiceAgreed: true }, { key: a.key });
    expect(again.status).toBe(200);
    expect(again.headers.location).toBe(a.url);
    const only = await c.post(c.dir.newAccount!, { onlyReturnExisting: true }, { key: a.key });
    expect(only.status).toBe(200);
    expectProblem(
      await c.post(c.dir.newAccount!, { onlyReturnExisting: true }, { key: newAccountKey() }),
      "accountDoesNotExist",
      400,
    );
  });

  it("a deactivated account's key gets unauthorized from newAccount (onlyReturnExisting too); its pending work is cancelled", async () => {
    const a = await eabAccount();
    const bystander = await eabAccount();
    const pending = await a.newOrder([{ type: "dns", value: "deact-acct1.localhost" }]);
    const ready = await a.newOrder([{ type: "dns", value: "deact-acct2.localhost" }]);
    await a.validate(ready);
    expect((await a.post(ready.url, "")).json().status).toBe("ready");
    const others = await bystander.newOrder([{ type: "dns", value: "deact-acct1.localhost" }]);

    const d = await a.post(a.url, { status: "deactivated" });
    expect(d.status).toBe(200);
    expect(d.json().status).toBe("deactivated");
    expectProblem(await c.post(c.dir.newAccount!, { termsOfServiceAgreed: true }, { key: a.key }), "unauthorized", 403);
    expectProblem(await c.post(c.dir.newAccount!, { onlyReturnExisting: true }, { key: a.key }), "unauthorized", 403);
    expectProblem(await a.post(pending.url, ""), "unauthorized", 403);

    const idOf = (url: string) => url.split("/").pop()!;
    const orderRow = (url: string) =>
      h.db.get<{ status: string; error: string | null }>("SELECT status, error FROM acme_orders WHERE id = ?", [
        idOf(url),
      ]);
    const authzStatus = async (url: string) =>
      (await h.db.get<{ status: string }>("SELECT status FROM acme_authorizations WHERE id = ?", [idOf(url)]))!.status;
    for (const o of [pending, ready]) {
      const row = await orderRow(o.url);
      expect(row?.status).toBe("invalid");
      expect(JSON.parse(row!.error!)).toMatchObject({ type: "urn:ietf:params:acme:error:unauthorized" });
    }
    expect(await authzStatus(pending.body.authorizations[0]!)).toBe("deactivated");
    // a valid authorization is not a pending operation: it stays (and no one else may use it)
    expect(await authzStatus(ready.body.authorizations[0]!)).toBe("valid");
    // another account's order for the same name is untouched
    expect((await bystander.post(others.url, "")).json().status).toBe("pending");
    expect(await authzStatus(others.body.authorizations[0]!)).toBe("pending");
  });

  it("updates contacts and refuses unsupported ones", async () => {
    const a = await eabAccount();
    const r = await a.post(a.url, { contact: ["mailto:ot-it@plant.example"] });
    expect(r.json().contact).toEqual(["mailto:ot-it@plant.example"]);
    expectProblem(await a.post(a.url, { contact: ["tel:+49"] }), "unsupportedContact", 400);
    expectProblem(await a.post(a.url, { status: "valid" }), "malformed", 400);
  });
});

describe("keyChange", () => {
  async function rollover(
    a: RawAccount,
    next: AccountKey,
    opts: { oldKey?: Record<string, string>; account?: string } = {},
  ) {
    const url = c.dir.keyChange!;
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const p = b64({ alg: next.alg, jwk: next.jwk, url });
    const pl = b64({ account: opts.account ?? a.url, oldKey: opts.oldKey ?? a.key.jwk });
    const inner = { protected: p, payload: pl, signature: signWith(next, `${p}.${pl}`) };
    return a.post(url, inner);
  }

  it("rolls the account over to a new key; the old key stops working", async () => {
    const a = await eabAccount();
    const next = newAccountKey("RSA");
    expectProblem(await rollover(a, next, { oldKey: newAccountKey().jwk }), "unauthorized", 403);
    const r = await rollover(a, next);
    expect(r.status).toBe(200);
    // the old ES256 key no longer fits the account's (RSA) key
    expectProblem(
      await a.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: "k.localhost" }] }),
      "badSignatureAlgorithm",
      400,
    );
    const rolled = new RawAccount(c, next, a.url);
    expect((await rolled.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: "k.localhost" }] })).status).toBe(
      201,
    );
  });

  it("refuses a key another account uses with 409 and that account's URL", async () => {
    const a = await eabAccount();
    const b = await eabAccount();
    const r = await rollover(a, b.key);
    expectProblem(r, "malformed", 409);
    expect(r.headers.location).toBe(b.url);
  });
});

describe("private trust: pre-authorised identifiers", () => {
  it("orders for identifiers the EAB credential pre-authorised need no challenge; others still do", async () => {
    const a = await eabAccount({ identifiers: ["*.line3.localhost", "127.0.0.0/24"] });
    const calls = h.responder.requests;
    const pre = await a.newOrder([
      { type: "dns", value: "plc1.line3.localhost" },
      { type: "ip", value: "127.0.0.9" },
    ]);
    expect(pre.body.status).toBe("ready");
    const z = (await a.post(pre.body.authorizations[0]!, "")).json();
    expect(z.status).toBe("valid");
    const fin = await a.finalize(
      pre,
      await buildCsr(
        [
          { type: "dns", value: "plc1.line3.localhost" },
          { type: "ip", value: "127.0.0.9" },
        ],
        generateKeyPairSync("ec", { namedCurve: "P-256" }),
      ),
    );
    expect(fin.json().status).toBe("valid");
    expect(h.responder.requests).toBe(calls);
    const other = await a.newOrder([{ type: "dns", value: "plc1.line4.localhost" }]);
    expect(other.body.status).toBe("pending");
  });
});

describe("revocation", () => {
  it("by the owning account with a reason; twice is alreadyRevoked; bad reasons are refused", async () => {
    const a = await eabAccount();
    const { der, leaf } = await issue(a, [{ type: "dns", value: "rev1.localhost" }]);
    const serial = leaf.serialNumber.toLowerCase();
    const certificate = der.toString("base64url");
    expectProblem(await a.post(c.dir.revokeCert!, { certificate, reason: 2 }), "badRevocationReason", 400);
    expectProblem(await a.post(c.dir.revokeCert!, { certificate, reason: 7 }), "badRevocationReason", 400);
    const r = await a.post(c.dir.revokeCert!, { certificate, reason: 1 });
    expect(r.status).toBe(200);
    expect(await h.ca.status(serial)).toMatchObject({ status: "revoked", reason: 1 });
    const audit = await h.db.get<{ actor: string }>(
      "SELECT actor FROM audit_log WHERE type = 'certificate.revoked' AND subject = ?",
      [`certificate:${serial}`],
    );
    expect(audit?.actor).toBe(`acme:account/${a.url.split("/").pop()}`);
    expectProblem(await a.post(c.dir.revokeCert!, { certificate }), "alreadyRevoked", 400);
  });

  it("by the certificate's own key (jwk), and not by any other key", async () => {
    const a = await eabAccount();
    const { der, keys, leaf } = await issue(a, [{ type: "dns", value: "rev2.localhost" }]);
    const certificate = der.toString("base64url");
    const stranger = newAccountKey();
    expectProblem(await c.post(c.dir.revokeCert!, { certificate }, { key: stranger }), "unauthorized", 403);
    const full = keys.publicKey.export({ format: "jwk" }) as Record<string, string>;
    const certKey: AccountKey = {
      priv: keys.privateKey,
      jwk: { kty: "EC", crv: full.crv!, x: full.x!, y: full.y! },
      alg: "ES256",
    };
    const r = await c.post(c.dir.revokeCert!, { certificate, reason: 1 }, { key: certKey });
    expect(r.status).toBe(200);
    expect(await h.ca.status(leaf.serialNumber.toLowerCase())).toMatchObject({ status: "revoked", reason: 1 });
  });

  it("a certificate this CA did not issue is refused", async () => {
    const a = await eabAccount();
    const dir = mkdtempSync(join(tmpdir(), "foreign-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        join(dir, "k.pem"),
        "-out",
        join(dir, "c.der"),
        "-outform",
        "DER",
        "-days",
        "1",
        "-subj",
        "/CN=x.localhost",
        "-addext",
        "subjectAltName=DNS:x.localhost",
      ],
      { stdio: "pipe" },
    );
    const foreign = readFileSync(join(dir, "c.der"));
    expectProblem(await a.post(c.dir.revokeCert!, { certificate: foreign.toString("base64url") }), "malformed", 404);
  });
});

describe("revocation by another account (RFC 8555 §7.6)", () => {
  it("an account holding valid authorizations for every name may revoke; one holding them for some names may not", async () => {
    const owner = await eabAccount();
    const ids = [
      { type: "dns" as const, value: "rv-a.localhost" },
      { type: "ip" as const, value: "127.0.0.1" },
    ];
    const { der, leaf } = await issue(owner, ids);
    const serial = leaf.serialNumber.toLowerCase();
    const certificate = der.toString("base64url");

    // no authorizations at all
    const stranger = await eabAccount();
    expectProblem(await stranger.post(c.dir.revokeCert!, { certificate, reason: 4 }), "unauthorized", 403);
    // a valid authorization for one of the two names is not enough
    const partial = await eabAccount();
    const one = await partial.newOrder([ids[0]!]);
    await partial.validate(one);
    expect((await partial.post(one.body.authorizations[0]!, "")).json().status).toBe("valid");
    expectProblem(await partial.post(c.dir.revokeCert!, { certificate, reason: 4 }), "unauthorized", 403);
    // a pending (not yet valid) authorization for the other name does not count either
    await partial.newOrder(ids);
    expectProblem(await partial.post(c.dir.revokeCert!, { certificate, reason: 4 }), "unauthorized", 403);
    expect(await h.ca.status(serial)).toMatchObject({ status: "good" });

    // valid authorizations for both names (no certificate of its own): revocation succeeds
    const holder = await eabAccount();
    const both = await holder.newOrder(ids);
    await holder.validate(both);
    const r = await holder.post(c.dir.revokeCert!, { certificate, reason: 4 });
    expect(r.status).toBe(200);
    expect(await h.ca.status(serial)).toMatchObject({ status: "revoked", reason: 4 });
    const audit = await h.db.get<{ actor: string }>(
      "SELECT actor FROM audit_log WHERE type = 'certificate.revoked' AND subject = ?",
      [`certificate:${serial}`],
    );
    expect(audit?.actor).toBe(`acme:account/${holder.url.split("/").pop()}`);
    expectProblem(await owner.post(c.dir.revokeCert!, { certificate }), "alreadyRevoked", 400);
  });
});

describe("authorization deactivation (RFC 8555 §7.5.2)", () => {
  it("the owner deactivates a pending authorization: it is deactivated, its order invalid, and it stays so", async () => {
    const a = await eabAccount();
    const order = await a.newOrder([{ type: "dns", value: "deact1.localhost" }]);
    const authzUrl = order.body.authorizations[0]!;
    const ch = ((await a.post(authzUrl, "")).json().challenges as Array<{ url: string }>)[0]!;
    const r = await a.post(authzUrl, { status: "deactivated" });
    expect(r.status).toBe(200);
    expect(r.json().status).toBe("deactivated");
    expect((await a.post(authzUrl, "")).json().status).toBe("deactivated");
    const o = (await a.post(order.url, "")).json();
    expect(o.status).toBe("invalid");
    expect(o.error).toMatchObject({ type: "urn:ietf:params:acme:error:unauthorized" });
    // a second deactivation is refused, and so is answering its challenge
    expectProblem(await a.post(authzUrl, { status: "deactivated" }), "malformed", 403);
    const requests = h.responder.requests;
    const answered = await a.post(ch.url, {});
    expect(answered.status).toBe(403);
    expect(answered.json().type).toMatch(/^urn:ietf:params:acme:error:/);
    expect(h.responder.requests).toBe(requests); // nothing was validated
    expect((await a.post(authzUrl, "")).json().status).toBe("deactivated");
    // only "deactivated" may be asked for
    const other = await a.newOrder([{ type: "dns", value: "deact2.localhost" }]);
    expectProblem(await a.post(other.body.authorizations[0]!, { status: "valid" }), "malformed", 400);
  });

  it("deactivating a valid authorization makes its ready order invalid and it is not reused", async () => {
    const a = await eabAccount();
    const ids = [{ type: "dns" as const, value: "deact3.localhost" }];
    const order = await a.newOrder(ids);
    await a.validate(order);
    expect((await a.post(order.url, "")).json().status).toBe("ready");
    const authzUrl = order.body.authorizations[0]!;
    expect((await a.post(authzUrl, { status: "deactivated" })).json().status).toBe("deactivated");
    expect((await a.post(order.url, "")).json().status).toBe("invalid");
    expectProblem(
      await a.finalize(order, await buildCsr(ids, generateKeyPairSync("ec", { namedCurve: "P-256" }))),
      "orderNotReady",
      403,
    );
    const next = await a.newOrder(ids);
    expect(next.body.status).toBe("pending");
    expect(next.body.authorizations[0]).not.toBe(authzUrl);
  });
});

describe("resource headers", () => {
  it('challenge responses carry Link: <authorization>;rel="up"; certificates are application/pem-certificate-chain', async () => {
    const a = await eabAccount();
    const ids = [{ type: "dns" as const, value: "headers.localhost" }];
    const order = await a.newOrder(ids);
    const authzUrl = order.body.authorizations[0]!;
    const authz = (await a.post(authzUrl, "")).json() as { challenges: Array<{ url: string; token: string }> };
    const up = `<${authzUrl}>;rel="up"`;
    for (const ch of authz.challenges) {
      const got = await a.post(ch.url, "");
      expect(got.status).toBe(200);
      expect(String(got.headers.link)).toContain(up);
    }
    const chall = (await a.post(authzUrl, "")).json().challenges as Array<{ type: string; url: string; token: string }>;
    const h01 = chall.find((x) => x.type === "http-01")!;
    c.publish!(h01.token, `${h01.token}.${thumbprint(a.key)}`);
    const answered = await a.post(h01.url, {});
    expect(answered.status).toBe(200);
    expect(String(answered.headers.link)).toContain(up);

    const fin = await a.finalize(order, await buildCsr(ids, generateKeyPairSync("ec", { namedCurve: "P-256" })));
    expect(fin.status).toBe(200);
    const o = await a.settled(order.url);
    const cert = await a.post(o.certificate as string, "");
    expect(cert.status).toBe(200);
    expect(cert.headers["content-type"]).toMatch(/^application\/pem-certificate-chain(;|$)/);
    const pems = cert.body.match(/-----BEGIN CERTIFICATE-----/g) ?? [];
    expect(pems.length).toBe(2); // leaf + SubCA
  });
});

describe("ARI (RFC 9773)", () => {
  it("renewalInfo gives a window inside the lifetime, immediate after revocation; replaces works once", async () => {
    const a = await eabAccount();
    const { leaf, der } = await issue(a, [{ type: "dns", value: "ari.localhost" }]);
    const certId = formatCertId(akiOf(der), leaf.serialNumber);
    const r = await c.request("GET", `${c.dir.renewalInfo}/${certId}`);
    expect(r.status).toBe(200);
    expect(Number(r.headers["retry-after"])).toBe(21600);
    const w = r.json().suggestedWindow as { start: string; end: string };
    const nb = new Date(leaf.validFrom).getTime();
    const na = new Date(leaf.validTo).getTime();
    expect(new Date(w.start).getTime()).toBeGreaterThan(nb + (na - nb) * 0.49);
    expect(new Date(w.end).getTime()).toBeLessThan(na);
    expect((await c.request("GET", `${c.dir.renewalInfo}/${certId}`)).json()).toEqual(r.json());
    expect((await c.request("GET", `${c.dir.renewalInfo}/AAAA.AQ`)).status).toBe(404);

    // replaces: only this account, only once
    const b = await eabAccount();
    expectProblem(
      await b.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: "ari.localhost" }], replaces: certId }),
      "unauthorized",
      403,
    );
    const { order } = await issue(a, [{ type: "dns", value: "ari.localhost" }], { replaces: certId });
    expect(((await a.post(order.url, "")).json() as { replaces: string }).replaces).toBe(certId);
    expectProblem(
      await a.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: "ari.localhost" }], replaces: certId }),
      "alreadyReplaced",
      409,
    );

    await a.post(c.dir.revokeCert!, { certificate: der.toString("base64url"), reason: 4 });
    const after = (await c.request("GET", `${c.dir.renewalInfo}/${certId}`)).json().suggestedWindow as { end: string };
    expect(new Date(after.end).getTime()).toBeLessThan(Date.now());
  });
});

describe("replaces (RFC 9773) at finalize", () => {
  it("two pending orders replacing one certificate: the second finalize is refused with alreadyReplaced", async () => {
    const a = await eabAccount();
    const ids = [{ type: "dns" as const, value: "twice.localhost" }];
    const { leaf, der } = await issue(a, ids);
    const certId = formatCertId(akiOf(der), leaf.serialNumber);
    const first = await a.newOrder(ids, { replaces: certId });
    const second = await a.newOrder(ids, { replaces: certId });
    await a.validate(first);
    await a.validate(second);
    const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const csr = await buildCsr(ids, keys);
    const before = await h.issuedToAccounts();
    const f1 = await a.finalize(first, csr);
    expect(f1.status).toBe(200);
    expect((await a.settled(first.url)).status).toBe("valid");
    const f2 = await a.finalize(second, csr);
    expect(expectProblem(f2, "alreadyReplaced", 409).detail).toContain(first.url);
    expect(await h.issuedToAccounts()).toBe(before + 1);
    // the refused order is invalid with that error (nothing was issued for it)
    const refused = (await a.post(second.url, "")).json();
    expect(refused).toMatchObject({ status: "invalid", error: { type: "urn:ietf:params:acme:error:alreadyReplaced" } });
    expect(refused.certificate).toBeUndefined();
  });

  it("concurrent finalizes of two orders replacing one certificate issue exactly one certificate", async () => {
    const a = await eabAccount();
    const ids = [{ type: "dns" as const, value: "race.localhost" }];
    const { leaf, der } = await issue(a, ids);
    const certId = formatCertId(akiOf(der), leaf.serialNumber);
    const orders = [await a.newOrder(ids, { replaces: certId }), await a.newOrder(ids, { replaces: certId })];
    for (const o of orders) await a.validate(o);
    const csr = await buildCsr(ids, generateKeyPairSync("ec", { namedCurve: "P-256" }));
    const before = await h.issuedToAccounts();
    const answers = await Promise.all(orders.map((o) => a.finalize(o, csr)));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(answers.find((r) => r.status === 409)!.json().type).toBe("urn:ietf:params:acme:error:alreadyReplaced");
    const settled = await Promise.all(orders.map((o) => a.settled(o.url)));
    expect(settled.map((o) => o.status).sort()).toEqual(["invalid", "valid"]);
    expect(await h.issuedToAccounts()).toBe(before + 1);
  });

  it("refuses replaces when the certificate and the new order share no identifier (malformed)", async () => {
    const a = await eabAccount();
    const { leaf, der } = await issue(a, [{ type: "dns", value: "old-name.localhost" }]);
    const certId = formatCertId(akiOf(der), leaf.serialNumber);
    const r = await a.post(c.dir.newOrder!, {
      identifiers: [{ type: "dns", value: "new-name.localhost" }],
      replaces: certId,
    });
    expect(expectProblem(r, "malformed", 400).detail).toContain("shares no identifier");
    // one shared identifier is enough
    const ok = await a.post(c.dir.newOrder!, {
      identifiers: [
        { type: "dns", value: "old-name.localhost" },
        { type: "dns", value: "new-name.localhost" },
      ],
      replaces: certId,
    });
    expect(ok.status).toBe(201);
  });
});

/** keyIdentifier of the AKI extension (2.5.29.35) of a DER certificate. */
function akiOf(der: Buffer): Buffer {
  const oid = Buffer.from("0603551d23", "hex");
  const at = der.indexOf(oid);
  // OID, OCTET STRING wrapper, SEQUENCE, [0] keyIdentifier
  let i = at + oid.length;
  if (der[i] === 0x01) i += 3; // critical BOOLEAN
  i += 2; // OCTET STRING tag+len
  i += 2; // SEQUENCE tag+len
  if (der[i] !== 0x80) throw new Error("no keyIdentifier");
  const len = der[i + 1]!;
  return der.subarray(i + 2, i + 2 + len);
}
