// tls-alpn-01 against real node TLS servers on loopback: a proper acme-tls/1 responder, broken
// certificates (SAN, extension, digest, not self-signed), no/other ALPN, IP identifiers with RFC 8738 SNI.
import net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ValidationRequest } from "../../appliance/validation/api.js";
import type { DialTarget } from "../../appliance/validation/dialer.js";
import { createValidator } from "../../appliance/validation/validator.js";
import { type ChallengeCertOptions, challengeCert } from "../helpers/acme-tls-cert.js";
import { hasIpv6Loopback } from "../helpers/bind.js";
import { type CountingServer, startTls } from "../helpers/validation-servers.js";

const THUMB = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
const TOKEN = "tls-token_1";
const KA = `${TOKEN}.${THUMB}`;
const V6_REVERSE = `${"0.".repeat(0)}1.${"0.".repeat(31)}ip6.arpa`;

const variants: Record<string, ChallengeCertOptions> = {
  "good.localhost": {},
  "wrongsan.localhost": { san: [{ type: "dns", value: "someone.localhost" }] },
  "twosans.localhost": {
    san: [
      { type: "dns", value: "twosans.localhost" },
      { type: "dns", value: "x.localhost" },
    ],
  },
  "noext.localhost": { acmeIdentifier: false },
  "noncritical.localhost": { acmeIdentifier: { critical: false } },
  "wrongdigest.localhost": { acmeIdentifier: { keyAuthorization: `${TOKEN}.other` } },
  "notselfsigned.localhost": { notSelfSigned: true },
};

let acme: CountingServer; // ALPN acme-tls/1, certificate chosen by SNI
let noAlpn: CountingServer; // TLS without ALPN
let otherAlpn: CountingServer; // ALPN http/1.1 only
let silent: net.Server; // accepts TCP, never speaks TLS
let silentPort = 0;
let acme6: CountingServer | undefined;
let wrongIp: CountingServer; // acme-tls/1 with an iPAddress certificate for 127.0.0.9
let dnsCertSrv: CountingServer; // acme-tls/1, always the good.localhost certificate
const sniSeen: (string | undefined)[] = [];
const dialed: DialTarget[] = [];
let ipv6 = false;

async function contexts(): Promise<Map<string, tls.SecureContext>> {
  const m = new Map<string, tls.SecureContext>();
  for (const [name, opts] of Object.entries(variants)) {
    const c = await challengeCert({ type: "dns", value: name }, KA, opts);
    m.set(name, tls.createSecureContext({ cert: c.certPem, key: c.keyPem }));
  }
  const ip4 = await challengeCert({ type: "ip", value: "127.0.0.1" }, KA);
  m.set("1.0.0.127.in-addr.arpa", tls.createSecureContext({ cert: ip4.certPem, key: ip4.keyPem }));
  const ip6 = await challengeCert({ type: "ip", value: "::1" }, KA);
  m.set(V6_REVERSE, tls.createSecureContext({ cert: ip6.certPem, key: ip6.keyPem }));
  return m;
}

function validator(port: number, over: Record<string, unknown> = {}) {
  return createValidator(
    {
      allowedNetworks: ["127.0.0.0/8", "::1/128"],
      ports: { http01: 80, tlsAlpn01: port },
      resolver: { hosts: { "*.localhost": ["127.0.0.1"], "v6.localhost": ["::1"], "far.localhost": ["198.18.0.1"] } },
      timeouts: { connectMs: 1000, requestMs: 800, totalMs: 4000 },
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

const req = (value: string, type: "dns" | "ip" = "dns"): ValidationRequest => ({
  type: "tls-alpn-01",
  identifier: { type, value },
  token: TOKEN,
  keyAuthorization: KA,
});

beforeAll(async () => {
  ipv6 = await hasIpv6Loopback();
  const ctx = await contexts();
  const fallback = ctx.get("good.localhost")!;
  const common = {
    SNICallback: (name: string, cb: (err: Error | null, c?: tls.SecureContext) => void) => {
      sniSeen.push(name);
      cb(null, ctx.get(name) ?? fallback);
    },
  };
  const good = await challengeCert({ type: "dns", value: "good.localhost" }, KA);
  acme = await startTls("127.0.0.1", {
    ...common,
    ALPNProtocols: ["acme-tls/1"],
    cert: good.certPem,
    key: good.keyPem,
  });
  noAlpn = await startTls("127.0.0.1", { ...common, cert: good.certPem, key: good.keyPem });
  otherAlpn = await startTls("127.0.0.1", {
    ...common,
    ALPNProtocols: ["http/1.1"],
    cert: good.certPem,
    key: good.keyPem,
  });
  const ip9 = await challengeCert({ type: "ip", value: "127.0.0.9" }, KA);
  wrongIp = await startTls("127.0.0.1", { ALPNProtocols: ["acme-tls/1"], cert: ip9.certPem, key: ip9.keyPem });
  dnsCertSrv = await startTls("127.0.0.1", { ALPNProtocols: ["acme-tls/1"], cert: good.certPem, key: good.keyPem });
  if (ipv6) {
    acme6 = await startTls("::1", { ...common, ALPNProtocols: ["acme-tls/1"], cert: good.certPem, key: good.keyPem });
  }
  silent = net.createServer((s) => s.resume()); // reads (so it sees the client hang up) but never answers
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  silentPort = (silent.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await Promise.all([acme, noAlpn, otherAlpn, acme6, wrongIp, dnsCertSrv].map((s) => s?.close()));
  await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
});

describe("tls-alpn-01", () => {
  it("accepts a proper acme-tls/1 responder; SNI is the name", async () => {
    sniSeen.length = 0;
    const r = await validator(acme.port).validate(req("good.localhost"));
    expect(r).toEqual({
      ok: true,
      records: [
        { hostname: "good.localhost", port: acme.port, addressesResolved: ["127.0.0.1"], addressUsed: "127.0.0.1" },
      ],
    });
    expect(sniSeen).toEqual(["good.localhost"]);
  });

  it("refuses each broken certificate with the reason", async () => {
    const v = validator(acme.port);
    const cases: [string, RegExp][] = [
      ["wrongsan.localhost", /subjectAltName is dNSName "someone.localhost", not dNSName wrongsan.localhost/],
      ["twosans.localhost", /2 entries; exactly one/],
      ["noext.localhost", /no acmeIdentifier extension/],
      ["noncritical.localhost", /acmeIdentifier extension is not critical/],
      ["wrongdigest.localhost", /holds a different digest/],
      ["notselfsigned.localhost", /not self-signed/],
    ];
    for (const [name, why] of cases) {
      const r = await v.validate(req(name));
      expect(r.ok, name).toBe(false);
      expect(r.problem?.type, name).toBe("unauthorized");
      expect(r.problem?.detail, name).toMatch(why);
    }
  });

  it("refuses a server without ALPN or with another protocol", async () => {
    const none = await validator(noAlpn.port).validate(req("good.localhost"));
    expect(none).toMatchObject({
      ok: false,
      problem: {
        type: "unauthorized",
        detail: expect.stringContaining("did not negotiate ALPN acme-tls/1 (got none)"),
      },
    });
    const other = await validator(otherAlpn.port).validate(req("good.localhost"));
    // node answers a client whose ALPN list has no overlap with a no_application_protocol alert
    expect(other).toMatchObject({
      ok: false,
      problem: { type: "tls", detail: expect.stringContaining("NO_APPLICATION_PROTOCOL") },
    });
  });

  it("bounds a peer that never completes the handshake, and reports plain TCP refusal", async () => {
    const started = Date.now();
    const r = await validator(silentPort).validate(req("good.localhost"));
    expect(Date.now() - started).toBeLessThan(4000);
    expect(r).toMatchObject({
      ok: false,
      problem: { type: "connection", detail: expect.stringContaining("timed out") },
    });
    const closedPort = silentPort;
    await new Promise<void>((res) => silent.close(() => res()));
    const refused = await validator(closedPort).validate(req("good.localhost"));
    expect(refused).toMatchObject({
      ok: false,
      problem: { type: "connection", detail: expect.stringContaining("refused") },
    });
    silent = net.createServer((s) => s.resume()); // reads (so it sees the client hang up) but never answers
    await new Promise<void>((res) => silent.listen(0, "127.0.0.1", res));
  });

  it("validates an IPv4 identifier with the reverse-DNS SNI and an iPAddress SAN (RFC 8738 §6)", async () => {
    sniSeen.length = 0;
    const r = await validator(acme.port).validate(req("127.0.0.1", "ip"));
    expect(r).toMatchObject({ ok: true, records: [{ hostname: "127.0.0.1", addressUsed: "127.0.0.1" }] });
    expect(sniSeen).toEqual(["1.0.0.127.in-addr.arpa"]);
    // a certificate for another address, or a dNSName one, does not pass
    const wrong = await validator(wrongIp.port).validate(req("127.0.0.1", "ip"));
    expect(wrong).toMatchObject({
      ok: false,
      problem: {
        type: "unauthorized",
        detail: expect.stringContaining("iPAddress 127.0.0.9, not iPAddress 127.0.0.1"),
      },
    });
    const dnsCert = await validator(dnsCertSrv.port).validate(req("127.0.0.1", "ip"));
    expect(dnsCert).toMatchObject({
      ok: false,
      problem: { type: "unauthorized", detail: expect.stringContaining('dNSName "good.localhost", not iPAddress') },
    });
  });

  it("validates the IPv6 loopback identifier ::1 with its ip6.arpa SNI", async () => {
    if (!ipv6 || !acme6) {
      console.warn("kernel has no IPv6 loopback: IPv6 tls-alpn-01 not exercised");
      return;
    }
    sniSeen.length = 0;
    const r = await validator(acme6.port).validate(req("::1", "ip"));
    expect(r).toMatchObject({ ok: true, records: [{ hostname: "::1", addressUsed: "::1" }] });
    expect(sniSeen).toEqual([V6_REVERSE]);
  });

  it("refuses targets outside the allowed networks and wildcards before connecting", async () => {
    dialed.length = 0;
    const before = acme.connections;
    const v = validator(acme.port, { allowedNetworks: ["127.0.0.2/32"] });
    expect((await v.validate(req("good.localhost"))).problem?.type).toBe("rejectedIdentifier");
    expect((await validator(acme.port).validate(req("far.localhost"))).problem).toMatchObject({
      type: "rejectedIdentifier",
      detail: expect.stringContaining("198.18.0.1 is outside the networks allowed"),
    });
    expect((await validator(acme.port).validate(req("*.good.localhost"))).problem?.type).toBe("rejectedIdentifier");
    expect(dialed).toEqual([]);
    expect(acme.connections).toBe(before);
  });
});
