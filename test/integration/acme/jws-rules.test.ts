// Every JWS rule of RFC 8555 §6 answered with the right problem document (and a fresh nonce), and
// the plumbing every response carries: newNonce by HEAD and GET, Link rel=index, 405 and 404.
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/acme-harness.js";
import { newAccountKey, RawAccount, RawAcmeClient, type RawResponse } from "../../helpers/acme-raw-client.js";

let h: Harness;
let c: RawAcmeClient;
let alice: RawAccount;

beforeAll(async () => {
  h = await startHarness();
  c = await new RawAcmeClient(h.directoryUrl, h.rootPem).init();
  alice = await RawAccount.create(c);
});
afterAll(async () => {
  c?.close();
  await h?.close();
});

function expectProblem(r: RawResponse, type: string, status: number): void {
  expect(r.headers["content-type"]).toMatch(/^application\/problem\+json/);
  expect({ status: r.status, type: r.json().type }).toEqual({ status, type: `urn:ietf:params:acme:error:${type}` });
  expect(r.headers["replay-nonce"]).toMatch(/^[A-Za-z0-9_-]{32}$/);
  expect(String(r.headers.link)).toContain('rel="index"');
  expect(r.body).not.toMatch(/at .*\.(ts|js):\d+/); // never a stack trace
}

const ORDER = { identifiers: [{ type: "dns", value: "jws.localhost" }] };

describe("JWS rules", () => {
  it("a well-formed request succeeds (control)", async () => {
    const r = await alice.post(c.dir.newOrder!, ORDER);
    expect(r.status).toBe(201);
  });

  it("url in the header must equal the request URL", async () => {
    const r = await alice.post(c.dir.newOrder!, ORDER, { header: { url: c.dir.newAccount } });
    expectProblem(r, "unauthorized", 403);
  });

  it("a nonce is single-use; a missing or invented one is badNonce", async () => {
    const nonce = await c.nonce();
    expect((await alice.post(c.dir.newOrder!, ORDER, { nonce })).status).toBe(201);
    expectProblem(await alice.post(c.dir.newOrder!, ORDER, { nonce }), "badNonce", 400);
    expectProblem(await alice.post(c.dir.newOrder!, ORDER, { header: { nonce: undefined } }), "badNonce", 400);
    expectProblem(await alice.post(c.dir.newOrder!, ORDER, { nonce: "A".repeat(32) }), "badNonce", 400);
  });

  it('alg "none" is refused', async () => {
    const r = await alice.post(c.dir.newOrder!, ORDER, { header: { alg: "none" }, signature: () => "" });
    // an empty signature is malformed before the header is even looked at; with a signature, alg decides
    expect(r.status).toBe(400);
    const r2 = await alice.post(c.dir.newOrder!, ORDER, { header: { alg: "none" }, signature: () => "AA" });
    expectProblem(r2, "badSignatureAlgorithm", 400);
    expect(r2.json().algorithms).toEqual(["ES256", "ES384", "RS256", "PS256", "EdDSA"]);
  });

  it("HS256 with the account's public key as the HMAC secret is refused", async () => {
    const secret = JSON.stringify(alice.key.jwk);
    const r = await alice.post(c.dir.newOrder!, ORDER, {
      header: { alg: "HS256" },
      signature: (input) => createHmac("sha256", secret).update(input).digest("base64url"),
    });
    expectProblem(r, "badSignatureAlgorithm", 400);
  });

  it("exactly one of jwk and kid", async () => {
    expectProblem(await alice.post(c.dir.newOrder!, ORDER, { header: { jwk: alice.key.jwk } }), "malformed", 400);
    expectProblem(await alice.post(c.dir.newOrder!, ORDER, { header: { kid: undefined } }), "malformed", 400);
    // newAccount needs jwk, everything else kid
    expectProblem(await alice.post(c.dir.newAccount!, { termsOfServiceAgreed: true }), "malformed", 400);
    expectProblem(await c.post(c.dir.newOrder!, ORDER, { key: alice.key }), "malformed", 400);
  });

  it("an unknown kid is accountDoesNotExist", async () => {
    const r = await c.post(c.dir.newOrder!, ORDER, {
      key: alice.key,
      kid: `${alice.url.replace(/[^/]+$/, "")}nosuchaccount`,
    });
    expectProblem(r, "accountDoesNotExist", 400);
    const foreign = await c.post(c.dir.newOrder!, ORDER, {
      key: alice.key,
      kid: "https://elsewhere.example/acme/acct/1",
    });
    expectProblem(foreign, "accountDoesNotExist", 400);
  });

  it("a signature by another key is refused", async () => {
    const mallory = newAccountKey();
    const r = await c.post(c.dir.newOrder!, ORDER, { key: mallory, kid: alice.url });
    expectProblem(r, "malformed", 400);
  });

  it("a deactivated account can do nothing more", async () => {
    const bob = await RawAccount.create(c);
    const d = await bob.post(bob.url, { status: "deactivated" });
    expect(d.status).toBe(200);
    expect(d.json().status).toBe("deactivated");
    expectProblem(await bob.post(c.dir.newOrder!, ORDER), "unauthorized", 403);
    expectProblem(await bob.post(bob.url, ""), "unauthorized", 403);
  });

  it("an oversized body is refused before it is parsed", async () => {
    const r = await c.post(c.dir.newOrder!, ORDER, { key: alice.key, kid: alice.url, rawBody: "x".repeat(70 * 1024) });
    expectProblem(r, "malformed", 413);
    const padded = await alice.post(c.dir.newOrder!, { ...ORDER, pad: "y".repeat(66 * 1024) });
    expectProblem(padded, "malformed", 413);
  });

  it("the content type must be application/jose+json", async () => {
    expectProblem(await alice.post(c.dir.newOrder!, ORDER, { contentType: "application/json" }), "malformed", 415);
  });

  it("only the flattened JSON serialization is accepted", async () => {
    const jws = JSON.parse(await c.jws(c.dir.newOrder!, ORDER, { key: alice.key, kid: alice.url }));
    const compact = `${jws.protected}.${jws.payload}.${jws.signature}`;
    expectProblem(await alice.post(c.dir.newOrder!, ORDER, { rawBody: compact }), "malformed", 400);
    const general = JSON.stringify({
      payload: jws.payload,
      signatures: [{ protected: jws.protected, signature: jws.signature }],
    });
    expectProblem(await alice.post(c.dir.newOrder!, ORDER, { rawBody: general }), "malformed", 400);
  });

  it("nothing was issued by any of the refused requests", async () => {
    expect(await h.issuedToAccounts()).toBe(0);
  });
});

describe("plumbing", () => {
  it("newNonce: HEAD 200 with Content-Length 0, GET 204, both with Replay-Nonce and no-store", async () => {
    const head = await c.request("HEAD", c.dir.newNonce!);
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe("0");
    expect(head.headers["cache-control"]).toBe("no-store");
    const get = await c.request("GET", c.dir.newNonce!);
    expect(get.status).toBe(204);
    expect(get.headers["replay-nonce"]).not.toBe(head.headers["replay-nonce"]);
  });

  it("directory lists every resource and the meta fields", async () => {
    const d = (await c.request("GET", h.directoryUrl)).json();
    expect(Object.keys(d).sort()).toEqual([
      "keyChange",
      "meta",
      "newAccount",
      "newNonce",
      "newOrder",
      "renewalInfo",
      "revokeCert",
    ]);
    expect(d.meta).toEqual({
      externalAccountRequired: false,
      profiles: {
        "device-tls": "device TLS server and client: serverAuth + clientAuth",
        "device-client": "device TLS client only: clientAuth",
      },
    });
  });

  it("GET on a POST-as-GET resource is 405, unknown paths are 404 problems", async () => {
    const o = await alice.newOrder([{ type: "dns", value: "get.localhost" }]);
    const g = await c.request("GET", o.url);
    expectProblem(g, "malformed", 405);
    expect(g.headers.allow).toBe("POST");
    expectProblem(await c.request("GET", `${h.directoryUrl}/../nothing-here`), "malformed", 404);
  });

  it("responses carry security headers and no framework banner", async () => {
    const r = await c.request("GET", h.directoryUrl);
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect(r.headers["x-powered-by"]).toBeUndefined();
    expect(r.headers.server).toBeUndefined();
  });

  it("writes one JSON log line per request with account, order, outcome and latency", async () => {
    const o = await alice.newOrder([{ type: "dns", value: "log.localhost" }]);
    const id = o.url.split("/").pop();
    await new Promise((r) => setTimeout(r, 20));
    const line = h.logs.find(
      (l) => l.msg === "acme request" && l.route === "newOrder" && l.status === 201 && l.order === id,
    );
    expect(line).toMatchObject({ account: alice.url.split("/").pop(), method: "POST" });
    expect(typeof line!.ms).toBe("number");
    const bad = h.logs.find((l) => l.msg === "acme request" && l.problem === "badNonce");
    expect(bad).toBeDefined();
  });
});
