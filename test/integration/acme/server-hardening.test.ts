// The appliance's listeners: Prometheus metrics on their own port (issuance, validation, errors,
// latency, earliest CA expiry), the HTTPS certificate renewed in place, the header timeout and
// body limit, no banners.
import { X509Certificate } from "node:crypto";
import { generateKeyPairSync } from "node:crypto";
import http from "node:http";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) =>
    http
      .get({ host: "127.0.0.1", port, path }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject),
  );
}

function peerCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, ca: h.rootPem, servername: undefined }, () => {
      const raw = s.getPeerCertificate().raw;
      s.end();
      resolve(new X509Certificate(raw));
    });
    s.on("error", reject);
  });
}

describe("metrics listener", () => {
  it("counts issuances, validations, problems and latency, and shows the earliest CA expiry", async () => {
    const a = await RawAccount.create(c);
    const o = await a.newOrder([{ type: "dns", value: "metrics.localhost" }]);
    await a.validate(o);
    await a.finalize(
      o,
      await buildCsr([{ type: "dns", value: "metrics.localhost" }], generateKeyPairSync("ec", { namedCurve: "P-256" })),
    );
    await a.post(c.dir.newOrder!, { identifiers: [{ type: "dns", value: "outside.example" }] });
    const { status, body } = await get(h.app.server.ports.metrics, "/metrics");
    expect(status).toBe(200);
    expect(body).toMatch(/^plantroot_acme_certificates_issued_total 1$/m);
    expect(body).toMatch(/^plantroot_acme_validations_total\{result="valid",type="http-01"\} 1$/m);
    expect(body).toMatch(/^plantroot_acme_problems_total\{type="rejectedIdentifier"\} 1$/m);
    expect(body).toMatch(/^plantroot_acme_request_duration_seconds_count\{route="newOrder"\} 2$/m);
    const expiry = Number(
      /^plantroot_ca_certificate_expiry_earliest_timestamp_seconds (\d+(\.\d+)?)$/m.exec(body)?.[1],
    );
    const issuing = new X509Certificate(h.ca.caCertificates().issuing);
    expect(expiry).toBe(new Date(issuing.validTo).getTime() / 1000);
    // the ACME listener does not serve metrics, the metrics listener serves nothing else
    expect((await get(h.app.server.ports.metrics, "/acme/directory")).status).toBe(404);
  });

  it("exports the store's work counters (SQLite calls, commits, write jobs)", async () => {
    const n = (body: string, re: RegExp) => Number(re.exec(body)?.[1]);
    const writer = /^plantroot_db_calls_total\{connection="writer"\} (\d+)$/m;
    const commits = /^plantroot_db_commits_total (\d+)$/m;
    const jobs = /^plantroot_db_write_jobs_total (\d+)$/m;
    const before = (await get(h.app.server.ports.metrics, "/metrics")).body;
    for (const re of [writer, commits, jobs]) expect(before).toMatch(re);
    const a = await RawAccount.create(c);
    await a.newOrder([{ type: "dns", value: "counters.localhost" }]);
    const after = (await get(h.app.server.ports.metrics, "/metrics")).body;
    expect(n(after, writer)).toBeGreaterThan(n(before, writer));
    expect(n(after, commits)).toBeGreaterThan(n(before, commits));
    expect(n(after, jobs)).toBeGreaterThan(n(before, jobs));
    expect(after).toMatch(/^plantroot_db_calls_total\{connection="reader"\} \d+$/m);
    expect(after).toMatch(/^# TYPE plantroot_db_commits_total counter$/m);
  });
});

describe("HTTPS identity", () => {
  it("is issued by the appliance's own SubCA and renewed in place without a restart", async () => {
    const port = h.app.server.ports.acme;
    const before = await peerCertificate(port);
    expect(before.issuer).toBe(new X509Certificate(h.ca.caCertificates().issuing).subject);
    expect(before.subjectAltName).toContain("IP Address:127.0.0.1");
    await h.app.server.renewTls();
    const after = await peerCertificate(port);
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect((await c.request("GET", h.directoryUrl)).status).toBe(200);
  });
});

describe("limits", () => {
  it("drops a connection whose headers never finish (header timeout)", async () => {
    const slow = await startHarness({ limits: { headersTimeoutMs: 1000, requestTimeoutMs: 2000 } });
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port: slow.app.server.ports.acme, ca: slow.rootPem }, () => {
        s.write("GET /acme/directory HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        const drip = setInterval(() => s.write("a"), 100);
        s.on("close", () => {
          clearInterval(drip);
          resolve(Date.now() - started);
        });
      });
      s.on("error", () => undefined);
      setTimeout(() => reject(new Error("the connection was never closed")), 5000);
    });
    await slow.close();
    expect(closedAfter).toBeGreaterThanOrEqual(900);
    expect(closedAfter).toBeLessThan(4000);
  });

  it("refuses a body over 64 KiB before reading it, and sends no framework banner", async () => {
    const r = await c.request("POST", c.dir.newOrder!, Buffer.alloc(65 * 1024, 0x41), {
      "Content-Type": "application/jose+json",
    });
    expect(r.status).toBe(413);
    expect(r.headers.server).toBeUndefined();
    expect(r.headers["x-powered-by"]).toBeUndefined();
  });
});
