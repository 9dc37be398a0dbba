// Account isolation (B can neither read, finalize, download nor revoke A's resources), CSRs that do
// not match the order, identifiers outside policy, failed validations — each with the right problem
// and nothing issued.
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCsr } from "../../../appliance/csr-builder.js";
import { type Harness, startHarness } from "../../helpers/acme-harness.js";
import { RawAccount, RawAcmeClient, type RawResponse } from "../../helpers/acme-raw-client.js";

let h: Harness;
let c: RawAcmeClient;

beforeAll(async () => {
  h = await startHarness({
    // the demo's validation policy (loopback only) plus one plant name that resolves outside it
    validation: ({ http01 }) => ({
      allowedNetworks: ["127.0.0.0/8", "::1/128"],
      ports: { http01, tlsAlpn01: 1 },
      resolver: {
        hosts: { localhost: ["127.0.0.1"], "*.localhost": ["127.0.0.1"], "far.plant.example": ["10.20.1.6"] },
      },
      timeouts: { totalMs: 5000 },
      retries: 0,
    }),
    acme: {
      rateLimits: {
        newAccountsPerAddress: { count: 1000, periodSeconds: 3600 },
        newOrdersPerAccount: { count: 1000, periodSeconds: 3600 },
        newOrdersPerAddress: { count: 1000, periodSeconds: 3600 },
        failedValidationsPerAccount: { count: 3, periodSeconds: 3600 },
        failedValidationsPerAddress: { count: 1000, periodSeconds: 3600 },
      },
    },
  });
  c = await new RawAcmeClient(h.directoryUrl, h.rootPem).init();
  c.publish = h.responder.publish;
});
afterAll(async () => {
  c?.close();
  await h?.close();
});

const keys = () => generateKeyPairSync("ec", { namedCurve: "P-256" });
const acmeIssues = () => h.issuedToAccounts();

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
    const requestsBefore = h.responder.requests;

    expectProblem(await b.post(order.url, ""), "unauthorized", 403);
    expectProblem(await b.post(authzUrl, ""), "unauthorized", 403);
    expectProblem(await b.post(authzUrl, { status: "deactivated" }), "unauthorized", 403);
    expectProblem(await b.post(chUrl, ""), "unauthorized", 403);
    expectProblem(await b.post(chUrl, {}), "unauthorized", 403);
    expect(h.responder.requests).toBe(requestsBefore);

    await a.validate(order);
    const csr = await buildCsr([{ type: "dns", value: "a-only.localhost" }], keys());
    expectProblem(await b.finalize(order, csr), "unauthorized", 403);
    expect(await acmeIssues()).toBe(0);

    const fin = await a.finalize(order, csr);
    expect(fin.status).toBe(200);
    const done = await a.settled(order.url);
    expect(done.status).toBe("valid");
    const certUrl = done.certificate as string;
    expectProblem(await b.post(certUrl, ""), "unauthorized", 403);
    const pem = (await a.post(certUrl, "")).body;
    const der = Buffer.from(pem.split("-----")[2]!.replace(/\s/g, ""), "base64");
    expectProblem(await b.post(c.dir.revokeCert!, { certificate: der.toString("base64url") }), "unauthorized", 403);
    const serial = new X509Certificate(pem).serialNumber.toLowerCase();
    expect(await h.ca.status(serial)).toEqual({ status: "good" });

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
      { type: "ip", value: "127.0.0.1" },
    ]);
    expectProblem(
      await a.finalize(
        order,
        await buildCsr(
          [
            { type: "dns", value: "m1.localhost" },
            { type: "ip", value: "127.0.0.1" },
          ],
          keys(),
        ),
      ),
      "orderNotReady",
      403,
    );
    await a.validate(order);
    const before = await acmeIssues();
    for (const ids of [
      [{ type: "dns" as const, value: "m1.localhost" }],
      [
        { type: "dns" as const, value: "m1.localhost" },
        { type: "ip" as const, value: "127.0.0.1" },
        { type: "dns" as const, value: "extra.localhost" },
      ],
      [
        { type: "dns" as const, value: "m1.localhost" },
        { type: "dns" as const, value: "bad..localhost" },
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
    expect(await acmeIssues()).toBe(before);
    expect(((await a.post(order.url, "")).json() as { status: string }).status).toBe("ready");
    const ok = await a.finalize(
      order,
      await buildCsr(
        [
          { type: "ip", value: "127.0.0.1" },
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

  it("a key the CA refuses (RSA 1024) makes the order invalid with badCSR; nothing is issued", async () => {
    const a = await RawAccount.create(c);
    const order = await a.newOrder([{ type: "dns", value: "refused.localhost" }]);
    await a.validate(order);
    const before = await acmeIssues();
    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const r = await a.finalize(order, await buildCsr([{ type: "dns", value: "refused.localhost" }], weak));
    expectProblem(r, "badCSR", 400);
    const o = await a.settled(order.url);
    expect(o.status).toBe("invalid");
    expect((o.error as { type: string }).type).toBe("urn:ietf:params:acme:error:badCSR");
    expect(await acmeIssues()).toBe(before);
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
        detail: expect.any(String),
        identifier: { type: "dns", value: "plc.other-zone.example" },
      },
      {
        type: "urn:ietf:params:acme:error:rejectedIdentifier",
        detail: expect.any(String),
        identifier: { type: "ip", value: "10.0.0.5" },
      },
    ]);
    expect((await h.db.get<{ n: number }>("SELECT count(*) AS n FROM acme_orders"))!.n).toBe(before);
  });

  it("malformed names, unknown types, empty lists, unknown profiles and long validity are refused", async () => {
    const a = await RawAccount.create(c);
    const one = (v: unknown) => a.post(c.dir.newOrder!, { identifiers: [v] });
    expectProblem(await one({ type: "dns", value: "bad..localhost" }), "rejectedIdentifier", 400);
    // an IP address sent as a dns identifier (older lego) is taken as the ip identifier it names
    const asIp = await one({ type: "dns", value: "127.0.0.1" });
    expect(asIp.status).toBe(201);
    expect(asIp.json().identifiers).toEqual([{ type: "ip", value: "127.0.0.1" }]);
    expectProblem(await one({ type: "email", value: "a@b.localhost" }), "unsupportedIdentifier", 400);
    expectProblem(await a.post(c.dir.newOrder!, { identifiers: [] }), "malformed", 400);
    const ids = [{ type: "dns", value: "p.localhost" }];
    expectProblem(await a.post(c.dir.newOrder!, { identifiers: ids, profile: "nope" }), "invalidProfile", 400);
    const notAfter = new Date(Date.now() + 800 * 86400_000).toISOString();
    expectProblem(
      await a.post(c.dir.newOrder!, { identifiers: ids, profile: "device-client", notAfter }),
      "malformed",
      400,
    );
    const ok = await a.post(c.dir.newOrder!, {
      identifiers: ids,
      profile: "device-client",
      notAfter: new Date(Date.now() + 7 * 86400_000).toISOString(),
    });
    expect(ok.status).toBe(201);
    expect(ok.json().profile).toBe("device-client");
  });

  it("IP addresses never get dns-01; wildcards are outside this CA's policy", async () => {
    const a = await RawAccount.create(c);
    const o = await a.newOrder([{ type: "ip", value: "::1" }]);
    const z = (await a.post(o.body.authorizations[0]!, "")).json() as { challenges: Array<{ type: string }> };
    expect(z.challenges.map((x) => x.type).sort()).toEqual(["http-01", "tls-alpn-01"]);
    const w = await a.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: "*.wild.localhost" }] });
    expectProblem(w, "rejectedIdentifier", 400);
  });
});

describe("validation failures", () => {
  async function failedAuthz(a: RawAccount, id: { type: string; value: string }, publish: boolean) {
    const order = await a.newOrder([id]);
    const saved = c.publish;
    if (!publish) c.publish = undefined;
    try {
      await a.validate(order);
    } finally {
      c.publish = saved;
    }
    const authz = (await a.post(order.body.authorizations[0]!, "")).json() as {
      status: string;
      challenges: Array<{ status: string; error: { type: string; detail: string } }>;
    };
    return { order, authz };
  }

  it("a failed validation marks challenge, authorization and order invalid with the validator's reason", async () => {
    const a = await RawAccount.create(c);
    const { order, authz } = await failedAuthz(a, { type: "dns", value: "fail.localhost" }, false);
    expect(authz.status).toBe("invalid");
    expect(authz.challenges).toHaveLength(1);
    expect(authz.challenges[0]!.status).toBe("invalid");
    expect(authz.challenges[0]!.error.type).toMatch(/:(unauthorized|incorrectResponse)$/);
    expect(authz.challenges[0]!.error.detail).toMatch(/404/);
    const o = (await a.post(order.url, "")).json();
    expect(o.status).toBe("invalid");
    const before = await acmeIssues();
    expectProblem(
      await a.finalize(order, await buildCsr([{ type: "dns", value: "fail.localhost" }], keys())),
      "orderNotReady",
      403,
    );
    expect(await acmeIssues()).toBe(before);
  });

  it("validation never connects outside the allowed networks — neither to an IP nor to a name resolving there", async () => {
    const a = await RawAccount.create(c);
    const before = await acmeIssues();
    const requests = h.responder.requests;
    for (const id of [
      { type: "ip", value: "10.20.1.5" },
      { type: "dns", value: "far.plant.example" },
    ]) {
      const { order, authz } = await failedAuthz(a, id, true);
      expect(authz.status, id.value).toBe("invalid");
      const err = authz.challenges.find((x) => x.status === "invalid")!.error;
      expect(err.detail, id.value).toMatch(/allowed|network|refus/i);
      expect(((await a.post(order.url, "")).json() as { status: string }).status).toBe("invalid");
    }
    expect(await acmeIssues()).toBe(before);
    expect(h.responder.requests).toBe(requests);
    expect(h.connects.targets.filter((t) => t.startsWith("10."))).toEqual([]);
    expect(h.connects.targets.length).toBeGreaterThan(0); // the observer does see the loopback validations
  });

  it("too many failed validations are rateLimited with Retry-After", async () => {
    const a = await RawAccount.create(c);
    let limited: RawResponse | undefined;
    for (let i = 0; i < 6 && !limited; i++) {
      const r = await a.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: `flaky${i}.localhost` }] });
      if (r.status === 429) limited = r;
      else {
        const saved = c.publish;
        c.publish = undefined;
        await a.validate({ body: r.json() as { authorizations: string[] } });
        c.publish = saved;
      }
    }
    expect(limited).toBeDefined();
    expectProblem(limited!, "rateLimited", 429);
    expect(Number(limited!.headers["retry-after"])).toBeGreaterThan(0);
  });
});
