// Hostile JWS through the running ACME server: random, mutated and re-signed request bodies on every
// POST resource. Each gets a problem document (or, for a still-valid request, success) with a fresh
// nonce — never a 5xx, a hang or internals — and nothing is created by a request that did not verify.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../helpers/acme-harness.js";
import { RawAccount, RawAcmeClient, type RawResponse, signWith } from "../helpers/acme-raw-client.js";
import { pemToDer } from "../../appliance/ca/cert-parse.js";
import { csrFor } from "../helpers/csr.js";
import { applyByteEdit, arbByteEdit, arbMutatedDer, INTERNALS, runs } from "../helpers/fuzz.js";

let h: Harness;
let c: RawAcmeClient;
let alice: RawAccount;
let bob: RawAccount;
let aliceOrder: string;
let ready: { url: string; body: { finalize: string; authorizations: string[]; status: string } };
let certDer: Buffer;
let csrDer: Buffer;

beforeAll(async () => {
  h = await startHarness();
  c = await new RawAcmeClient(h.directoryUrl, h.rootPem).init();
  alice = await RawAccount.create(c);
  bob = await RawAccount.create(c);
  aliceOrder = (await alice.newOrder([{ type: "dns", value: "fuzz.localhost" }])).url;
  c.publish = (t, ka) => h.responder.publish(t, ka);
  // a certificate to revoke (mutated), and a ready order to finalize (with mutated CSRs)
  const ids = [{ type: "dns" as const, value: "fuzz-cert.localhost" }];
  const o = await alice.newOrder(ids);
  await alice.validate(o);
  await alice.finalize(o, csrFor(ids));
  const done = await alice.settled(o.url);
  certDer = pemToDer((await alice.post(done.certificate as string, "")).body);
  const rid = [{ type: "dns" as const, value: "fuzz-ready.localhost" }];
  ready = await alice.newOrder(rid);
  await alice.validate(ready);
  csrDer = csrFor(rid);
}, 120_000);
afterAll(async () => {
  c?.close();
  await h?.close();
});

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
const PROBLEM_TYPES = /^urn:ietf:params:acme:error:[a-zA-Z]+$/;

function expectProper(r: RawResponse): void {
  expect(r.status, r.body.slice(0, 300)).toBeLessThan(500);
  expect(r.body).not.toMatch(INTERNALS);
  expect(r.headers["replay-nonce"]).toMatch(/^[A-Za-z0-9_-]+$/);
  if (r.status >= 400) {
    expect(r.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const p = r.json();
    expect(p.type).toMatch(PROBLEM_TYPES);
    expect(typeof p.detail === "string" ? p.detail.length : 0).toBeLessThan(600);
  }
}

const arbJsonValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, "", 0, -1, 1e308, true, [], {}, "A".repeat(5000), "\u0000", "__proto__", {
    __proto__: { x: 1 },
  }),
);
const ALGS = ["ES256", "ES384", "RS256", "PS256", "EdDSA", "none", "HS256", "HS512", "RS1", "es256", "", "ES256 "];

describe("JWS fuzzing through HTTP", () => {
  it("mutated protected headers (every member replaced, dropped or added), re-signed with the account key", async () => {
    const urls = () => [c.dir.newOrder!, aliceOrder, c.dir.newAccount!, c.dir.revokeCert!, c.dir.keyChange!];
    await fc.assert(
      fc.asyncProperty(
        fc.nat(4),
        fc.record(
          {
            alg: fc.oneof(fc.constantFrom(...ALGS), arbJsonValue),
            kid: fc.oneof(fc.constant("ALICE"), fc.constant("BOB"), arbJsonValue),
            jwk: fc.oneof(
              fc.constant("ALICE"),
              arbJsonValue,
              fc.dictionary(fc.constantFrom("kty", "crv", "x", "y", "n", "e", "d", "k"), arbJsonValue),
            ),
            nonce: fc.oneof(fc.constant("FRESH"), arbJsonValue),
            url: fc.oneof(fc.constant("RIGHT"), arbJsonValue),
            crit: arbJsonValue,
            b64: arbJsonValue,
            extra: arbJsonValue,
          },
          { requiredKeys: [] },
        ),
        fc.oneof(fc.constant(""), arbJsonValue, fc.constant({ identifiers: [{ type: "dns", value: "fz.localhost" }] })),
        async (u, hdr, payload) => {
          const url = urls()[u]!;
          const header: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(hdr)) {
            if (v === "ALICE") header[k] = k === "kid" ? alice.url : alice.key.jwk;
            else if (v === "BOB") header[k] = bob.url;
            else if (v === "FRESH") header[k] = await c.nonce();
            else if (v === "RIGHT") header[k] = url;
            else header[k] = v;
          }
          const p = b64(header);
          const pl = payload === "" ? "" : b64(payload);
          const body = JSON.stringify({ protected: p, payload: pl, signature: signWith(alice.key, `${p}.${pl}`) });
          const r = await c.request("POST", url, body, { "Content-Type": "application/jose+json" });
          expectProper(r);
        },
      ),
      { numRuns: runs(600) },
    );
  });

  it("JWKs whose kty or crv name Object.prototype members are refused as badPublicKey (they were a 500)", async () => {
    for (const jwk of [
      { kty: "constructor" },
      { kty: "__proto__", x: "AA" },
      { kty: "toString", n: "AA", e: "AQAB" },
      { kty: "EC", crv: "constructor", x: "AA", y: "AA" },
      { kty: "EC", crv: "hasOwnProperty", x: "AA", y: "AA" },
    ]) {
      const p = b64({ alg: "ES256", jwk, nonce: await c.nonce(), url: c.dir.newAccount });
      const pl = b64({ termsOfServiceAgreed: true });
      const body = JSON.stringify({ protected: p, payload: pl, signature: signWith(alice.key, `${p}.${pl}`) });
      const r = await c.request("POST", c.dir.newAccount!, body, { "Content-Type": "application/jose+json" });
      expectProper(r);
      expect(r.json().type, JSON.stringify(jwk)).toMatch(/:(badPublicKey|badSignatureAlgorithm)$/);
    }
  });

  it("byte-mutated JSON bodies of valid requests", async () => {
    const valid = await c.jws(
      c.dir.newOrder!,
      { identifiers: [{ type: "dns", value: "m.localhost" }] },
      { key: alice.key, kid: alice.url },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(arbByteEdit, { minLength: 1, maxLength: 4 }), async (edits) => {
        const body = edits.reduce(applyByteEdit, Buffer.from(valid));
        const r = await c.request("POST", c.dir.newOrder!, body, { "Content-Type": "application/jose+json" });
        expectProper(r);
      }),
      { numRuns: runs(600) },
    );
  });

  it("random JSON bodies and odd flattened-JWS shapes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc
            .record({ protected: arbJsonValue, payload: arbJsonValue, signature: arbJsonValue })
            .map((o) => JSON.stringify(o)),
          fc.string({ maxLength: 400 }),
          fc.constantFrom(
            '{"protected":"e30","payload":"","signature":"AA","protected":"x"}',
            "[]",
            "null",
            '"x"',
            "1e999",
          ),
        ),
        fc.constantFrom("application/jose+json", "application/json", "text/plain"),
        async (body, type) => {
          const r = await c.request("POST", c.dir.newOrder!, body, { "Content-Type": type });
          expectProper(r);
        },
      ),
      { numRuns: runs(600) },
    );
  });

  it("valid signatures over hostile payloads, resource by resource", async () => {
    const arbIdentifier = fc.oneof(
      fc.record({
        type: fc.constantFrom("dns", "ip", "email", ""),
        value: fc.oneof(fc.domain(), fc.string(), arbJsonValue),
      }),
      arbJsonValue,
    );
    const resources = [
      () => ({
        url: c.dir.newOrder!,
        payload: fc.record(
          {
            identifiers: fc.oneof(fc.array(arbIdentifier, { maxLength: 30 }), arbJsonValue),
            notBefore: fc.oneof(
              fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
              arbJsonValue,
            ),
            notAfter: fc.oneof(
              fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
              arbJsonValue,
            ),
            profile: arbJsonValue,
            replaces: fc.oneof(fc.string(), fc.constant("AAAA.AAAA"), arbJsonValue),
          },
          { requiredKeys: [] },
        ),
      }),
      () => ({
        url: ready.body.finalize,
        payload: fc.oneof(
          arbMutatedDer([csrDer]).map((d) => ({ csr: d.toString("base64url") })),
          fc.record({ csr: arbJsonValue }),
          arbJsonValue,
        ),
      }),
      () => ({
        url: c.dir.revokeCert!,
        payload: fc.oneof(
          fc
            .tuple(arbMutatedDer([certDer]), fc.oneof(fc.integer({ min: -2, max: 12 }), arbJsonValue))
            .map(([d, reason]) => ({
              certificate: d.toString("base64url"),
              reason,
            })),
          arbJsonValue,
        ),
      }),
      () => ({
        url: alice.url,
        payload: fc.record(
          {
            contact: fc.oneof(
              fc.array(
                fc.oneof(
                  fc.emailAddress().map((e) => `mailto:${e}`),
                  fc.string(),
                ),
              ),
              arbJsonValue,
            ),
            status: arbJsonValue,
          },
          { requiredKeys: [] },
        ),
      }),
      () => ({
        url: c.dir.keyChange!,
        payload: fc.oneof(
          fc.record({ protected: fc.string(), payload: fc.string(), signature: fc.string() }),
          arbJsonValue,
        ),
      }),
    ];
    for (const r of resources) {
      const { url, payload } = r();
      await fc.assert(
        fc.asyncProperty(payload, async (pl) => {
          const res = await alice.post(url, pl === "" ? {} : pl);
          expectProper(res);
        }),
        { numRuns: runs(150) },
      );
    }
  });

  it("nothing was created by requests that did not verify", async () => {
    const accounts = await h.db.get<{ n: number }>("SELECT count(*) AS n FROM acme_accounts");
    expect(accounts!.n).toBe(2);
    // the certificate revoked at most once, by its own account, and the server still issues
    const ids = [{ type: "dns" as const, value: "fuzz-after.localhost" }];
    const o = await bob.newOrder(ids);
    await bob.validate(o);
    await bob.finalize(o, csrFor(ids));
    expect((await bob.settled(o.url)).status).toBe("valid");
  });
});
