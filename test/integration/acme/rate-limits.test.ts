// Rate limits over HTTP (rateLimited 429 with Retry-After): new accounts per address, new orders per
// address, failed validations per address (next to the per-account limit). Each test's client
// connects from its own loopback address, so the per-address buckets are its own.
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RATE_LIMITS } from "../../../appliance/acme/rate-limits.js";
import { buildCsr } from "../../../appliance/csr-builder.js";
import { type Harness, startHarness } from "../../helpers/acme-harness.js";
import { newAccountKey, RawAccount, RawAcmeClient, type RawResponse } from "../../helpers/acme-raw-client.js";

const HOUR = 3600;
let h: Harness;
const clients: RawAcmeClient[] = [];

beforeAll(async () => {
  h = await startHarness({
    acme: {
      rateLimits: {
        ...DEFAULT_RATE_LIMITS,
        newAccountsPerAddress: { count: 3, periodSeconds: HOUR },
        newOrdersPerAddress: { count: 4, periodSeconds: HOUR },
        failedValidationsPerAddress: { count: 2, periodSeconds: HOUR },
      },
    },
  });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await h?.close();
});

/** A client whose connections come from `address` (any 127.0.0.0/8 address works on Linux). */
async function clientFrom(address: string): Promise<RawAcmeClient> {
  const c = await new RawAcmeClient(h.directoryUrl, h.rootPem, address).init();
  c.publish = h.responder.publish;
  clients.push(c);
  return c;
}

function expectRateLimited(r: RawResponse, what: RegExp): number {
  expect({ status: r.status, type: r.json().type }).toEqual({
    status: 429,
    type: "urn:ietf:params:acme:error:rateLimited",
  });
  expect(r.json().detail).toMatch(what);
  const retryAfter = Number(r.headers["retry-after"]);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(HOUR);
  return retryAfter;
}

describe("rate limits over HTTP", () => {
  it("new accounts per address: the 4th account from one address is refused, another address is not", async () => {
    const c = await clientFrom("127.0.0.21");
    const accounts = async () => (await h.db.get<{ n: number }>("SELECT count(*) AS n FROM acme_accounts"))!.n;
    const first = await RawAccount.create(c);
    for (let i = 0; i < 2; i++) await RawAccount.create(c);
    const before = await accounts();
    const r = await c.post(c.dir.newAccount!, { termsOfServiceAgreed: true }, { key: newAccountKey() });
    // 3 per hour: the next one is possible in 1200 s
    expect(expectRateLimited(r, /new accounts from this address/)).toBe(1200);
    expect(await accounts()).toBe(before);
    // looking up an existing account creates nothing and is not limited
    const again = await c.post(c.dir.newAccount!, { onlyReturnExisting: true }, { key: first.key });
    expect(again.status).toBe(200);
    expect(again.headers.location).toBe(first.url);
    // another address has its own bucket
    const other = await clientFrom("127.0.0.22");
    await RawAccount.create(other);
    expect(await accounts()).toBe(before + 1);
  });

  it("new orders per address: the 5th order from one address is refused, from another address it is not", async () => {
    const c = await clientFrom("127.0.0.23");
    const a = await RawAccount.create(c);
    for (let i = 0; i < 4; i++) await a.newOrder([{ type: "dns", value: `o${i}.localhost` }]);
    const r = await a.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: "o4.localhost" }] });
    expect(expectRateLimited(r, /new orders from this address/)).toBe(900);
    // the same account from another address is within its (per-account) limit
    const c2 = await clientFrom("127.0.0.24");
    const same = new RawAccount(c2, a.key, a.url);
    expect((await same.post(c2.dir.newOrder!, { identifiers: [{ type: "dns", value: "o4.localhost" }] })).status).toBe(
      201,
    );
  });

  it("failed validations per address: after 2 failures, challenges and new orders from that address are refused", async () => {
    const c = await clientFrom("127.0.0.25");
    const a = await RawAccount.create(c);
    const fail = async (name: string) => {
      const o = await a.newOrder([{ type: "dns", value: name }]);
      const authz = (await a.post(o.body.authorizations[0]!, "")).json() as {
        challenges: Array<{ type: string; url: string }>;
      };
      // nothing published: the responder answers 404 and the validation fails
      return a.post(authz.challenges.find((x) => x.type === "http-01")!.url, {});
    };
    for (const n of ["f1.localhost", "f2.localhost"]) {
      const r = await fail(n);
      expect(r.status).toBe(200);
      expect(r.json().status).toBe("invalid");
    }
    // a third challenge answer from this address is refused before anything is validated
    const o = await a.newOrder([{ type: "dns", value: "f3.localhost" }]).catch((e: Error) => e);
    expect(o).toBeInstanceOf(Error);
    const r = await a.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: "f3.localhost" }] });
    expect(expectRateLimited(r, /failed validations from this address/)).toBe(1800);

    // the account itself (well under its own limit) works from another address, end to end
    const c2 = await clientFrom("127.0.0.26");
    const same = new RawAccount(c2, a.key, a.url);
    const ids = [{ type: "dns" as const, value: "f3.localhost" }];
    const order = await same.newOrder(ids);
    const authz = (await same.post(order.body.authorizations[0]!, "")).json() as {
      challenges: Array<{ type: string; url: string }>;
    };
    // answering this challenge from the rate-limited address is refused; nothing is validated
    const requests = h.responder.requests;
    const refused = await a.post(authz.challenges.find((x) => x.type === "http-01")!.url, {});
    expectRateLimited(refused, /failed validations from this address/);
    expect(h.responder.requests).toBe(requests);
    await same.validate(order);
    const fin = await same.finalize(order, await buildCsr(ids, generateKeyPairSync("ec", { namedCurve: "P-256" })));
    expect(fin.status).toBe(200);
    expect((await same.settled(order.url)).status).toBe("valid");
  });
});
