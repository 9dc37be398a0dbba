// Pure parts of the validation authority: config schema, identifiers, host map, http-01 redirect
// and body rules, the tls-alpn-01 certificate checks, the semaphore.
import * as x509 from "@peculiar/x509";
import { describe, expect, it } from "vitest";
import { ApplianceError } from "../../appliance/errors.js";
import {
  demoValidationConfig,
  parseValidationConfig,
  validationConfigSchema,
} from "../../appliance/validation/config.js";
import { dns01Digest, dns01Name } from "../../appliance/validation/dns01.js";
import { checkKeyAuthorizationBody, firstHop, parseRedirect } from "../../appliance/validation/http01.js";
import { parseIdentifier } from "../../appliance/validation/names.js";
import { lookupHostMap } from "../../appliance/validation/resolver.js";
import { QueueFullError, Semaphore } from "../../appliance/validation/semaphore.js";
import { checkAcmeTlsCertificate } from "../../appliance/validation/tlsalpn01.js";
import { challengeCert } from "../helpers/acme-tls-cert.js";

const KA = "tok_en-123.thumbPRINT_-abc";

describe("config", () => {
  it("fills defaults and keeps what was given", () => {
    const c = parseValidationConfig({ allowedNetworks: ["10.0.0.0/8"], resolver: { dnsServers: ["10.0.0.53"] } });
    expect(c.ports).toEqual({ http01: 80, tlsAlpn01: 443 });
    expect(c.timeouts).toEqual({ connectMs: 5000, requestMs: 10000, dnsMs: 3000, dnsTries: 2, totalMs: 30000 });
    expect(c).toMatchObject({ maxRedirects: 10, maxBodyBytes: 8192, retries: 1, concurrency: 32, maxQueued: 1000 });
    expect(c.ownListeners).toEqual([]);
    expect(c.refuseHostAddresses).toBe(true);
  });

  it("refuses bad configs naming the field", () => {
    const bad = (input: unknown, field: RegExp) => {
      try {
        parseValidationConfig(input);
        throw new Error("accepted");
      } catch (e) {
        expect(e).toBeInstanceOf(ApplianceError);
        expect((e as ApplianceError).kind).toBe("malformed");
        expect((e as Error).message).toMatch(field);
      }
    };
    const dns = { dnsServers: ["10.0.0.53"] };
    bad({ allowedNetworks: [], resolver: dns }, /^validation\.allowedNetworks:/);
    bad({ allowedNetworks: ["10.1.2.3/8"], resolver: dns }, /^validation\.allowedNetworks\.0: host bits set/);
    bad({ allowedNetworks: ["10.0.0.0/8"], resolver: {} }, /^validation\.resolver: set dnsServers, hosts, or both/);
    bad({ allowedNetworks: ["10.0.0.0/8"], resolver: { dnsServers: ["ns1.plant"] } }, /resolver\.dnsServers\.0/);
    bad({ allowedNetworks: ["10.0.0.0/8"], resolver: { hosts: { Bad_Name: ["10.0.0.1"] } } }, /resolver\.hosts/);
    bad({ allowedNetworks: ["10.0.0.0/8"], resolver: { hosts: { a: ["nope"] } } }, /resolver\.hosts\.a\.0/);
    bad({ allowedNetworks: ["10.0.0.0/8"], resolver: dns, ports: { http01: 0 } }, /ports\.http01/);
    bad({ allowedNetworks: ["10.0.0.0/8"], resolver: dns, maxRedirects: 11 }, /maxRedirects/);
    bad({ allowedNetworks: ["10.0.0.0/8"], resolver: dns, timeout: {} }, /timeout/);
    bad(
      { allowedNetworks: ["10.0.0.0/8"], resolver: dns, ownListeners: [{ address: "::", port: 99999 }] },
      /ownListeners\.0\.port/,
    );
  });

  it("accepts DNS servers with ports and IPv6, and the demo config", () => {
    const c = validationConfigSchema.parse({
      allowedNetworks: ["fd00::/8"],
      resolver: { dnsServers: ["127.0.0.1:5353", "[::1]:53", "2001:db8::53"] },
    });
    expect(c.resolver.dnsServers).toHaveLength(3);
    const d = demoValidationConfig({ http01Port: 5002, ownListeners: [{ address: "127.0.0.1", port: 8443 }] });
    expect(d.allowedNetworks).toEqual(["127.0.0.0/8", "::1/128"]);
    expect(d.resolver.hosts).toEqual({ localhost: ["127.0.0.1"], "*.localhost": ["127.0.0.1"] });
    expect(d.ports).toEqual({ http01: 5002, tlsAlpn01: 443 });
  });
});

describe("identifiers and names", () => {
  it("parses dns and ip identifiers and refuses junk", () => {
    expect(parseIdentifier({ type: "dns", value: "PLC1.Plant.test" })).toEqual({
      ok: true,
      target: { kind: "dns", name: "plc1.plant.test", wildcard: false },
    });
    expect(parseIdentifier({ type: "dns", value: "*.plant.test" })).toMatchObject({
      ok: true,
      target: { wildcard: true },
    });
    expect(parseIdentifier({ type: "ip", value: "::ffff:10.0.0.1" })).toMatchObject({
      ok: true,
      target: { kind: "ip", text: "::ffff:10.0.0.1" },
    });
    for (const v of ["", "a..b", "-a.b", "a_b.c", "*.*.a", "a.*.b", "1.2.3.4", "x".repeat(64), "ünicode.test"]) {
      expect(parseIdentifier({ type: "dns", value: v }).ok, v).toBe(false);
    }
    expect(parseIdentifier({ type: "ip", value: "plc1" }).ok).toBe(false);
    expect(parseIdentifier({ type: "email" as "dns", value: "a@b" }).ok).toBe(false);
  });

  it("host map: exact beats pattern, the longest pattern wins, a pattern needs one more label", () => {
    const hosts = {
      localhost: ["127.0.0.1"],
      "*.localhost": ["127.0.0.2"],
      "*.lab.localhost": ["127.0.0.3"],
      "plc.lab.localhost": ["127.0.0.4"],
    };
    expect(lookupHostMap(hosts, "localhost")).toEqual(["127.0.0.1"]);
    expect(lookupHostMap(hosts, "a.localhost")).toEqual(["127.0.0.2"]);
    expect(lookupHostMap(hosts, "b.a.localhost")).toEqual(["127.0.0.2"]);
    expect(lookupHostMap(hosts, "x.lab.localhost")).toEqual(["127.0.0.3"]);
    expect(lookupHostMap(hosts, "plc.lab.localhost")).toEqual(["127.0.0.4"]);
    expect(lookupHostMap(hosts, "lab.localhost")).toEqual(["127.0.0.2"]);
    expect(lookupHostMap(hosts, "xlocalhost")).toBeUndefined();
    expect(lookupHostMap(hosts, "example.test")).toBeUndefined();
    expect(lookupHostMap(hosts, "constructor")).toBeUndefined();
  });

  it("dns-01 name and digest (RFC 8555 §8.4 example shape)", () => {
    const t = parseIdentifier({ type: "dns", value: "*.plant.test" });
    if (!t.ok || t.target.kind !== "dns") throw new Error("parse");
    expect(dns01Name(t.target)).toBe("_acme-challenge.plant.test");
    expect(dns01Digest("abc")).toBe("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  });
});

describe("http-01 rules", () => {
  const ports = { http01: 5002, tlsAlpn01: 5001 };
  const t = parseIdentifier({ type: "dns", value: "plc1.plant.test" });
  if (!t.ok) throw new Error("parse");
  const hop = firstHop(t.target, "tok", 5002);

  it("builds the first URL per RFC 8555 / RFC 8738", () => {
    expect(hop.url).toBe("http://plc1.plant.test:5002/.well-known/acme-challenge/tok");
    const v6 = parseIdentifier({ type: "ip", value: "::1" });
    if (!v6.ok) throw new Error("parse");
    expect(firstHop(v6.target, "tok", 80).url).toBe("http://[::1]/.well-known/acme-challenge/tok");
  });

  it("follows redirects only to http/https on the allowed ports, without credentials", () => {
    const ok = (loc: string) => {
      const r = parseRedirect(loc, hop, ports);
      if (!r.ok) throw new Error(r.reason);
      return r.hop;
    };
    expect(ok("/other?x=1")).toMatchObject({
      scheme: "http",
      hostText: "plc1.plant.test",
      port: 5002,
      path: "/other?x=1",
    });
    expect(ok("http://10.0.0.1/x")).toMatchObject({ host: { kind: "ip" }, hostText: "10.0.0.1", port: 80 });
    expect(ok("https://[::1]:5001/y")).toMatchObject({ scheme: "https", hostText: "::1", port: 5001 });
    expect(ok("https://Other.Plant.Test./z#frag")).toMatchObject({
      hostText: "other.plant.test",
      port: 443,
      path: "/z",
    });
    // WHATWG URL canonicalises odd IPv4 forms; the guard then sees the real address
    expect(ok("http://0x7f.1/")).toMatchObject({ hostText: "127.0.0.1" });
    expect(ok("http://[::ffff:a9fe:a9fe]/")).toMatchObject({ hostText: "::ffff:169.254.169.254" });
    for (const [loc, why] of [
      ["ftp://plc1/x", /scheme/],
      ["file:///etc/passwd", /scheme/],
      ["gopher://x/", /scheme/],
      ["http://plc1.plant.test:8080/", /port 8080/],
      ["https://plc1.plant.test:5002/", /port 5002/],
      ["http://user:pw@plc1.plant.test/", /credentials/],
      ["http://a_b.test/", /invalid host/],
      ["http://[fe80::1%25eth0]/", /unparsable|invalid host/],
    ] as const) {
      const r = parseRedirect(loc, hop, ports);
      expect(r.ok, loc).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(why);
    }
  });

  it("compares the body exactly, ignoring only trailing whitespace", () => {
    expect(checkKeyAuthorizationBody(Buffer.from(KA), KA).ok).toBe(true);
    expect(checkKeyAuthorizationBody(Buffer.from(`${KA}\r\n \t\n`), KA).ok).toBe(true);
    expect(checkKeyAuthorizationBody(Buffer.from(` ${KA}`), KA).ok).toBe(false);
    expect(checkKeyAuthorizationBody(Buffer.from(`${KA}x`), KA).ok).toBe(false);
    expect(checkKeyAuthorizationBody(Buffer.from(KA.slice(0, -1)), KA).ok).toBe(false);
    expect(checkKeyAuthorizationBody(Buffer.from(`${KA}\u00a0`), KA).ok).toBe(false);
    expect(checkKeyAuthorizationBody(Buffer.from(KA.toUpperCase()), KA).ok).toBe(false);
    const r = checkKeyAuthorizationBody(Buffer.from("<html>\x00\x1b[31mevil"), KA);
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) expect(r.detail).toContain('got "<html>??[31mevil"');
  });
});

describe("tls-alpn-01 certificate checks", () => {
  const dns = { type: "dns" as const, value: "plc1.plant.test" };
  const dnsTarget = { kind: "dns" as const, name: "plc1.plant.test", wildcard: false };

  it("accepts a proper challenge certificate for a name and for an IP", async () => {
    expect(await checkAcmeTlsCertificate((await challengeCert(dns, KA)).der, dnsTarget, KA)).toEqual({ ok: true });
    const ip = parseIdentifier({ type: "ip", value: "2001:db8::7" });
    if (!ip.ok) throw new Error("parse");
    const c = await challengeCert({ type: "ip", value: "2001:db8::7" }, KA);
    expect(await checkAcmeTlsCertificate(c.der, ip.target, KA)).toEqual({ ok: true });
    const v4 = parseIdentifier({ type: "ip", value: "192.0.2.7" });
    if (!v4.ok) throw new Error("parse");
    expect(
      await checkAcmeTlsCertificate((await challengeCert({ type: "ip", value: "192.0.2.7" }, KA)).der, v4.target, KA),
    ).toEqual({
      ok: true,
    });
  });

  it("accepts a challenge certificate without keyCertSign (as Go's crypto/x509, e.g. lego, makes it)", async () => {
    const goLike = await challengeCert(dns, KA, {
      keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
    });
    expect(await checkAcmeTlsCertificate(goLike.der, dnsTarget, KA)).toEqual({ ok: true });
  });

  it("refuses each broken variant with a reason", async () => {
    const cases: [Parameters<typeof challengeCert>[2], RegExp][] = [
      [{ san: [{ type: "dns", value: "other.plant.test" }] }, /not dNSName plc1/],
      [{ san: [dns, { type: "dns", value: "x.plant.test" }] }, /2 entries/],
      [{ san: [{ type: "ip", value: "192.0.2.1" }] }, /iPAddress 192.0.2.1, not dNSName/],
      [{ acmeIdentifier: false }, /no acmeIdentifier/],
      [{ acmeIdentifier: { critical: false } }, /not critical/],
      [{ acmeIdentifier: { keyAuthorization: "other.thumb" } }, /a different digest/],
      [{ acmeIdentifier: { rawValue: new Uint8Array(32) } }, /not a 32-byte OCTET STRING/],
      [{ notSelfSigned: true }, /not self-signed/],
      [{ selfIssuedOtherKey: true }, /not self-signed/],
    ];
    for (const [opts, why] of cases) {
      const r = await checkAcmeTlsCertificate((await challengeCert(dns, KA, opts)).der, dnsTarget, KA);
      expect(r.ok, String(why)).toBe(false);
      if (!r.ok) expect(r.detail).toMatch(why);
    }
    const ip = parseIdentifier({ type: "ip", value: "192.0.2.7" });
    if (!ip.ok) throw new Error("parse");
    const wrongIp = await challengeCert({ type: "ip", value: "192.0.2.8" }, KA);
    expect(await checkAcmeTlsCertificate(wrongIp.der, ip.target, KA)).toMatchObject({ ok: false });
    const mapped = await challengeCert({ type: "ip", value: "::ffff:192.0.2.7" }, KA);
    expect(await checkAcmeTlsCertificate(mapped.der, ip.target, KA)).toMatchObject({ ok: false });
    expect(await checkAcmeTlsCertificate(new Uint8Array([1, 2, 3]), dnsTarget, KA)).toMatchObject({ ok: false });
  });
});

describe("semaphore", () => {
  it("caps concurrency, queues FIFO, bounds the queue and honours aborts", async () => {
    const s = new Semaphore(2, 2);
    const r1 = await s.acquire();
    const r2 = await s.acquire();
    const order: number[] = [];
    const p3 = s.acquire().then((r) => {
      order.push(3);
      return r;
    });
    const ac = new AbortController();
    const p4 = s.acquire(ac.signal);
    await expect(s.acquire()).rejects.toBeInstanceOf(QueueFullError);
    expect([s.running, s.queued]).toEqual([2, 2]);
    ac.abort(new Error("gone"));
    await expect(p4).rejects.toThrow("gone");
    expect(s.queued).toBe(1);
    r1();
    r1(); // releasing twice is harmless
    const r3 = await p3;
    expect(order).toEqual([3]);
    expect([s.running, s.queued]).toEqual([2, 0]);
    r2();
    r3();
    expect(s.running).toBe(0);
  });
});
