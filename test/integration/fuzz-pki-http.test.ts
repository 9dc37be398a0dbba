// Hostile input through the real PKI HTTP app and the real CA (SoftHSM, sqlite): OCSP over POST and
// GET with random, mutated and re-encoded requests, random methods and paths, raw malformed HTTP, and
// mutated CSRs into issue(). Every request gets a proper answer (an OCSPResponse, 4xx), never a 500,
// a hang or internals; the CA's error hook stays silent; a refused CSR leaves no record behind.
import { request as httpRequest, Agent, type Server } from "node:http";
import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { BasicOCSPResponse, OCSPResponse } from "@peculiar/asn1-ocsp";
import { AsnConvert } from "@peculiar/asn1-schema";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { derToPem } from "../../appliance/ca/cert-parse.js";
import { OCSP_STATUS } from "../../appliance/ca/ocsp.js";
import { createPkiHttpApp } from "../../appliance/ca/http.js";
import { ApplianceError } from "../../appliance/errors.js";
import { caFixture, type CaFixture } from "../helpers/ca-fixture.js";
import { buildCsr, csrFor, p256 } from "../helpers/csr.js";
import { arbMutatedDer, INTERNALS, runs } from "../helpers/fuzz.js";
import { openssl, writeTemp } from "../helpers/softhsm.js";

let f: CaFixture;
let server: Server;
let port: number;
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
const caErrors: unknown[] = [];
let OCSP_SAMPLES: Buffer[] = [];
let leafSerial = "";

beforeAll(async () => {
  f = await caFixture({}, { onError: (e) => caErrors.push(e) });
  server = createPkiHttpApp(f.ca).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  port = (server.address() as { port: number }).port;
  const subPem = writeTemp(f.dir, "sub.pem", derToPem(f.boot.issuingDer));
  const leaves: string[] = [];
  for (const name of ["good", "revoked"]) {
    const ids = [{ type: "dns" as const, value: `${name}.plant.example` }];
    const c = await f.ca.issue({ csr: csrFor(ids), identifiers: ids, requester: { accountId: "fuzz" } });
    leaves.push(writeTemp(f.dir, `${name}.pem`, derToPem(c.der)));
    if (name === "revoked") await f.ca.revoke(c.serial, 1, { actor: "operator:test" });
    else leafSerial = c.serial;
  }
  const req = (args: string[]) => {
    const out = `${f.dir}/req-${OCSP_SAMPLES.length}.der`;
    openssl(["ocsp", "-issuer", subPem, ...args, "-reqout", out]);
    return readFileSync(out);
  };
  OCSP_SAMPLES = [
    req(["-cert", leaves[0]!]),
    req(["-cert", leaves[1]!, "-no_nonce"]),
    req(["-sha256", "-cert", leaves[0]!, "-cert", leaves[1]!]),
    req(["-serial", "0x1234567890", "-no_nonce"]),
  ];
});
afterAll(async () => {
  agent.destroy();
  await new Promise((r) => server.close(r));
  await f.close();
});

interface Answer {
  status: number;
  type: string | undefined;
  body: Buffer;
}

/** One HTTP request with a raw path (no URL normalisation); bounded in time. */
function send(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      { host: "127.0.0.1", port, method, path, agent, headers: { ...headers }, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode!, type: res.headers["content-type"], body: Buffer.concat(chunks) }),
        );
      },
    );
    r.on("timeout", () => r.destroy(new Error(`no answer within 10 s: ${method} ${path.slice(0, 80)}`)));
    r.on("error", reject);
    r.end(body);
  });
}

function ocspStatus(der: Buffer): number {
  const resp = AsnConvert.parse(der, OCSPResponse);
  if (resp.responseStatus === 0) AsnConvert.parse(resp.responseBytes!.response.buffer, BasicOCSPResponse);
  return resp.responseStatus;
}

function expectProperOcsp(a: Answer): number {
  expect(a.status).toBe(200);
  expect(a.type).toBe("application/ocsp-response");
  const s = ocspStatus(a.body);
  expect([OCSP_STATUS.successful, OCSP_STATUS.malformedRequest, OCSP_STATUS.unauthorized]).toContain(s);
  return s;
}

const PROPER = new Set([200, 400, 404, 405, 413, 414, 415, 431]);
function expectProper(a: Answer): void {
  expect(PROPER.has(a.status), `status ${a.status}`).toBe(true);
  expect(a.body.toString("latin1")).not.toMatch(INTERNALS);
}

/** GET encodings of request bytes: RFC 6960 base64 + URL-encoding, base64url, raw, mangled. */
const arbGetPath = (der: fc.Arbitrary<Buffer>) =>
  fc.oneof(
    der.map((d) => `/ocsp/${encodeURIComponent(d.toString("base64"))}`),
    der.map((d) => `/ocsp/${d.toString("base64")}`),
    der.map((d) => `/ocsp/${d.toString("base64url")}`),
    der.map((d) => `/ocsp/${encodeURIComponent(encodeURIComponent(d.toString("base64")))}`),
    fc
      .tuple(der, fc.nat(), fc.constantFrom("%", "%2", "%zz", "%00", "?", "#", "//", "/../", "=", "==", "%2F%2F", ";"))
      .map(([d, at, junk]) => {
        const b = encodeURIComponent(d.toString("base64"));
        const i = at % (b.length + 1);
        return `/ocsp/${b.slice(0, i)}${junk}${b.slice(i)}`;
      }),
    fc.stringMatching(/^[A-Za-z0-9+/=%_\-.~]{0,200}$/).map((s) => `/ocsp/${s}`),
  );

describe("OCSP through the PKI HTTP app under hostile input", () => {
  it("the samples get signed answers (good, revoked, unknown)", async () => {
    for (const s of OCSP_SAMPLES) {
      const a = await send("POST", "/ocsp", s, { "content-type": "application/ocsp-request" });
      expect(expectProperOcsp(a)).toBe(OCSP_STATUS.successful);
    }
  });

  it("POST: random and mutated request bodies", async () => {
    let ok = 0;
    await fc.assert(
      fc.asyncProperty(arbMutatedDer(OCSP_SAMPLES), async (der) => {
        const a = await send("POST", "/ocsp", der, { "content-type": "application/ocsp-request" });
        if (expectProperOcsp(a) === OCSP_STATUS.successful) ok++;
      }),
      { numRuns: runs(1500) },
    );
    expect(ok).toBeGreaterThan(0);
  });

  it("GET: mutated requests in base64, base64url, double-encoded and mangled URL forms", async () => {
    await fc.assert(
      fc.asyncProperty(arbGetPath(arbMutatedDer(OCSP_SAMPLES)), async (path) => {
        const a = await send("GET", path);
        expectProper(a);
        if (a.status === 200) expectProperOcsp(a);
      }),
      { numRuns: runs(1500) },
    );
  });

  it("POST: odd content types, oversized and empty bodies", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          "application/ocsp-request",
          "application/OCSP-request; charset=binary",
          "text/plain",
          "",
          "application/ocsp-request, text/html",
          "multipart/form-data; boundary=x",
        ),
        fc.oneof(
          arbMutatedDer(OCSP_SAMPLES),
          fc.nat(40_000).map((n) => Buffer.alloc(n, 0x30)),
          fc.constant(Buffer.alloc(0)),
        ),
        async (type, body) => {
          const a = await send("POST", "/ocsp", body, type ? { "content-type": type } : {});
          expectProper(a);
          if (a.status === 200) expectProperOcsp(a);
          if (body.length > 8192) expect(a.status === 413 || a.status === 415).toBe(true);
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it("random methods and paths: 2xx/4xx with no internals", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "PROPFIND"),
        fc.oneof(
          fc.constantFrom(
            "/",
            "/ca/issuing.crt",
            "/ca/root.crt",
            "/ca/issuing.crl",
            "/ca/root.crl",
            "/ocsp",
            "/ocsp/",
            "/ca/../ca/root.crt",
            "/ca/%2e%2e/root.crt",
            "/CA/ROOT.CRT",
            "/ocsp?x=1",
            "//ocsp",
            "/ca/issuing.crl?nocache=1",
          ),
          fc.webPath(),
          fc.stringMatching(/^\/[A-Za-z0-9/%._~-]{0,120}$/),
        ),
        async (method, path) => {
          let a: Answer;
          try {
            a = await send(method, path, method === "POST" ? Buffer.from("x") : undefined);
          } catch (e) {
            // the client itself refused to send it (unescaped characters): nothing reached the server
            if ((e as { code?: string }).code === "ERR_UNESCAPED_CHARACTERS") return;
            throw e;
          }
          expectProper(a);
        },
      ),
      { numRuns: runs(800) },
    );
  });

  it("raw malformed HTTP on the socket is answered or closed, and the server keeps serving", async () => {
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const s = connect(port, "127.0.0.1");
        let out = "";
        s.on("data", (d) => {
          out += d.toString("latin1");
        });
        s.on("close", () => resolve(out));
        s.on("error", () => resolve(out));
        s.setTimeout(5000, () => s.destroy());
        s.end(text);
      });
    const cases = [
      "GET /ocsp/MAA= HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: 100\r\n\r\n0\u0003",
      "POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GARBAGE\r\n\r\n",
      `GET /ocsp/${"A".repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET / HTTP/1.1\r\nHost: x\r\n${"X-Junk: y\r\n".repeat(5000)}\r\n`,
      "GET / HTTP/9.9\r\n\r\n",
      "\u0000\u0001\u0002\r\n\r\n",
    ];
    for (const c of cases) {
      const out = await raw(c);
      if (out) {
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(out)?.[1]);
        expect(status, out.slice(0, 100)).toBeLessThan(500);
        expect(out).not.toMatch(INTERNALS);
      }
    }
    const after = await send("POST", "/ocsp", OCSP_SAMPLES[0], { "content-type": "application/ocsp-request" });
    expect(expectProperOcsp(after)).toBe(OCSP_STATUS.successful);
  });

  it("the CA's error hook saw nothing: every refusal above was an answer, not an internal failure", () => {
    expect(caErrors).toEqual([]);
  });
});

describe("mutated CSRs into the real CA", () => {
  it("refused with a typed error and no record; anything accepted is recorded exactly once", async () => {
    const k = p256();
    const samples = [
      { ids: [{ type: "dns" as const, value: "m1.plant.example" }] },
      {
        ids: [
          { type: "dns" as const, value: "m2.plant.example" },
          { type: "ip" as const, value: "10.20.1.1" },
        ],
      },
    ].map((s) => ({
      ...s,
      der: buildCsr({ privateKey: k.privateKey, spki: k.spki, sans: s.ids, cn: s.ids[0]!.value }),
    }));
    const count = async () => (await f.db.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates"))!.n;
    // positive control: the unmutated samples are issued
    for (const s of samples) {
      const before = await count();
      await f.ca.issue({ csr: s.der, identifiers: s.ids, requester: { accountId: "fuzz" } });
      expect(await count()).toBe(before + 1);
    }
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...samples), arbMutatedDer(samples.map((s) => s.der)), async (s, der) => {
        const before = await count();
        try {
          const cert = await f.ca.issue({ csr: der, identifiers: s.ids, requester: { accountId: "fuzz" } });
          expect(await count()).toBe(before + 1);
          expect((await f.ca.getCertificate(cert.serial))?.der.equals(cert.der)).toBe(true);
        } catch (e) {
          if (!(e instanceof ApplianceError)) throw e;
          expect(["badCSR", "badKey", "rejectedIdentifier", "policyViolation"]).toContain(e.kind);
          expect(e.message).not.toMatch(INTERNALS);
          expect(await count()).toBe(before);
        }
      }),
      { numRuns: runs(400) },
    );
    expect((await f.ca.getCertificate(leafSerial))?.revocation.status).toBe("good");
    expect(caErrors).toEqual([]);
  });
});
