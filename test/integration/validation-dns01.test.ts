// dns-01 and plant-DNS name resolution against a real BIND on loopback (test/helpers/bind.ts):
// TXT checks, wildcards, updates through RFC 2136 + TSIG, refusal of IP identifiers, dead servers.
import dgram from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ValidationRequest } from "../../appliance/validation/api.js";
import type { DialTarget } from "../../appliance/validation/dialer.js";
import { dns01Digest } from "../../appliance/validation/dns01.js";
import { createValidator } from "../../appliance/validation/validator.js";
import { type BindServer, startBind } from "../helpers/bind.js";
import { type CountingServer, startHttp } from "../helpers/validation-servers.js";

const THUMB = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
const ka = (token: string) => `${token}.${THUMB}`;

let dns: BindServer;
let web: CountingServer;
const dialed: DialTarget[] = [];

function validator(over: Record<string, unknown> = {}) {
  return createValidator(
    {
      allowedNetworks: ["127.0.0.0/8", "::1/128"],
      ports: { http01: web.port },
      resolver: { dnsServers: [dns.server] },
      timeouts: { dnsMs: 500, dnsTries: 1, totalMs: 5000 },
      retries: 0,
      ...over,
    },
    {
      hostAddresses: () => [],
      beforeConnect: (t) => {
        dialed.push(t);
        if (!(t.address.startsWith("127.") || t.address === "::1"))
          throw new Error(`test refused to dial ${t.address}`);
      },
    },
  );
}

const dnsReq = (value: string, token = "dnstoken", type: "dns" | "ip" = "dns"): ValidationRequest => ({
  type: "dns-01",
  identifier: { type, value },
  token,
  keyAuthorization: ka(token),
});

beforeAll(async () => {
  dns = await startBind({
    zone: "plant.test",
    ipv6: true,
    records: [
      "plc1 IN A 127.0.0.1",
      "v6only IN AAAA ::1",
      "elsewhere IN A 10.0.0.1",
      "alias IN CNAME plc1",
      'emptyname IN TXT "not an address"',
    ],
  });
  web = await startHttp("127.0.0.1", (req, res) => {
    const token = (req.url ?? "").split("/").pop() ?? "";
    res.end(ka(token));
  });
});

afterAll(async () => {
  await web?.close();
  await dns?.stop();
});

describe("dns-01 against BIND", () => {
  it("accepts the digest TXT record and records the resolver used", async () => {
    await dns.setTxt("_acme-challenge.plc1.plant.test", [dns01Digest(ka("t1"))]);
    const r = await validator().validate(dnsReq("plc1.plant.test", "t1"));
    expect(r).toEqual({
      ok: true,
      records: [{ hostname: "_acme-challenge.plc1.plant.test", resolver: `dns ${dns.server}` }],
    });
  });

  it("finds the right value among several TXT records", async () => {
    await dns.setTxt("_acme-challenge.multi.plant.test", ["other-value", dns01Digest(ka("t2")), "v=spf1 -all"]);
    expect((await validator().validate(dnsReq("multi.plant.test", "t2"))).ok).toBe(true);
  });

  it("validates *.x at _acme-challenge.x (RFC 8555 §8.4)", async () => {
    await dns.setTxt("_acme-challenge.wild.plant.test", [dns01Digest(ka("t3"))]);
    const r = await validator().validate(dnsReq("*.wild.plant.test", "t3"));
    expect(r).toMatchObject({ ok: true, records: [{ hostname: "_acme-challenge.wild.plant.test" }] });
  });

  it("fails a wrong value and a missing record as unauthorized, and sees an update at once", async () => {
    const name = "_acme-challenge.late.plant.test";
    const v = validator();
    const missing = await v.validate(dnsReq("late.plant.test", "t4"));
    expect(missing).toMatchObject({
      ok: false,
      problem: { type: "unauthorized", detail: `no TXT record found at ${name}` },
    });
    await dns.setTxt(name, ["stale-value"]);
    const wrong = await v.validate(dnsReq("late.plant.test", "t4"));
    expect(wrong.problem?.type).toBe("unauthorized");
    expect(wrong.problem?.detail).toContain(`expected "${dns01Digest(ka("t4"))}" (found "stale-value")`);
    await dns.setTxt(name, [dns01Digest(ka("t4"))]);
    expect((await v.validate(dnsReq("late.plant.test", "t4"))).ok).toBe(true);
    await dns.setTxt(name, []);
    expect((await v.validate(dnsReq("late.plant.test", "t4"))).problem?.type).toBe("unauthorized");
  });

  it("refuses IP identifiers (RFC 8738 §7) without any lookup", async () => {
    const r = await validator().validate(dnsReq("127.0.0.1", "t5", "ip"));
    expect(r).toEqual({
      ok: false,
      records: [],
      problem: {
        type: "rejectedIdentifier",
        detail: "dns-01 cannot validate IP identifiers (RFC 8738 §7); use http-01 or tls-alpn-01",
      },
    });
  });

  it("queries an IPv6 DNS server when the kernel has one", async () => {
    if (!dns.server6) {
      console.warn("kernel has no IPv6 loopback: DNS over ::1 not exercised");
      return;
    }
    await dns.setTxt("_acme-challenge.six.plant.test", [dns01Digest(ka("t6"))]);
    const r = await validator({ resolver: { dnsServers: [dns.server6] } }).validate(dnsReq("six.plant.test", "t6"));
    expect(r).toMatchObject({ ok: true, records: [{ resolver: `dns ${dns.server6}` }] });
  });

  it("reports a dead DNS server as a dns problem within the time bound, retrying once", async () => {
    const dead = await startHttp("127.0.0.1", () => {}); // a TCP port nobody answers DNS on (UDP closed)
    const port = dead.port;
    await dead.close();
    const started = Date.now();
    const r = await validator({
      resolver: { dnsServers: [`127.0.0.1:${port}`] },
      retries: 1,
      retryDelayMs: 100,
      timeouts: { dnsMs: 300, dnsTries: 1, totalMs: 3000 },
    }).validate(dnsReq("plc1.plant.test", "t7"));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r).toMatchObject({ ok: false, problem: { type: "dns", detail: expect.stringContaining("unreachable") } });
  });

  it("bounds a DNS server that swallows queries", async () => {
    const sink = dgram.createSocket("udp4");
    sink.on("message", () => {}); // reads, never answers
    await new Promise<void>((r) => sink.bind(0, "127.0.0.1", r));
    try {
      const v = validator({
        resolver: { dnsServers: [`127.0.0.1:${sink.address().port}`] },
        timeouts: { dnsMs: 300, dnsTries: 2, totalMs: 3000 },
      });
      for (const req of [
        dnsReq("plc1.plant.test", "t10"),
        { ...dnsReq("plc1.plant.test", "t10"), type: "http-01" as const },
      ]) {
        const started = Date.now();
        const r = await v.validate(req);
        expect(Date.now() - started).toBeLessThan(3000);
        expect(r).toMatchObject({ ok: false, problem: { type: "dns", detail: expect.stringContaining("timed out") } });
      }
    } finally {
      sink.close();
    }
  });

  it("without plant DNS servers (host map only) dns-01 is refused with a clear reason", async () => {
    const r = await validator({ resolver: { hosts: { "plc1.plant.test": ["127.0.0.1"] } } }).validate(
      dnsReq("plc1.plant.test", "t8"),
    );
    expect(r.problem).toEqual({
      type: "dns",
      detail:
        "TXT lookup of _acme-challenge.plc1.plant.test failed: no plant DNS servers are configured (static host map only), so dns-01 cannot be checked",
    });
  });

  it("accepts RFC 2136 updates only with the TSIG key", async () => {
    const bad = { ...dns, tsig: { ...dns.tsig } };
    const { execFile } = await import("node:child_process");
    const { writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const keyFile = join(dns.dir, "wrong.key");
    writeFileSync(
      keyFile,
      `key "${bad.tsig.name}" { algorithm hmac-sha256; secret "${Buffer.alloc(32, 7).toString("base64")}"; };\n`,
    );
    const out = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile("nsupdate", ["-k", keyFile], { timeout: 10_000 }, (err, _o, stderr) =>
        resolve({ code: err ? 1 : 0, stderr }),
      );
      child.stdin?.end(
        `server 127.0.0.1 ${dns.port}\nzone plant.test.\nupdate add forged.plant.test. 1 TXT "x"\nsend\n`,
      );
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/BADSIG|BADKEY|NOTAUTH|REFUSED|tsig/i);
    expect((await validator().validate(dnsReq("forged.plant.test", "t9"))).problem?.type).toBe("unauthorized");
  });
});

describe("http-01 with names resolved by plant DNS (BIND)", () => {
  const httpReq = (value: string, token = "h1"): ValidationRequest => ({
    type: "http-01",
    identifier: { type: "dns", value },
    token,
    keyAuthorization: ka(token),
  });

  it("resolves A, AAAA and CNAME through the configured server", async () => {
    const r = await validator().validate(httpReq("plc1.plant.test"));
    expect(r).toMatchObject({ ok: true, records: [{ addressesResolved: ["127.0.0.1"], addressUsed: "127.0.0.1" }] });
    expect((await validator().validate(httpReq("alias.plant.test"))).records[0]?.addressesResolved).toEqual([
      "127.0.0.1",
    ]);
    const v6 = await validator().validate(httpReq("v6only.plant.test"));
    expect(v6.records[0]?.addressesResolved).toEqual(["::1"]);
  });

  it("refuses a name whose DNS answer is outside the allowed networks, without connecting", async () => {
    dialed.length = 0;
    const r = await validator().validate(httpReq("elsewhere.plant.test"));
    expect(r).toMatchObject({
      ok: false,
      records: [{ addressesResolved: ["10.0.0.1"] }],
      problem: {
        type: "rejectedIdentifier",
        detail: expect.stringContaining("10.0.0.1 is outside the networks allowed"),
      },
    });
    expect(dialed).toEqual([]);
  });

  it("reports NXDOMAIN and no-address names as dns problems", async () => {
    expect(await validator().validate(httpReq("nosuch.plant.test"))).toMatchObject({
      ok: false,
      problem: { type: "dns", detail: expect.stringContaining("NXDOMAIN") },
    });
    expect(await validator().validate(httpReq("emptyname.plant.test"))).toMatchObject({
      ok: false,
      problem: { type: "dns", detail: `cannot resolve emptyname.plant.test (dns ${dns.server}): no A or AAAA records` },
    });
  });
});
