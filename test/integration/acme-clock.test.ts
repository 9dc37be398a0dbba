// Wall-clock jumps under the running appliance (JavaScript's Date is stepped for the whole process;
// timers stay real): rate limits run on a monotonic clock, so a step back does not lock accounts out;
// orders expire by the wall clock and new ones work after any step; issuance follows the clock.
// (Nonces across steps: test/unit/acme-nonces-clock.test.ts, with the clock injected.)
import { X509Certificate } from "node:crypto";
import { DEFAULT_RATE_LIMITS } from "../../appliance/acme/rate-limits.js";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type Harness, startHarness } from "../helpers/acme-harness.js";
import { RawAccount, RawAcmeClient } from "../helpers/acme-raw-client.js";
import { csrFor } from "../helpers/csr.js";

const DAY = 86_400_000;
let h: Harness;
let c: RawAcmeClient;

beforeAll(async () => {
  // a tight order limit so a lock-out would show at once
  h = await startHarness({
    acme: { rateLimits: { ...DEFAULT_RATE_LIMITS, newOrdersPerAccount: { count: 3, periodSeconds: 3600 } } },
  });
  c = await new RawAcmeClient(h.directoryUrl, h.rootPem).init();
  c.publish = (t, ka) => h.responder.publish(t, ka);
});
afterEach(() => {
  vi.useRealTimers();
});
afterAll(async () => {
  c?.close();
  await h?.close();
});

/** Steps the wall clock by `ms` from the current (possibly already stepped) time; timers keep running. */
function step(ms: number): void {
  const to = Date.now() + ms;
  vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
  vi.setSystemTime(to);
}

describe("wall-clock jumps under ACME", () => {
  it("rate limits do not lock an account out after the clock steps back a day", async () => {
    const a = await RawAccount.create(c);
    expect((await a.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: "rl1.localhost" }] })).status).toBe(
      201,
    );
    step(-DAY);
    for (const n of ["rl2", "rl3"]) {
      const r = await a.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: `${n}.localhost` }] });
      expect(r.status, r.body).toBe(201);
    }
    // the limit itself still holds (3 per hour)
    const r4 = await a.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: "rl4.localhost" }] });
    expect(r4.status).toBe(429);
    expect(Number(r4.headers["retry-after"])).toBeLessThanOrEqual(3600);
  });

  it("orders expire by the wall clock; after steps either way new orders are issued with validity from the new time", async () => {
    const a = await RawAccount.create(c);
    const o = await a.newOrder([{ type: "dns", value: "exp.localhost" }]);
    step(8 * DAY); // past the 7-day order lifetime
    const after = (await a.post(o.url, "")).json();
    expect(after.status).toBe("invalid");
    for (const [i, jump] of [0, -3 * DAY].entries()) {
      step(jump);
      const ids = [{ type: "dns" as const, value: `clk${i}.localhost` }];
      const fresh = await a.newOrder(ids);
      await a.validate(fresh);
      expect((await a.finalize(fresh, csrFor(ids))).status).toBe(200);
      const done = await a.settled(fresh.url);
      expect(done.status).toBe("valid");
      const pem = (await a.post(done.certificate as string, "")).body;
      const leaf = new X509Certificate(pem);
      // notBefore is backdated by the CA's 300 s from the stepped clock
      expect(Math.abs(Date.parse(leaf.validFrom) - (Date.now() - 300_000))).toBeLessThan(5_000);
    }
  });
});
