// Account isolation (B can neither read, finalize, download nor revoke A's resources), CSRs that do
// not match the order, identifiers outside policy, failed validations — each with the right problem
// and nothing issued.
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCsr } from "../../../appliance/csr-builder.js";
import { FakeCa } from "../../fakes/fake-ca.js";
import { FakeValidator } from "../../fakes/fake-validator.js";
import { type Harness, startHarness } from "../../helpers/acme-harness.js";
import { RawAccount, RawAcmeClient, type RawResponse } from "../../helpers/acme-raw-client.js";

let h: Harness;
let ca: FakeCa;
let validator: FakeValidator;
let c: RawAcmeClient;

beforeAll(async () => {
  ca = await FakeCa.create();
  validator = new FakeValidator();
  h = await startHarness({
    ca,
    validator,
    acme: {
      rateLimits: {
        newAccountsPerAddress: { count: 1000, periodSeconds: 3600 },
        newOrdersPerAccount: { count: 1000, periodSeconds: 3600 },
        newOrdersPerAddress: { count: 1000, periodSeconds: 3600 },
        failedValidationsPerAccount: { count: 3, periodSeconds: 3600 },
      },
    },
  });
  c = await new RawAcmeClient(h.directoryUrl, ca.issuerChainPem()).init();
});
afterAll(async () => {
  c?.close();
  await h?.close();
});

const keys = () => generateKeyPairSync("ec", { namedCurve: "P-256" });
const acmeIssues = () => ca.issueCalls.filter((x) => x.requester.accountId).length;

function expectProblem(r: RawResponse, type: string, status: number): Record<string, unknown> {
  expect({ status: r.status, type: r.json().type }).toEqual({ status, type: `urn:ietf:params:acme:error:${type}` });
  return r.json();
}

describe("account isolation", () => {
  it("B cannot read, answer, finalize, download or revoke A's resources", async () => {
    const a = await RawAccount.create(c);
    const b = await RawAccount.create(c);
    const order = await a.newOrder([{ type: "dns", value: "a-only.localhost" }]);
    const authzUrl = order.body.authorizations[0]!;
    const authz = (await a.post(authzUrl, "")).json() as { challenges: Array<{ url: string }> };
    const chUrl = authz.challenges[0]!.url;

    expectProblem(await b.post(order.url, ""), "unauthorized", 403);
    expectProblem(await b.post(authzUrl, ""), "unauthorized", 403);
    expectProblem(await b.post(authzUrl, { status: "deactivated" }), "unauthorized", 403);
    expectProblem(await b.post(chUrl, ""), "unauthorized", 403);
    expectProblem(await b.post(chUrl, {}), "unauthorized", 403);
    expect(validator.calls.some((x) => x.identifier.value === "a-only.localhost")).toBe(false);

    await a.validate(order);
    const csr = await buildCsr([{ type: "dns", value: "a-only.localhost" }], keys());
    expectProblem(await b.finalize(order, csr), "unauthorized", 403);
    expect(acmeIssues()).toBe(0);

    const fin = await a.finalize(order, csr);
    expect(fin.status).toBe(200);
    const done = await a.settled(order.url);
    expect(done.status).toBe("valid");
    const certUrl = done.certificate as string;
    expectProblem(await b.post(certUrl, ""), "unauthorized", 403);
    const pem = (await a.post(certUrl, "")).body;
    const der = Buffer.from(pem.split("-----")[2]!.replace(/\s/g, ""), "base64");
    expectProblem(await b.post(c.dir.revokeCert!, { certificate: der.toString("base64url") }), "unauthorized", 403);
    expect(ca.revokeCalls).toHaveLength(0);

    expectProblem(await b.post(a.url, ""), "unauthorized", 403);
    const bOrders = (await b.post(`${b.url}/orders`, "")).json() as { orders: string[] };
    expect(bOrders.orders).toEqual([]);
    const aOrders = (await a.post(`${a.url}/orders`, "")).json() as { orders: string[] };
    expect(aOrders.orders).toEqual([order.url]);
  });
});

describe("finalize checks", () => {
  it("a CSR that does not name exactly the order's identifiers is badCSR; nothing is issued", async () => {
    const a = await RawAccount.create(c);
    const order = await a.newOrder([
      { type: "dns", value: "m1.localhost" },
      { type: "ip", value: "127.0.0.2" },
    ]);
    expectProblem(
      await a.finalize(
        order,
        await buildCsr(
          [
            { type: "dns", value: "m1.localhost" },
            { type: "ip", value: "127.0.0.2" },
          ],
          keys(),
        ),
      ),
      "orderNotReady",
      403,
    );
    await a.validate(order);
    const before = acmeIssues();
    for (const ids of [
      [{ type: "dns" as const, value: "m1.localhost" }],
      [
        { type: "dns" as const, value: "m1.localhost" },
        { type: "ip" as const, value: "127.0.0.2" },
        { type: "dns" as const, value: "extra.localhost" },
      ],
      [
        { type: "dns" as const, value: "m1.localhost" },
        { type: "dns" as const, value: "127.0.0.2" },
      ],
    ]) {
      const p = expectProblem(
        await a.finalize(order, await buildCsr(ids, keys(), { commonName: false })),
        "badCSR",
        400,
      );
      expect(String(p.detail)).toMatch(/exactly|invalid DNS name/);
    }
    const garbage = await a.post(order.body.finalize, { csr: Buffer.from("not a csr").toString("base64url") });
    expectProblem(garbage, "badCSR", 400);
    expect(acmeIssues()).toBe(before);
    expect(((await a.post(order.url, "")).json() as { status: string }).status).toBe("ready");
    const ok = await a.finalize(
      order,
      await buildCsr(
        [
          { type: "ip", value: "127.0.0.2" },
          { type: "dns", value: "m1.localhost" },
        ],
        keys(),
      ),
    );
    expect(ok.status).toBe(200);
    expect((await a.settled(order.url)).status).toBe("valid");
    // a second finalize of a valid order is orderNotReady
    expectProblem(
      await a.finalize(order, await buildCsr([{ type: "dns", value: "m1.localhost" }], keys())),
      "orderNotReady",
      403,
    );
  });

  it("a CA refusal at issuance makes the order invalid with the error", async () => {
    const a = await RawAccount.create(c);
    const order = await a.newOrder([{ type: "dns", value: "refused.localhost" }]);
    await a.validate(order);
    const { ApplianceError } = await import("../../../appliance/errors.js");
    ca.failNext.push(new ApplianceError("badKey", "RSA keys below 2048 bits are not accepted"));
    const r = await a.finalize(order, await buildCsr([{ type: "dns", value: "refused.localhost" }], keys()));
    expectProblem(r, "badCSR", 400);
    const o = await a.settled(order.url);
    expect(o.status).toBe("invalid");
    expect((o.error as { type: string }).type).toBe("urn:ietf:params:acme:error:badCSR");
  });
});

describe("identifier policy", () => {
  it("identifiers outside policy are rejectedIdentifier with one subproblem each", async () => {
    const a = await RawAccount.create(c);
    const before = (await h.db.get<{ n: number }>("SELECT count(*) AS n FROM acme_orders"))!.n;
    const r = await a.post(c.dir.newOrder!, {
      identifiers: [
        { type: "dns", value: "ok.localhost" },
        { type: "dns", value: "plc.other-zone.example" },
        { type: "ip", value: "10.0.0.5" },
      ],
    });
    const p = expectProblem(r, "rejectedIdentifier", 400);
    expect(p.subproblems).toEqual([
      {
        type: "urn:ietf:params:acme:error:rejectedIdentifier",
        detail: expect.stringContaining("outside"),
        identifier: { type: "dns", value: "plc.other-zone.example" },
      },
      {
        type: "urn:ietf:params:acme:error:rejectedIdentifier",
        detail: expect.stringContaining("outside"),
        identifier: { type: "ip", value: "10.0.0.5" },
      },
    ]);
    expect((await h.db.get<{ n: number }>("SELECT count(*) AS n FROM acme_orders"))!.n).toBe(before);
  });

  it("malformed names, unknown types, empty lists, unknown profiles and long validity are refused", async () => {
    const a = await RawAccount.create(c);
    const one = (v: unknown) => a.post(c.dir.newOrder!, { identifiers: [v] });
    expectProblem(await one({ type: "dns", value: "bad..localhost" }), "rejectedIdentifier", 400);
    expectProblem(await one({ type: "dns", value: "127.0.0.1" }), "rejectedIdentifier", 400);
    expectProblem(await one({ type: "email", value: "a@b.localhost" }), "unsupportedIdentifier", 400);
    expectProblem(await a.post(c.dir.newOrder!, { identifiers: [] }), "malformed", 400);
    const ids = [{ type: "dns", value: "p.localhost" }];
    expectProblem(await a.post(c.dir.newOrder!, { identifiers: ids, profile: "nope" }), "invalidProfile", 400);
    const notAfter = new Date(Date.now() + 2 * 86400_000).toISOString();
    expectProblem(await a.post(c.dir.newOrder!, { identifiers: ids, profile: "short", notAfter }), "malformed", 400);
    const ok = await a.post(c.dir.newOrder!, { identifiers: ids, profile: "short" });
    expect(ok.status).toBe(201);
    expect(ok.json().profile).toBe("short");
  });

  it("wildcards get dns-01 only, IP addresses never dns-01", async () => {
    const a = await RawAccount.create(c);
    const o = await a.newOrder([
      { type: "dns", value: "*.wild.localhost" },
      { type: "ip", value: "::1" },
    ]);
    const types = await Promise.all(
      o.body.authorizations.map(async (u) => {
        const z = (await a.post(u, "")).json() as {
          identifier: { value: string };
          wildcard?: boolean;
          challenges: Array<{ type: string }>;
        };
        return [z.identifier.value, z.wildcard ?? false, z.challenges.map((x) => x.type).sort()];
      }),
    );
    expect(types.sort()).toEqual([
      ["::1", false, ["http-01", "tls-alpn-01"]],
      ["wild.localhost", true, ["dns-01"]],
    ]);
  });
});

describe("validation failures", () => {
  it("a failed validation marks challenge, authorization and order invalid with the validator's reason", async () => {
    const a = await RawAccount.create(c);
    validator.failures.set("fail.localhost", {
      type: "connection",
      detail: "10.9.9.9 is outside the allowed networks",
    });
    const order = await a.newOrder([{ type: "dns", value: "fail.localhost" }]);
    await a.validate(order);
    const authz = (await a.post(order.body.authorizations[0]!, "")).json() as {
      status: string;
      challenges: Array<{ status: string; error: { type: string; detail: string } }>;
    };
    expect(authz.status).toBe("invalid");
    expect(authz.challenges).toHaveLength(1);
    expect(authz.challenges[0]!.status).toBe("invalid");
    expect(authz.challenges[0]!.error).toMatchObject({
      type: "urn:ietf:params:acme:error:connection",
      detail: "10.9.9.9 is outside the allowed networks",
    });
    const o = (await a.post(order.url, "")).json();
    expect(o.status).toBe("invalid");
    const before = acmeIssues();
    expectProblem(
      await a.finalize(order, await buildCsr([{ type: "dns", value: "fail.localhost" }], keys())),
      "orderNotReady",
      403,
    );
    expect(acmeIssues()).toBe(before);
  });

  it("too many failed validations are rateLimited with Retry-After", async () => {
    const a = await RawAccount.create(c);
    validator.failures.set("flaky.localhost", { type: "incorrectResponse", detail: "wrong key authorization" });
    let limited: RawResponse | undefined;
    for (let i = 0; i < 6 && !limited; i++) {
      const r = await a.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: "flaky.localhost" }] });
      if (r.status === 429) limited = r;
      else await a.validate({ body: r.json() as { authorizations: string[] } });
    }
    expect(limited).toBeDefined();
    expectProblem(limited!, "rateLimited", 429);
    expect(Number(limited!.headers["retry-after"])).toBeGreaterThan(0);
  });
});
