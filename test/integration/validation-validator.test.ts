// createValidator as a whole: the concurrency limit against a real slow server, the bounded queue,
// the total time bound while queued, retries of transient failures only, and "never throws".
import type http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ValidationRequest } from "../../appliance/validation/api.js";
import { createValidator } from "../../appliance/validation/validator.js";
import { type CountingServer, startHttp } from "../helpers/validation-servers.js";

const THUMB = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
const ka = (token: string) => `${token}.${THUMB}`;

let srv: CountingServer;
let open = 0;
let peak = 0;
let flaky = 0;

const handler: http.RequestListener = (req, res) => {
  open++;
  peak = Math.max(peak, open);
  res.on("close", () => open--);
  const token = (req.url ?? "").split("/").pop() ?? "";
  if (token.startsWith("hold")) {
    setTimeout(() => res.end(ka(token)), 1500);
    return;
  }
  if (token.startsWith("slow")) {
    setTimeout(() => res.end(ka(token)), 300);
    return;
  }
  if (token === "flaky") {
    // first request: hang up (transient); afterwards: answer
    if (flaky++ === 0) {
      req.socket.destroy();
      return;
    }
    res.end(ka(token));
    return;
  }
  if (token === "wrong") {
    res.end("nope");
    return;
  }
  res.end(ka(token));
};

function validator(over: Record<string, unknown> = {}) {
  return createValidator(
    {
      allowedNetworks: ["127.0.0.0/8"],
      ports: { http01: srv.port },
      resolver: { hosts: { "*.localhost": ["127.0.0.1"] } },
      timeouts: { connectMs: 1000, requestMs: 2000, totalMs: 5000 },
      retries: 0,
      ...over,
    },
    { hostAddresses: () => [] },
  );
}

const req = (token: string): ValidationRequest => ({
  type: "http-01",
  identifier: { type: "dns", value: "plc.localhost" },
  token,
  keyAuthorization: ka(token),
});

beforeAll(async () => {
  srv = await startHttp("127.0.0.1", handler);
});
afterAll(async () => {
  await srv?.close();
});

describe("validator", () => {
  it("runs at most `concurrency` validations at once and queues the rest", async () => {
    peak = 0;
    const v = validator({ concurrency: 3, maxQueued: 100 });
    const all = Array.from({ length: 12 }, (_, i) => v.validate(req(`slow${i}`)));
    await new Promise((r) => setTimeout(r, 100));
    expect(v.stats()).toMatchObject({ running: 3, queued: 9 });
    const results = await Promise.all(all);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(peak).toBe(3);
    expect(v.stats()).toEqual({ running: 0, queued: 0, succeeded: 12, failed: 0 });
  });

  it("refuses at once when the queue is full; queued ones run when a slot frees", async () => {
    const v = validator({ concurrency: 1, maxQueued: 1, timeouts: { requestMs: 2000, totalMs: 4000 } });
    const running = v.validate(req("slowA"));
    const queued = v.validate(req("slowB"));
    const refused = await v.validate(req("slowC"));
    expect(v.stats()).toMatchObject({ running: 1, queued: 1 }); // refused without waiting for a slot
    expect(refused).toMatchObject({
      ok: false,
      records: [],
      problem: { type: "serverInternal", detail: expect.stringContaining("capacity exhausted") },
    });
    expect((await running).ok).toBe(true); // the server answers after 300 ms
    const q = await queued; // ran once the first released its slot
    expect(q.ok).toBe(true);
  });

  it("a validation stuck behind others still resolves within the total bound", async () => {
    const v = validator({ concurrency: 1, maxQueued: 5, timeouts: { requestMs: 2000, totalMs: 400 } });
    const started = Date.now();
    // each holds the only slot for up to 1.5 s unless its own deadline stops it
    const all = ["holdA", "holdB", "holdC", "holdD"].map((t) => v.validate(req(t)));
    const results = await Promise.all(all);
    // unbounded this would take 4 × 1.5 s; the contract is the 400 ms limit (+200 ms hard stop)
    expect(Date.now() - started).toBeLessThan(400 + 1000);
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(r.problem?.detail).toMatch(/400 ms/);
    }
    expect(v.stats()).toMatchObject({ running: 0, queued: 0, failed: 4 });
  });

  it("retries a transient failure, but not a wrong answer", async () => {
    flaky = 0;
    const v = validator({ retries: 1, retryDelayMs: 50 });
    expect(await v.validate(req("flaky"))).toMatchObject({ ok: true });
    expect(flaky).toBe(2);
    const before = srv.connections;
    expect((await v.validate(req("wrong"))).problem?.type).toBe("unauthorized");
    expect(srv.connections - before).toBe(1);
    const noRetry = validator({ retries: 0 });
    flaky = 0;
    expect((await noRetry.validate(req("flaky"))).problem?.type).toBe("connection");
  });

  it("never throws, whatever it is given", async () => {
    const v = validator();
    for (const bad of [
      null,
      undefined,
      42,
      {},
      { type: "http-02", identifier: { type: "dns", value: "a.localhost" }, token: "t", keyAuthorization: "t.x" },
      { type: "http-01", identifier: null, token: "t", keyAuthorization: "t.x" },
      { type: "http-01", identifier: { type: "dns", value: 5 }, token: "t", keyAuthorization: "t.x" },
      { type: "http-01", identifier: { type: "dns", value: "a.localhost" }, token: 7, keyAuthorization: "t.x" },
    ]) {
      const r = await v.validate(bad as unknown as ValidationRequest);
      expect(r.ok).toBe(false);
      expect(r.problem?.type).toMatch(/serverInternal|rejectedIdentifier/);
    }
  });

  it("refuses a bad config naming the field", () => {
    expect(() => createValidator({ allowedNetworks: ["10.0.0.0/8"], resolver: {} })).toThrow(
      "validation.resolver: set dnsServers, hosts, or both",
    );
  });
});
