// Concurrent updates to one account, order, authorization and challenge (the step-ca #341/#2121
// failure modes), and resumption of work a stopped server left unfinished.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCsr } from "../../../appliance/csr-builder.js";
import { FakeCa } from "../../fakes/fake-ca.js";
import { FakeValidator } from "../../fakes/fake-validator.js";
import { type Harness, startHarness } from "../../helpers/acme-harness.js";
import { RawAccount, RawAcmeClient } from "../../helpers/acme-raw-client.js";

let h: Harness;
let ca: FakeCa;
let validator: FakeValidator;
let c: RawAcmeClient;

beforeAll(async () => {
  ca = await FakeCa.create();
  validator = new FakeValidator();
  h = await startHarness({ ca, validator });
  c = await new RawAcmeClient(h.directoryUrl, ca.issuerChainPem()).init();
});
afterAll(async () => {
  c?.close();
  await h?.close();
});

const keys = () => generateKeyPairSync("ec", { namedCurve: "P-256" });

describe("one account, many orders at once", () => {
  it("60 concurrent issuances on one account all succeed and all are listed", async () => {
    const a = await RawAccount.create(c);
    const csrs = await Promise.all(
      Array.from({ length: 60 }, (_, i) => buildCsr([{ type: "dns", value: `n${i}.localhost` }], keys())),
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
  });

  it("the same challenge answered 10 times at once is validated once", async () => {
    const a = await RawAccount.create(c);
    validator.delayMs = 50;
    const o = await a.newOrder([{ type: "dns", value: "same.localhost" }]);
    const authz = (await a.post(o.body.authorizations[0]!, "")).json() as {
      challenges: Array<{ type: string; url: string }>;
    };
    const ch = authz.challenges.find((x) => x.type === "http-01")!;
    const before = validator.calls.length;
    const rs = await Promise.all(Array.from({ length: 10 }, () => a.post(ch.url, {})));
    validator.delayMs = 0;
    expect(rs.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(validator.calls.length - before).toBe(1);
    expect(((await a.post(o.url, "")).json() as { status: string }).status).toBe("ready");
  });

  it("the same order finalized 5 times at once is issued once", async () => {
    const a = await RawAccount.create(c);
    const o = await a.newOrder([{ type: "dns", value: "once.localhost" }]);
    await a.validate(o);
    const before = ca.issueCalls.length;
    const csrs = await Promise.all(
      Array.from({ length: 5 }, () => buildCsr([{ type: "dns", value: "once.localhost" }], keys())),
    );
    const rs = await Promise.all(csrs.map((csr) => a.finalize(o, csr)));
    const ok = rs.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of rs.filter((x) => x.status !== 200))
      expect(r.json().type).toBe("urn:ietf:params:acme:error:orderNotReady");
    expect(ca.issueCalls.length - before).toBe(1);
  });
});

describe("restart", () => {
  it("a validation left unfinished by a stopped server completes after the restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "acme-restart-"));
    const v1 = new FakeValidator();
    v1.delayMs = 3000; // the first server stops before the answer comes
    const ca1 = await FakeCa.create();
    const h1 = await startHarness({ ca: ca1, validator: v1, dir, acme: { challengeWaitMs: 50 } });
    const c1 = await new RawAcmeClient(h1.directoryUrl, ca1.issuerChainPem()).init();
    const a = await RawAccount.create(c1);
    const o = await a.newOrder([{ type: "dns", value: "resume.localhost" }]);
    const authz = (await a.post(o.body.authorizations[0]!, "")).json() as {
      challenges: Array<{ type: string; url: string }>;
    };
    const r = await a.post(authz.challenges.find((x) => x.type === "http-01")!.url, {});
    expect(r.json().status).toBe("processing");
    expect(r.headers["retry-after"]).toBe("1");
    c1.close();
    await h1.server.close(50);
    await h1.db.close();

    const v2 = new FakeValidator();
    const h2 = await startHarness({ ca: ca1, validator: v2, dir });
    try {
      const c2 = await new RawAcmeClient(h2.directoryUrl, ca1.issuerChainPem()).init();
      const a2 = new RawAccount(c2, a.key, a.url.replace(/:\d+\//, `:${new URL(h2.directoryUrl).port}/`));
      const o2 = o.url.replace(/:\d+\//, `:${new URL(h2.directoryUrl).port}/`);
      let status = "";
      for (let i = 0; i < 100 && status !== "ready"; i++) {
        status = ((await a2.post(o2, "")).json() as { status: string }).status;
        await new Promise((res) => setTimeout(res, 20));
      }
      expect(status).toBe("ready");
      expect(v2.calls).toHaveLength(1);
      c2.close();
    } finally {
      await h2.close();
    }
  });

  it("an issuance left processing by a stopped server is resumed from the stored CSR", async () => {
    const dir = mkdtempSync(join(tmpdir(), "acme-restart-"));
    const ca1 = await FakeCa.create();
    const h1 = await startHarness({ ca: ca1, validator: new FakeValidator(), dir, acme: { finalizeWaitMs: 50 } });
    const c1 = await new RawAcmeClient(h1.directoryUrl, ca1.issuerChainPem()).init();
    const a = await RawAccount.create(c1);
    const o = await a.newOrder([{ type: "dns", value: "resume2.localhost" }]);
    await a.validate(o);
    ca1.delayMs = 1500;
    const f = await a.finalize(o, await buildCsr([{ type: "dns", value: "resume2.localhost" }], keys()));
    expect(f.json().status).toBe("processing");
    expect(f.headers["retry-after"]).toBe("1");
    c1.close();
    await h1.server.close(50);
    await h1.db.close();
    ca1.delayMs = 0;
    const issuedBefore = ca1.issueCalls.length;

    const h2 = await startHarness({ ca: ca1, validator: new FakeValidator(), dir });
    try {
      const c2 = await new RawAcmeClient(h2.directoryUrl, ca1.issuerChainPem()).init();
      const port = new URL(h2.directoryUrl).port;
      const a2 = new RawAccount(c2, a.key, a.url.replace(/:\d+\//, `:${port}/`));
      const done = await a2.settled(o.url.replace(/:\d+\//, `:${port}/`));
      expect(done.status).toBe("valid");
      expect(ca1.issueCalls.length).toBe(issuedBefore + 1); // issued again from the stored CSR
      c2.close();
    } finally {
      await h2.close();
    }
  });
});
