// Protocol abuse against the running appliance (real CA on SoftHSM, real sqlite, real validator):
// nonce replay under concurrency, a kid of another account, alg none and HMAC with the public key,
// oversized headers and bodies, a flood of orders from one account, and http-01 validation redirected
// into networks plant IT did not allow. Each is refused with a problem document, bounded, and leaves
// nothing behind. (Connection-level slow-loris: acme-connections.test.ts.)
import { createHmac, generateKeyPairSync } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RATE_LIMITS } from "../../appliance/acme/rate-limits.js";
import { buildCsr } from "../../appliance/csr-builder.js";
import { demoValidationConfig } from "../../appliance/validation/index.js";
import { type Harness, startHarness } from "../helpers/acme-harness.js";
import { RawAccount, RawAcmeClient, type RawResponse } from "../helpers/acme-raw-client.js";
import { INTERNALS } from "../helpers/fuzz.js";

const ORDER_LIMIT = 120;
let h: Harness;
let c: RawAcmeClient;
let alice: RawAccount;
let bob: RawAccount;
/** where the redirecting device sends the validator (set per test) */
let redirectTo: (token: string) => string | undefined = () => undefined;
let device: http.Server;
let devicePort: number;

beforeAll(async () => {
  // the device's http-01 server: answers with a redirect chosen by the test
  device = http.createServer((req, res) => {
    const token = (req.url ?? "").split("/").pop() ?? "";
    const to = redirectTo(token);
    if (to) res.writeHead(302, { Location: to }).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => device.listen(0, "127.0.0.1", () => r()));
  devicePort = (device.address() as AddressInfo).port;
  h = await startHarness({
    acme: {
      rateLimits: { ...DEFAULT_RATE_LIMITS, newOrdersPerAccount: { count: ORDER_LIMIT, periodSeconds: 3600 } },
    },
    validation: () => demoValidationConfig({ http01Port: devicePort }),
  });
  c = await new RawAcmeClient(h.directoryUrl, h.rootPem).init();
  alice = await RawAccount.create(c);
  bob = await RawAccount.create(c);
});
afterAll(async () => {
  c?.close();
  await h?.close();
  await new Promise((r) => device.close(r));
});

function expectProblem(r: RawResponse, type: string, status?: number): void {
  expect(r.headers["content-type"], r.body).toMatch(/^application\/problem\+json/);
  expect(r.json().type).toBe(`urn:ietf:params:acme:error:${type}`);
  if (status) expect(r.status).toBe(status);
  expect(r.headers["replay-nonce"]).toMatch(/^[A-Za-z0-9_-]+$/);
  expect(r.body).not.toMatch(INTERNALS);
}
const count = async (table: string, where = "1") =>
  (await h.db.get<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`))!.n;
const ORDER = (v: string) => ({ identifiers: [{ type: "dns", value: v }] });

describe("JWS abuse", () => {
  it("one nonce used by 30 requests at once: exactly one is accepted", async () => {
    const nonce = await c.nonce();
    const rs = await Promise.all(
      Array.from({ length: 30 }, (_, i) => alice.post(c.dir.newOrder!, ORDER(`replay${i}.localhost`), { nonce })),
    );
    expect(rs.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of rs.filter((x) => x.status !== 201)) expectProblem(r, "badNonce", 400);
    expect(await count("acme_orders", `account_id = '${alice.url.split("/").pop()}'`)).toBe(1);
  });

  it("a kid of another account with my key is refused; the other account is untouched", async () => {
    const bobId = bob.url.split("/").pop();
    const before = await count("acme_orders", `account_id = '${bobId}'`);
    const r = await c.post(c.dir.newOrder!, ORDER("kid.localhost"), { key: alice.key, kid: bob.url });
    expectProblem(r, "malformed", 400);
    // nor can alice deactivate bob's account with her key
    const d = await c.post(bob.url, { status: "deactivated" }, { key: alice.key, kid: bob.url });
    expect(d.status).toBe(400);
    expect(await count("acme_orders", `account_id = '${bobId}'`)).toBe(before);
    expect((await bob.post(bob.url, "")).json().status).toBe("valid");
  });

  it('alg "none" and HS256 keyed with the public key are refused, and create nothing', async () => {
    const before = await count("acme_orders");
    const none = await alice.post(c.dir.newOrder!, ORDER("none.localhost"), {
      header: { alg: "none" },
      signature: () => "AA",
    });
    expectProblem(none, "badSignatureAlgorithm", 400);
    const secret = Buffer.from(JSON.stringify(alice.key.jwk));
    const hs = await alice.post(c.dir.newOrder!, ORDER("hs.localhost"), {
      header: { alg: "HS256" },
      signature: (input) => createHmac("sha256", secret).update(input).digest("base64url"),
    });
    expectProblem(hs, "badSignatureAlgorithm", 400);
    expect(await count("acme_orders")).toBe(before);
  });
});

describe("size abuse", () => {
  it("oversized and too many headers are refused before any parsing; the server keeps serving", async () => {
    const big = await c.request("GET", h.directoryUrl, undefined, { "x-junk": "a".repeat(20_000) });
    expect(big.status).toBe(431);
    const many: Record<string, string> = {};
    for (let i = 0; i < 2000; i++) many[`x-h${i}`] = "v";
    const m = await c.request("GET", h.directoryUrl, undefined, many).catch((e: Error) => ({ status: e.message }));
    expect([400, 431, "socket hang up"]).toContain(m.status);
    expect((await c.request("GET", h.directoryUrl)).status).toBe(200);
  });

  it("oversized bodies, declared and chunked, get 413 without being buffered", async () => {
    const declared = await c.request("POST", c.dir.newOrder!, Buffer.alloc(200_000, 0x41), {
      "Content-Type": "application/jose+json",
    });
    expectProblem(declared, "malformed", 413);
    // chunked (no Content-Length): the limit is enforced while reading
    const chunked = await postChunked(c.dir.newOrder!, 16, 65_536);
    expectProblem(chunked, "malformed", 413);
    expect((await alice.post(c.dir.newOrder!, ORDER("after-big.localhost"))).status).toBe(201);
  });
});

/** POSTs `n` chunks of `size` bytes without a Content-Length (Transfer-Encoding: chunked). */
function postChunked(url: string, n: number, size: number): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: "POST", agent: c.agent, headers: { "Content-Type": "application/jose+json" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
        });
      },
    );
    req.on("error", reject);
    for (let i = 0; i < n; i++) req.write(Buffer.alloc(size, 0x41));
    req.end();
  });
}

describe("order flood from one account", () => {
  it("more identifiers than the CA puts in a certificate are refused at newOrder", async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => ({ type: "dns", value: `m${n}-${i}.localhost` }));
    const over = await alice.post(c.dir.newOrder!, { identifiers: ids(21) });
    expectProblem(over, "rejectedIdentifier", 400);
    expect(over.json().detail).toMatch(/at most 20 identifiers/);
    expect((await alice.post(c.dir.newOrder!, { identifiers: ids(20) })).status).toBe(201);
  });

  it("a flood of orders stops at the per-account limit with rateLimited + Retry-After; what is stored is bounded", async () => {
    const flooder = await RawAccount.create(c);
    const id = flooder.url.split("/").pop();
    const statuses: number[] = [];
    let retryAfter = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < ORDER_LIMIT + 60) {
          const i = next++;
          const ids = Array.from({ length: 20 }, (_, k) => ({ type: "dns", value: `f${i}-${k}.localhost` }));
          const r = await flooder.post(c.dir.newOrder!, { identifiers: ids });
          statuses.push(r.status);
          if (r.status === 429) {
            expectProblem(r, "rateLimited", 429);
            retryAfter = Number(r.headers["retry-after"]);
          }
        }
      }),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(ORDER_LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(60);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(await count("acme_orders", `account_id = '${id}'`)).toBe(ORDER_LIMIT);
    expect(await count("acme_authorizations", `account_id = '${id}'`)).toBeLessThanOrEqual(ORDER_LIMIT * 20);
    // other accounts are not affected
    expect((await bob.post(c.dir.newOrder!, ORDER("bob-after-flood.localhost"))).status).toBe(201);
  });
});

describe("pending work per account is bounded", () => {
  it("a still-pending authorization is reused by the next order for the same identifier; unfinished orders are capped with rateLimited + Retry-After", async () => {
    const PENDING_CAP = 5;
    const h2 = await startHarness({ acme: { maxPendingOrdersPerAccount: PENDING_CAP } });
    const c2 = await new RawAcmeClient(h2.directoryUrl, h2.rootPem).init();
    c2.publish = h2.responder.publish;
    try {
      const a = await RawAccount.create(c2);
      const aId = a.url.split("/").pop();
      const n2 = async (where: string) =>
        (await h2.db.get<{ n: number }>(`SELECT count(*) AS n FROM acme_authorizations WHERE ${where}`))!.n;
      // the same identifier ordered twice while the first authorization is still pending: one authorization
      const ids = [{ type: "dns", value: "reuse.localhost" }];
      const o1 = await a.newOrder(ids);
      const o2 = await a.newOrder(ids);
      expect(o2.body.authorizations).toEqual(o1.body.authorizations);
      expect(await n2(`account_id = '${aId}'`)).toBe(1);
      // validating it (through the second order) readies both
      await a.validate(o2);
      expect((await a.post(o1.url, "")).json().status).toBe("ready");
      expect((await a.post(o2.url, "")).json().status).toBe("ready");
      const csr = await buildCsr(
        ids as Array<{ type: "dns"; value: string }>,
        generateKeyPairSync("ec", { namedCurve: "P-256" }),
      );
      expect((await a.finalize(o1, csr)).status).toBe(200);
      expect((await a.settled(o1.url)).status).toBe("valid");

      // the cap: o2 is still unfinished; 4 more fill the account's 5, the next is refused
      const b = await RawAccount.create(c2);
      const other = await b.newOrder([{ type: "dns", value: "other-account.localhost" }]);
      const mine = [o2];
      for (let i = 0; i < PENDING_CAP - 1; i++)
        mine.push(await a.newOrder([{ type: "dns", value: `cap${i}.localhost` }]));
      const refused = await a.post(c2.dir.newOrder!, ORDER("cap-over.localhost"));
      expect(refused.status).toBe(429);
      expect(refused.json().type).toBe("urn:ietf:params:acme:error:rateLimited");
      expect(refused.json().detail).toMatch(/5 unfinished orders \(at most 5\)/);
      const retryAfter = Number(refused.headers["retry-after"]);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      expect(await n2(`account_id = '${aId}' AND identifier_value = 'cap-over.localhost'`)).toBe(0);
      // another account is not affected
      expect((await b.post(c2.dir.newOrder!, ORDER("other-account-2.localhost"))).status).toBe(201);
      // finalizing one of them frees a place
      await a.validate(mine[1]!);
      const csr1 = await buildCsr(
        [{ type: "dns", value: "cap0.localhost" }],
        generateKeyPairSync("ec", { namedCurve: "P-256" }),
      );
      expect((await a.finalize(mine[1]!, csr1)).status).toBe(200);
      expect((await a.settled(mine[1]!.url)).status).toBe("valid");
      expect((await a.post(c2.dir.newOrder!, ORDER("cap-over.localhost"))).status).toBe(201);
      expect(other.body.status).toBe("pending");
    } finally {
      c2.close();
      await h2.close();
    }
  });
});

describe("validation redirected into forbidden networks", () => {
  it("every redirect outside the allowed networks fails the challenge without a packet sent there", async () => {
    const targets = [
      "http://10.20.1.5/.well-known/acme-challenge/x",
      "http://169.254.169.254/latest/meta-data/",
      "http://[::ffff:10.0.0.1]/x",
      "http://0x0a000001/x",
      "http://167772161/x", // 10.0.0.1 in decimal
      "http://[fe80::1]/x",
      "http://far.plant.example/x",
      "https://10.1.2.3/x",
      "ftp://127.0.0.1/x",
      "file:///etc/passwd",
      `http://127.0.0.1:22/x`, // a port that is neither 80/443 nor the configured ones
    ];
    const connectsBefore = h.connects.targets.length;
    for (const [i, target] of targets.entries()) {
      redirectTo = () => target;
      const o = await alice.newOrder([{ type: "dns", value: `redir${i}.localhost` }]);
      const authzUrl = o.body.authorizations[0]!;
      const authz = (await alice.post(authzUrl, "")).json() as {
        challenges: Array<{ type: string; url: string; token: string }>;
      };
      const ch = authz.challenges.find((x) => x.type === "http-01")!;
      expect((await alice.post(ch.url, {})).status).toBe(200);
      let a: { status: string; challenges: Array<{ type: string; status: string; error?: { detail: string } }> };
      for (let k = 0; ; k++) {
        a = (await alice.post(authzUrl, "")).json() as typeof a;
        if (a.status !== "pending" || k > 100) break;
        await new Promise((r) => setTimeout(r, 30));
      }
      expect(a.status, target).toBe("invalid");
      const err = a.challenges.find((x) => x.type === "http-01")!.error!;
      expect(err.detail, target).toMatch(/redirect|allowed|refus|resolve|port|scheme/i);
      expect(err.detail).not.toMatch(INTERNALS);
    }
    redirectTo = () => undefined;
    // the validator connected only to the device itself
    const made = h.connects.targets.slice(connectsBefore);
    expect(made.length).toBeGreaterThanOrEqual(targets.length);
    expect(new Set(made)).toEqual(new Set([`127.0.0.1:${devicePort}`]));
  });
});
