// Concurrent updates to one account, order, authorization and challenge (the step-ca #341/#2121
// failure modes), and resumption of work a stopped appliance left unfinished.
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ordersRepo from "../../../appliance/store/acme/orders.js";
import { buildCsr } from "../../../appliance/csr-builder.js";
import { type Harness, startHarness } from "../../helpers/acme-harness.js";
import { RawAccount, RawAcmeClient } from "../../helpers/acme-raw-client.js";

let h: Harness;
let c: RawAcmeClient;

beforeAll(async () => {
  h = await startHarness();
  c = await new RawAcmeClient(h.directoryUrl, h.rootPem).init();
  c.publish = h.responder.publish;
});
afterAll(async () => {
  c?.close();
  await h?.close();
});

const keys = () => generateKeyPairSync("ec", { namedCurve: "P-256" });

describe("one account, many orders at once", () => {
  it("40 concurrent issuances on one account all succeed and all are listed", async () => {
    const a = await RawAccount.create(c);
    const csrs = await Promise.all(
      Array.from({ length: 40 }, (_, i) => buildCsr([{ type: "dns", value: `n${i}.localhost` }], keys())),
    );
    const urls = await Promise.all(
      csrs.map(async (csr, i) => {
        const o = await a.newOrder([{ type: "dns", value: `n${i}.localhost` }]);
        await a.validate(o);
        const f = await a.finalize(o, csr);
        expect(f.status).toBe(200);
        expect((await a.settled(o.url)).status).toBe("valid");
        return o.url;
      }),
    );
    const listed = (await a.post(`${a.url}/orders`, "")).json() as { orders: string[] };
    expect(new Set(listed.orders)).toEqual(new Set(urls));
    expect(await h.issuedToAccounts()).toBe(40);
  });

  it("the same challenge answered 10 times at once is validated once", async () => {
    const a = await RawAccount.create(c);
    const o = await a.newOrder([{ type: "dns", value: "same.localhost" }]);
    const authz = (await a.post(o.body.authorizations[0]!, "")).json() as {
      challenges: Array<{ type: string; url: string; token: string }>;
    };
    const ch = authz.challenges.find((x) => x.type === "http-01")!;
    h.responder.publish(
      ch.token,
      `${ch.token}.${(await import("../../helpers/acme-raw-client.js")).thumbprint(a.key)}`,
    );
    const before = h.responder.requests;
    const rs = await Promise.all(Array.from({ length: 10 }, () => a.post(ch.url, {})));
    expect(rs.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect((await a.settled(o.url)).status).toBe("ready");
    expect(h.responder.requests - before).toBe(1);
  });

  it("the same order finalized 5 times at once is issued once", async () => {
    const a = await RawAccount.create(c);
    const o = await a.newOrder([{ type: "dns", value: "once.localhost" }]);
    await a.validate(o);
    const before = await h.issuedToAccounts();
    const csrs = await Promise.all(
      Array.from({ length: 5 }, () => buildCsr([{ type: "dns", value: "once.localhost" }], keys())),
    );
    const rs = await Promise.all(csrs.map((csr) => a.finalize(o, csr)));
    const ok = rs.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of rs.filter((x) => x.status !== 200))
      expect(r.json().type).toBe("urn:ietf:params:acme:error:orderNotReady");
    expect((await h.issuedToAccounts()) - before).toBe(1);
  });
});

describe("restart", () => {
  function onPort(url: string, port: string): string {
    return url.replace(/:\d+\//, `:${port}/`);
  }

  it("a validation in flight when the appliance stopped is resumed by the next start", async () => {
    const h1 = await startHarness({ acme: { challengeWaitMs: 50 } });
    const c1 = await new RawAcmeClient(h1.directoryUrl, h1.rootPem).init();
    const a = await RawAccount.create(c1);
    const o = await a.newOrder([{ type: "dns", value: "resume.localhost" }]);
    const authz = (await a.post(o.body.authorizations[0]!, "")).json() as {
      challenges: Array<{ type: string; url: string; token: string }>;
    };
    const ch = authz.challenges.find((x) => x.type === "http-01")!;
    h1.responder.hold = true; // the device hangs: the validation is still running at shutdown
    const r = await a.post(ch.url, {});
    expect(r.json().status).toBe("processing");
    expect(r.headers["retry-after"]).toBe("1");
    c1.close();
    await h1.close({ keep: true, graceMs: 50 });

    const { thumbprint } = await import("../../helpers/acme-raw-client.js");
    const h2 = await startHarness({
      reuse: { dir: h1.dir, tokenLabel: h1.tokenLabel },
      publish: [[ch.token, `${ch.token}.${thumbprint(a.key)}`]],
    });
    try {
      const c2 = await new RawAcmeClient(h2.directoryUrl, h2.rootPem).init();
      const port = new URL(h2.directoryUrl).port;
      const a2 = new RawAccount(c2, a.key, onPort(a.url, port));
      expect((await a2.settled(onPort(o.url, port))).status).toBe("ready");
      expect(h2.responder.requests).toBeGreaterThanOrEqual(1);
      c2.close();
    } finally {
      await h2.close();
    }
  });

  it("an order left processing (crash between intent and issuance) is issued from its stored CSR on restart", async () => {
    const h1 = await startHarness();
    const c1 = await new RawAcmeClient(h1.directoryUrl, h1.rootPem).init();
    c1.publish = h1.responder.publish;
    const a = await RawAccount.create(c1);
    const o = await a.newOrder([{ type: "dns", value: "resume2.localhost" }]);
    await a.validate(o);
    // the state finalize writes before it calls the CA: processing, with the CSR
    const id = o.url.split("/").pop()!;
    const csr = await buildCsr([{ type: "dns", value: "resume2.localhost" }], keys());
    const order = (await ordersRepo.getOrder(h1.db, id))!;
    await h1.db.write((tx) => ordersRepo.updateOrder(tx, { ...order, status: "processing" }, csr));
    c1.close();
    await h1.close({ keep: true });

    const h2 = await startHarness({ reuse: { dir: h1.dir, tokenLabel: h1.tokenLabel } });
    try {
      const c2 = await new RawAcmeClient(h2.directoryUrl, h2.rootPem).init();
      const port = new URL(h2.directoryUrl).port;
      const a2 = new RawAccount(c2, a.key, onPort(a.url, port));
      const done = await a2.settled(onPort(o.url, port));
      expect(done.status).toBe("valid");
      const issued = await h2.db.get<{ n: number }>(
        "SELECT count(*) AS n FROM ca_certificates WHERE order_id = ? AND status = 'issued'",
        [id],
      );
      expect(issued!.n).toBe(1);
      c2.close();
    } finally {
      await h2.close();
    }
  });

  it("an order left processing whose certificate the CA already recorded (kill before the order update) is completed with that certificate, not issued again", async () => {
    const h1 = await startHarness();
    const c1 = await new RawAcmeClient(h1.directoryUrl, h1.rootPem).init();
    c1.publish = h1.responder.publish;
    const a = await RawAccount.create(c1);
    const ids = [{ type: "dns" as const, value: "resume3.localhost" }];
    const o = await a.newOrder(ids);
    await a.validate(o);
    const id = o.url.split("/").pop()!;
    const csr = await buildCsr(ids, keys());
    const order = (await ordersRepo.getOrder(h1.db, id))!;
    await h1.db.write((tx) => ordersRepo.updateOrder(tx, { ...order, status: "processing" }, csr));
    // the CA records the certificate for the order; the process dies before the order says valid
    const first = await h1.ca.issue({ csr, identifiers: ids, requester: { accountId: order.accountId, orderId: id } });
    expect((await ordersRepo.getOrder(h1.db, id))!.status).toBe("processing");
    c1.close();
    await h1.close({ keep: true });

    const h2 = await startHarness({ reuse: { dir: h1.dir, tokenLabel: h1.tokenLabel } });
    try {
      const c2 = await new RawAcmeClient(h2.directoryUrl, h2.rootPem).init();
      const port = new URL(h2.directoryUrl).port;
      const a2 = new RawAccount(c2, a.key, onPort(a.url, port));
      const done = await a2.settled(onPort(o.url, port));
      expect(done.status).toBe("valid");
      const pem = (await a2.post(onPort(String(done.certificate), port), "")).body;
      const leaf = Buffer.from(
        pem.split("-----END CERTIFICATE-----")[0]!.split("-----BEGIN CERTIFICATE-----")[1]!,
        "base64",
      );
      expect(leaf.equals(first.der)).toBe(true);
      const issued = await h2.db.all<{ serial: string }>(
        "SELECT serial FROM ca_certificates WHERE order_id = ? AND status IN ('issued', 'signing')",
        [id],
      );
      expect(issued.map((r) => r.serial)).toEqual([first.serial]);
      c2.close();
    } finally {
      await h2.close();
    }
  });
});
