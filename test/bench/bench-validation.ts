// npm run bench:validation — http-01 and tls-alpn-01 validations per second and CPU ms per validation
// in this process, against a plain fresh-connection GET / TLS handshake measured in the same run as the
// reference (the floor any validator pays). The target servers run in a child process so their CPU is
// not counted. BENCH_SECONDS (default 2) per measurement.
import "reflect-metadata";
import { type ChildProcess, fork } from "node:child_process";
import http from "node:http";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { createValidator } from "../../appliance/validation/validator.js";
import { challengeCert } from "../helpers/acme-tls-cert.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const THUMB = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
const TOKEN = "benchtoken";
const KA = `${TOKEN}.${THUMB}`;

if (process.argv[2] === "serve") {
  // child: an http-01 responder and an acme-tls/1 responder on loopback
  const cert = await challengeCert({ type: "dns", value: "plc.localhost" }, KA);
  const h = http.createServer((_req, res) => res.end(KA));
  h.keepAliveTimeout = 1;
  const t = tls.createServer({ cert: cert.certPem, key: cert.keyPem, ALPNProtocols: ["acme-tls/1"] }, (s) => {
    s.on("error", () => {});
    s.end();
  });
  t.on("tlsClientError", () => {});
  await new Promise<void>((r) => h.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => t.listen(0, "127.0.0.1", r));
  process.send!({ http: (h.address() as { port: number }).port, tls: (t.address() as { port: number }).port });
} else {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ["serve"], { stdio: "inherit" });
  const ports = await new Promise<{ http: number; tls: number }>((r) => child.once("message", (m) => r(m as never)));

  const v = createValidator(
    {
      allowedNetworks: ["127.0.0.0/8"],
      ports: { http01: ports.http, tlsAlpn01: ports.tls },
      resolver: { hosts: { "plc.localhost": ["127.0.0.1"] } },
      concurrency: 64,
    },
    { hostAddresses: () => [] },
  );
  const httpReq = {
    type: "http-01" as const,
    identifier: { type: "dns" as const, value: "plc.localhost" },
    token: TOKEN,
    keyAuthorization: KA,
  };
  const tlsReq = { ...httpReq, type: "tls-alpn-01" as const };

  const rawGet = () =>
    new Promise<void>((resolve, reject) => {
      const r = http.get(
        { host: "127.0.0.1", port: ports.http, path: `/.well-known/acme-challenge/${TOKEN}`, agent: false },
        (res) => {
          res.resume();
          res.on("end", resolve);
        },
      );
      r.on("error", reject);
    });
  const rawTls = () =>
    new Promise<void>((resolve, reject) => {
      const s = tls.connect(
        {
          host: "127.0.0.1",
          port: ports.tls,
          servername: "plc.localhost",
          ALPNProtocols: ["acme-tls/1"],
          rejectUnauthorized: false,
        },
        () => {
          s.getPeerX509Certificate();
          s.destroy();
          resolve();
        },
      );
      s.on("error", reject);
    });

  async function measure(fn: () => Promise<unknown>, concurrent: number) {
    for (let i = 0; i < 50; i++) await fn();
    const end = performance.now() + SECONDS * 1000;
    let n = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrent }, async () => {
        while (performance.now() < end) {
          await fn();
          n++;
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return { perSec: n / secs, cpuMs: (cpu.user + cpu.system) / 1000 / n };
  }

  const check = async (req: typeof httpReq | typeof tlsReq) => {
    const r = await v.validate(req);
    if (!r.ok) throw new Error(`validation failed: ${r.problem?.detail}`);
  };

  const rows: string[][] = [["what", "concurrency", "per second", "CPU ms each", "CPU ÷ reference"]];
  for (const c of [1, 16, 64]) {
    const ref = await measure(rawGet, c);
    const val = await measure(() => check(httpReq), c);
    rows.push(["plain GET (reference)", String(c), ref.perSec.toFixed(0), ref.cpuMs.toFixed(3), "1.00"]);
    rows.push([
      "http-01 validation",
      String(c),
      val.perSec.toFixed(0),
      val.cpuMs.toFixed(3),
      (val.cpuMs / ref.cpuMs).toFixed(2),
    ]);
  }
  for (const c of [1, 16]) {
    const ref = await measure(rawTls, c);
    const val = await measure(() => check(tlsReq), c);
    rows.push(["TLS handshake (reference)", String(c), ref.perSec.toFixed(0), ref.cpuMs.toFixed(3), "1.00"]);
    rows.push([
      "tls-alpn-01 validation",
      String(c),
      val.perSec.toFixed(0),
      val.cpuMs.toFixed(3),
      (val.cpuMs / ref.cpuMs).toFixed(2),
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  "));
  child.kill();
}
