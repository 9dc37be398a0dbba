// http-01 against real HTTP(S) servers on loopback: correct/wrong/oversized/slow answers, redirect
// chains, redirects and names that point outside the allowed networks (never contacted), IPv6, IPs.
import type http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ValidationRequest } from "../../appliance/validation/api.js";
import type { ValidationConfigInput } from "../../appliance/validation/config.js";
import type { DialTarget } from "../../appliance/validation/dialer.js";
import { createValidator } from "../../appliance/validation/validator.js";
import { challengeCert } from "../helpers/acme-tls-cert.js";
import { hasIpv6Loopback } from "../helpers/bind.js";
import { type CountingServer, startHttp, startHttps } from "../helpers/validation-servers.js";

const THUMB = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
const ka = (token: string) => `${token}.${THUMB}`;
const PREFIX = "/.well-known/acme-challenge/";

let main: CountingServer; // 127.0.0.1:P
let other: CountingServer; // 127.0.0.2:P, outside the allow-list
let v6: CountingServer | undefined; // [::1]:P when the kernel has IPv6
let tlsSrv: CountingServer; // https on 127.0.0.1:Q (the "tls-alpn-01 port" for redirects)
let P = 0;
const seen: { host?: string; url?: string }[] = [];
let ipv6 = false;

/** The routes every test server shares; the token names the behaviour. */
const handler: http.RequestListener = (req, res) => {
  seen.push({ host: req.headers.host, url: req.url });
  const url = (req.url ?? "").split("?")[0]!;
  const token = url.startsWith(PREFIX) ? url.slice(PREFIX.length) : "";
  const loc = (l: string, code = 302) => {
    res.writeHead(code, { Location: l });
    res.end();
  };
  switch (token) {
    case "ok":
    case "ipok":
      res.end(ka(token));
      return;
    case "trailing":
      res.end(`${ka(token)}\r\n\t \n`);
      return;
    case "wrong":
      res.end(ka("someoneelse"));
      return;
    case "missing":
      res.writeHead(404).end("not here");
      return;
    case "huge":
      res.end("x".repeat(100_000));
      return;
    case "hugechunked":
      res.writeHead(200, { "Transfer-Encoding": "chunked" });
      for (let i = 0; i < 20; i++) res.write("y".repeat(1000));
      res.end();
      return;
    case "slowloris": {
      res.writeHead(200, { "Content-Length": String(ka(token).length) });
      let i = 0;
      const t = setInterval(() => {
        if (res.destroyed || i >= ka(token).length) return clearInterval(t);
        res.write(ka(token)[i++]!);
      }, 150);
      res.on("close", () => clearInterval(t));
      return;
    }
    case "hugeheader":
      res.setHeader("X-Padding", "p".repeat(40_000));
      res.end(ka(token));
      return;
    case "silent":
      return; // never answers
    case "hangup":
      req.socket.destroy();
      return;
    case "chain":
      return loc(`${PREFIX}chain2`, 301);
    case "chain2":
      return loc(`http://chain.localhost:${P}${PREFIX}chain3`, 307);
    case "chain3":
      return loc(`http://127.0.0.1:${P}${PREFIX}chain4?x=1`, 308);
    case "chain4":
      res.end(ka("chain"));
      return;
    case "loop":
      return loc(`${PREFIX}loop`);
    case "nolocation":
      res.writeHead(302).end();
      return;
    case "tootherip":
      return loc(`http://127.0.0.2:${P}${PREFIX}ok`);
    case "to10":
      return loc(`http://10.0.0.1:${P}${PREFIX}ok`);
    case "to198":
      return loc(`http://198.18.0.1${PREFIX}ok`);
    case "tometadata":
      return loc(`http://169.254.169.254${PREFIX}ok`);
    case "tomapped":
      return loc(`http://[::ffff:10.0.0.1]:${P}${PREFIX}ok`);
    case "toevilname":
      return loc(`http://evil.localhost:${P}${PREFIX}ok`);
    case "tobadport":
      return loc(`http://127.0.0.1:1${PREFIX}ok`);
    case "toftp":
      return loc(`ftp://127.0.0.1${PREFIX}ok`);
    case "tohttps":
      return loc(`https://secure.localhost:${tlsSrv.port}${PREFIX}httpsok`);
    case "httpsok":
      res.end(ka("tohttps"));
      return;
    case "v6ok":
      res.end(ka(token));
      return;
    default:
      res.writeHead(500).end();
  }
};

const dialed: DialTarget[] = [];
/** Safety net: the validator under test may only ever dial loopback; anything else aborts and is recorded. */
function beforeConnect(t: DialTarget) {
  dialed.push(t);
  if (!(t.address.startsWith("127.") || t.address === "::1")) throw new Error(`test refused to dial ${t.address}`);
}

function validator(over: Partial<ValidationConfigInput> = {}) {
  return createValidator(
    {
      allowedNetworks: ["127.0.0.1/32", "::1/128"],
      ports: { http01: P, tlsAlpn01: tlsSrv.port },
      resolver: {
        hosts: {
          "plc1.localhost": ["127.0.0.1"],
          "chain.localhost": ["127.0.0.1"],
          "secure.localhost": ["127.0.0.1"],
          "v6.localhost": ["::1"],
          "dual.localhost": ["::1", "127.0.0.1"],
          "evil.localhost": ["10.0.0.1"],
          "meta.localhost": ["169.254.169.254"],
          "other.localhost": ["127.0.0.2"],
        },
      },
      timeouts: { connectMs: 1000, requestMs: 1000, totalMs: 5000 },
      retries: 0,
      ...over,
    },
    { beforeConnect, hostAddresses: () => [] },
  );
}

const req = (token: string, value = "plc1.localhost", type: "dns" | "ip" = "dns"): ValidationRequest => ({
  type: "http-01",
  identifier: { type, value },
  token,
  keyAuthorization: ka(token),
});

beforeAll(async () => {
  ipv6 = await hasIpv6Loopback();
  const cred = await challengeCert({ type: "dns", value: "secure.localhost" }, "unused.x");
  tlsSrv = await startHttps("127.0.0.1", cred, handler);
  for (let i = 0; ; i++) {
    main = await startHttp("127.0.0.1", handler);
    P = main.port;
    try {
      other = await startHttp("127.0.0.2", handler, P);
      if (ipv6) v6 = await startHttp("::1", handler, P);
      break;
    } catch (e) {
      await main.close();
      await other?.close();
      if (i > 10) throw e;
    }
  }
});

afterAll(async () => {
  await Promise.all([main?.close(), other?.close(), v6?.close(), tlsSrv?.close()]);
});

describe("http-01", () => {
  it("accepts the key authorization and records what was contacted", async () => {
    seen.length = 0;
    const r = await validator().validate(req("ok"));
    expect(r).toEqual({
      ok: true,
      records: [
        {
          url: `http://plc1.localhost:${P}${PREFIX}ok`,
          hostname: "plc1.localhost",
          port: P,
          addressesResolved: ["127.0.0.1"],
          addressUsed: "127.0.0.1",
        },
      ],
    });
    expect(seen).toEqual([{ host: `plc1.localhost:${P}`, url: `${PREFIX}ok` }]);
  });

  it("ignores trailing whitespace only", async () => {
    expect((await validator().validate(req("trailing"))).ok).toBe(true);
  });

  it("fails a wrong body, a 404, and a redirect without Location as unauthorized", async () => {
    const v = validator();
    const wrong = await v.validate(req("wrong"));
    expect(wrong.ok).toBe(false);
    expect(wrong.problem?.type).toBe("unauthorized");
    expect(wrong.problem?.detail).toContain("did not match");
    expect(await v.validate(req("missing"))).toMatchObject({
      ok: false,
      problem: { type: "unauthorized", detail: expect.stringContaining("HTTP 404") },
    });
    expect(await v.validate(req("nolocation"))).toMatchObject({
      ok: false,
      problem: { type: "unauthorized", detail: expect.stringContaining("without Location") },
    });
  });

  it("refuses oversized bodies, declared or chunked", async () => {
    const v = validator({ maxBodyBytes: 8192 });
    for (const t of ["huge", "hugechunked"]) {
      const r = await v.validate(req(t));
      expect(r).toMatchObject({
        ok: false,
        problem: { type: "unauthorized", detail: expect.stringContaining("larger than 8192 bytes") },
      });
    }
  });

  it("refuses oversized response headers as a malformed response", async () => {
    const r = await validator().validate(req("hugeheader"));
    expect(r).toMatchObject({
      ok: false,
      problem: { type: "incorrectResponse", detail: expect.stringContaining("HPE_HEADER_OVERFLOW") },
    });
  });

  it("bounds slow and silent servers by the request timeout", async () => {
    const v = validator({ timeouts: { connectMs: 1000, requestMs: 600, totalMs: 5000 } });
    for (const t of ["slowloris", "silent"]) {
      const started = Date.now();
      const r = await v.validate(req(t));
      const took = Date.now() - started;
      expect(r).toMatchObject({
        ok: false,
        problem: { type: "connection", detail: expect.stringContaining("within 600 ms") },
      });
      expect(took).toBeGreaterThanOrEqual(550);
      expect(took).toBeLessThan(5000);
    }
  });

  it("the total bound holds even with retries", async () => {
    const v = validator({
      retries: 3,
      retryDelayMs: 300,
      timeouts: { connectMs: 1000, requestMs: 800, totalMs: 1500 },
    });
    const started = Date.now();
    const r = await v.validate(req("silent"));
    // unbounded: 4 attempts × 800 ms + delays ≈ 4 s; the contract is 1.5 s (+200 ms hard stop)
    expect(Date.now() - started).toBeLessThan(1500 + 1000);
    expect(r).toMatchObject({ ok: false, problem: { type: "connection" } });
  });

  it("reports a server that hangs up or a closed port as a connection problem", async () => {
    const v = validator();
    expect(await v.validate(req("hangup"))).toMatchObject({ ok: false, problem: { type: "connection" } });
    const closed = await startHttp("127.0.0.1", handler);
    await closed.close();
    const c = validator({ ports: { http01: closed.port, tlsAlpn01: tlsSrv.port } });
    const r = await c.validate(req("ok"));
    expect(r).toMatchObject({ ok: false, problem: { type: "connection", detail: expect.stringContaining("refused") } });
  });

  it("follows a redirect chain (relative, other name, IP literal) and records every hop", async () => {
    const r = await validator().validate(req("chain"));
    expect(r.ok).toBe(true);
    expect(r.records.map((x) => [x.url, x.hostname, x.addressUsed])).toEqual([
      [`http://plc1.localhost:${P}${PREFIX}chain`, "plc1.localhost", "127.0.0.1"],
      [`http://plc1.localhost:${P}${PREFIX}chain2`, "plc1.localhost", "127.0.0.1"],
      [`http://chain.localhost:${P}${PREFIX}chain3`, "chain.localhost", "127.0.0.1"],
      [`http://127.0.0.1:${P}${PREFIX}chain4?x=1`, "127.0.0.1", "127.0.0.1"],
    ]);
  });

  it("follows a redirect to https on the configured TLS port (Host and SNI = the name)", async () => {
    seen.length = 0;
    const r = await validator().validate(req("tohttps"));
    expect(r.ok).toBe(true);
    expect(r.records[1]).toMatchObject({
      url: `https://secure.localhost:${tlsSrv.port}${PREFIX}httpsok`,
      addressUsed: "127.0.0.1",
    });
    expect(seen[1]).toEqual({ host: `secure.localhost:${tlsSrv.port}`, url: `${PREFIX}httpsok` });
  });

  it("stops after maxRedirects", async () => {
    const before = main.connections;
    const r = await validator({ maxRedirects: 3 }).validate(req("loop"));
    expect(r).toMatchObject({
      ok: false,
      problem: { type: "connection", detail: expect.stringContaining("too many redirects") },
    });
    expect(r.records).toHaveLength(4);
    expect(main.connections - before).toBe(4);
  });

  it("never contacts a redirect target outside the allowed networks", async () => {
    const v = validator();
    const cases: [string, RegExp][] = [
      ["tootherip", /127\.0\.0\.2 is outside the networks allowed/],
      ["to10", /10\.0\.0\.1 is outside the networks allowed/],
      ["to198", /198\.18\.0\.1 is outside the networks allowed/],
      ["tometadata", /169\.254\.169\.254 is IPv4 link-local/],
      ["tomapped", /IPv4-mapped 10\.0\.0\.1\) is outside/],
      ["toevilname", /evil\.localhost resolves only to refused addresses: 10\.0\.0\.1/],
      ["tobadport", /port 1; only 80 or/],
      ["toftp", /unsupported scheme/],
    ];
    for (const [token, why] of cases) {
      dialed.length = 0;
      const otherBefore = other.connections;
      const r = await v.validate(req(token));
      expect(r.ok, token).toBe(false);
      expect(r.problem?.type, token).toBe("connection");
      expect(r.problem?.detail, token).toMatch(why);
      // exactly one connection: the first hop to 127.0.0.1; the refused hop was never dialled
      expect(dialed, token).toEqual([{ address: "127.0.0.1", port: P }]);
      expect(other.connections, token).toBe(otherBefore);
    }
  });

  it("refuses an identifier that resolves outside the allowed networks before any packet", async () => {
    const v = validator();
    for (const [value, type] of [
      ["other.localhost", "dns"],
      ["evil.localhost", "dns"],
      ["meta.localhost", "dns"],
      ["127.0.0.2", "ip"],
      ["10.0.0.1", "ip"],
      ["fe80::1", "ip"],
    ] as const) {
      dialed.length = 0;
      const otherBefore = other.connections;
      const r = await v.validate(req("ok", value, type));
      expect(r.problem?.type, value).toBe("rejectedIdentifier");
      expect(r.records[0]?.addressesResolved?.length, value).toBe(1);
      expect(dialed, value).toEqual([]);
      expect(other.connections).toBe(otherBefore);
    }
    const unknown = await v.validate(req("ok", "nobody.example"));
    expect(unknown).toMatchObject({
      ok: false,
      problem: { type: "dns", detail: expect.stringContaining("not in the static host map") },
    });
  });

  it("refuses the appliance's own listener even inside an allowed network", async () => {
    dialed.length = 0;
    const v = validator({ ownListeners: [{ address: "127.0.0.1", port: P }] });
    const r = await v.validate(req("ok"));
    expect(r).toMatchObject({
      ok: false,
      problem: { type: "rejectedIdentifier", detail: expect.stringContaining("own listeners") },
    });
    expect(dialed).toEqual([]);
    const wildcard = validator({ ownListeners: [{ address: "::", port: P }] });
    expect((await wildcard.validate(req("ok"))).problem?.type).toBe("rejectedIdentifier");
  });

  it("validates IP identifiers (RFC 8738) with the IP in URL and Host", async () => {
    seen.length = 0;
    const r = await validator().validate(req("ipok", "127.0.0.1", "ip"));
    expect(r).toMatchObject({
      ok: true,
      records: [{ url: `http://127.0.0.1:${P}${PREFIX}ipok`, addressUsed: "127.0.0.1" }],
    });
    expect(seen[0]?.host).toBe(`127.0.0.1:${P}`);
  });

  it("validates over IPv6 loopback: ::1 identifier, AAAA-only name, v6-then-v4 fallback", async () => {
    if (!ipv6) {
      console.warn("kernel has no IPv6 loopback: IPv6 http-01 not exercised");
      return;
    }
    seen.length = 0;
    const r = await validator().validate(req("v6ok", "::1", "ip"));
    expect(r).toMatchObject({ ok: true, records: [{ url: `http://[::1]:${P}${PREFIX}v6ok`, addressUsed: "::1" }] });
    expect(seen[0]?.host).toBe(`[::1]:${P}`);
    expect((await validator().validate(req("v6ok", "v6.localhost"))).records[0]?.addressUsed).toBe("::1");
    // dual-stack name: IPv6 is tried first; when it is closed, IPv4 is used
    await v6!.close();
    try {
      const d = await validator().validate(req("ok", "dual.localhost"));
      expect(d).toMatchObject({
        ok: true,
        records: [{ addressesResolved: ["::1", "127.0.0.1"], addressUsed: "127.0.0.1" }],
      });
    } finally {
      v6 = await startHttp("::1", handler, P);
    }
  });

  it("refuses wildcard identifiers and malformed requests without throwing", async () => {
    const v = validator();
    expect((await v.validate(req("ok", "*.plc1.localhost"))).problem?.type).toBe("rejectedIdentifier");
    expect((await v.validate({ ...req("ok"), token: "../../etc" })).problem).toEqual({
      type: "serverInternal",
      detail: "invalid validation request: token is not base64url",
    });
    expect((await v.validate({ ...req("ok"), keyAuthorization: "other.thumb" })).problem?.type).toBe("serverInternal");
    expect((await v.validate({ ...req("ok"), identifier: { type: "dns", value: "bad name" } })).problem?.type).toBe(
      "rejectedIdentifier",
    );
  });
});
