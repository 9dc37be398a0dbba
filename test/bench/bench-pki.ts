// npm run bench:pki — the CA's plain-HTTP endpoints under load (a separate server process with 1,000
// certificates, every tenth revoked): OCSP POST with a fresh nonce (signed per request), OCSP GET
// (RFC 6960 Appendix A), CRL download, each next to the reference measured in the same run: the same
// server handing out a static CA certificate (HTTP + driver ceiling). Prints requests/s, p50/p99, server
// CPU ms per request, errors and RSS. BENCH_SECONDS (default 5) per measurement, BENCH_CONCURRENCY (32).
import "reflect-metadata";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCertificate, pemToDer } from "../../appliance/ca/cert-parse.js";
import { certId, ocspRequest } from "../helpers/ocsp-request.js";
import { cpuMs, fmt, type LoadResult, loadFor, memMb, waitForLine } from "./measure.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const CERTS = Number(process.env.BENCH_CERTS ?? 1000);

const dir = mkdtempSync(join(tmpdir(), "bench-pki-"));
const server = spawn(
  process.execPath,
  ["--import", "tsx", new URL("./pki-server.ts", import.meta.url).pathname, dir, String(CERTS)],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const port = Number((await waitForLine(server, /^READY (\d+)$/, 300_000))[1]);
const issuing = parseCertificate(pemToDer(readFileSync(join(dir, "pki", "issuing.pem"), "utf8")));
const serials = JSON.parse(readFileSync(join(dir, "serials.json"), "utf8")) as Array<{ serial: string }>;
const ids = serials.map((s) => certId(issuing, Buffer.from(s.serial, "hex")));
const postBodies = Array.from({ length: 4096 }, (_, i) =>
  ocspRequest([ids[i % ids.length]!], { nonce: randomBytes(16) }),
);
const getPaths = ids.map((id) => `/ocsp/${encodeURIComponent(ocspRequest([id]).toString("base64"))}`);

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
function send(method: string, path: string, body?: Buffer, type?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const r = request(
      { host: "127.0.0.1", port, method, path, agent, headers: type ? { "content-type": type } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const b = Buffer.concat(chunks);
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
          resolve(b);
        });
      },
    );
    r.on("error", reject);
    r.end(body);
  });
}
/** An OCSPResponse must be `successful` (0x0a 0x01 0x00 right after the outer SEQUENCE header). */
function expectSuccessful(der: Buffer): void {
  const off = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
  if (der[off] !== 0x0a || der[off + 2] !== 0) throw new Error(`OCSP status ${der[off + 2]}`);
}

async function measure(name: string, fn: (i: number) => Promise<void>) {
  await loadFor(500, CONCURRENCY, fn); // warm-up
  const c0 = cpuMs(server.pid!);
  const r: LoadResult = await loadFor(SECONDS * 1000, CONCURRENCY, fn);
  const cpu = cpuMs(server.pid!) - c0;
  return { name, r, cpuPerReq: cpu / Math.max(1, r.ok) };
}

const rows = [
  await measure("static CA certificate (reference)", async () => {
    await send("GET", "/ca/issuing.crt");
  }),
  await measure("OCSP POST, fresh nonce", async (i) => {
    expectSuccessful(await send("POST", "/ocsp", postBodies[i % postBodies.length], "application/ocsp-request"));
  }),
  await measure("OCSP GET (Appendix A)", async (i) => {
    expectSuccessful(await send("GET", getPaths[i % getPaths.length]!));
  }),
  await measure("CRL download", async () => {
    await send("GET", "/ca/issuing.crl");
  }),
];
const mem = memMb(server.pid!);
const ref = rows[0]!.r.perSecond;
console.log(`\nbench:pki — ${CERTS} certificates (10% revoked), concurrency ${CONCURRENCY}, ${SECONDS} s each\n`);
console.log("| endpoint | req/s | vs static | p50 ms | p99 ms | server CPU ms/req | errors |");
console.log("|---|---|---|---|---|---|---|");
for (const { name, r, cpuPerReq } of rows)
  console.log(
    `| ${name} | ${fmt(r.perSecond, 0)} | ${fmt(r.perSecond / ref, 2)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(cpuPerReq, 3)} | ${Object.values(r.errors).reduce((a, b) => a + b, 0)} |`,
  );
console.log(`\nserver RSS ${fmt(mem.rss)} MB (peak ${fmt(mem.peak)} MB)`);
agent.destroy();
server.kill("SIGTERM");
await new Promise((r) => server.once("exit", r));
rmSync(dir, { recursive: true, force: true });
