// npm run bench:soak — sustained mixed load at fixed arrival rates (open loop) for BENCH_SOAK_SECONDS
// (default 600): new orders, renewals (`replaces`), revocations, OCSP (GET and POST with nonce) and CRL
// downloads against the appliance (`plantroot serve`), then the ACME part of the same mix against a
// fresh Pebble (which has no OCSP/CRL) with the same driver. Reports per minute: completed, errors,
// p50/p99 per operation and server RSS; memory growth after the first minute against a stated bound;
// and checks at the end that the CRL and OCSP list every acknowledged revocation.
// BENCH_SOAK_SECONDS (600), BENCH_SOAK_SCALE (1: 8 new orders, 4 renewals, 1 revocation, 40 OCSP,
// 2 CRL per second), BENCH_SERVERS ("appliance,pebble").
import "reflect-metadata";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCertificate } from "../../appliance/ca/cert-parse.js";
import { buildCsr } from "../helpers/csr.js";
import { certId as ocspCertId, ocspCertStatus, ocspRequest, ocspResponseStatus } from "../helpers/ocsp-request.js";
import { AcmeDriver, type DriverAccount, newDriverAccount } from "./acme-driver.js";
import { Flows, type Issued, request } from "./acme-flows.js";
import { type BenchServer, http01Responder, startApplianceServe, startPebble } from "./servers.js";
import { cpuMs, fmt, memMb, percentile } from "./measure.js";

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600);
const SCALE = Number(process.env.BENCH_SOAK_SCALE ?? 1);
const SERVERS = (process.env.BENCH_SERVERS ?? "appliance,pebble").split(",") as Array<BenchServer["name"]>;
const ACCOUNTS = 200;
/** the stated bound: server RSS may grow at most this much between the end of minute 1 and the end */
const RSS_GROWTH_BOUND_MB = 64;
const MAX_IN_FLIGHT = 2000;
const STALL_MS = 30_000;

const RATES: Record<Op, number> = { order: 8, renew: 4, revoke: 1, ocsp: 40, crl: 2 };
type Op = "order" | "renew" | "revoke" | "ocsp" | "crl";

interface Minute {
  ok: Record<Op, number>;
  errors: Record<string, number>;
  lat: Record<Op, number[]>;
  rssMb: number;
  cpuMs: number;
  /** wall time the row covers (the last one may be shorter than a minute) */
  ms: number;
}

const emptyMinute = (): Minute => ({
  ok: { order: 0, renew: 0, revoke: 0, ocsp: 0, crl: 0 },
  errors: {},
  lat: { order: [], renew: [], revoke: [], ocsp: [], crl: [] },
  rssMb: 0,
  cpuMs: 0,
  ms: 0,
});

interface Held {
  acct: DriverAccount;
  name: string;
  cert: Issued;
  serialHex: string;
}

async function soak(server: BenchServer) {
  const pki = Boolean(server.pkiBase);
  const ops: Op[] = pki ? ["order", "renew", "revoke", "ocsp", "crl"] : ["order", "renew", "revoke"];
  const responder = server.http01Port ? await http01Responder(server.http01Port) : undefined;
  const publish = responder ? (t: string, ka: string) => responder.publish(t, ka) : undefined;
  const driver = new AcmeDriver(server.directoryUrl, server.caPem, 256);
  await driver.init();
  const flows = await Flows.create(driver, server.directoryUrl, server.caPem);
  const ari = Boolean(flows.dir.renewalInfo);
  const accounts = Array.from({ length: ACCOUNTS }, newDriverAccount);
  for (const a of accounts) await driver.register(a);
  const held: Held[] = [];
  const revoked: string[] = [];
  let issuer: { subject: Buffer; spki: Buffer } | undefined;
  let n = 0;
  const newCsr = (name: string) => {
    const k = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    return buildCsr({
      privateKey: k.privateKey,
      spki: Buffer.from(k.publicKey.export({ type: "spki", format: "der" })),
      sans: [{ type: "dns", value: name }],
      cn: name,
    });
  };
  const keep = (acct: DriverAccount, name: string, cert: Issued) => {
    held.push({ acct, name, cert, serialHex: parseCertificate(cert.der).serial.toString("hex") });
  };
  const run: Record<Op, () => Promise<void>> = {
    async order() {
      const acct = accounts[n % ACCOUNTS]!;
      const name = `soak${n++}-${Date.now().toString(36)}.localhost`;
      keep(acct, name, await flows.issue(acct, { type: "dns", value: name }, newCsr(name), publish ? { publish } : {}));
    },
    async renew() {
      const h = held.shift();
      if (!h) return;
      const cert = await flows.issue(h.acct, { type: "dns", value: h.name }, newCsr(h.name), {
        ...(publish ? { publish } : {}),
        ...(ari ? { replaces: h.cert.certId } : {}),
      });
      keep(h.acct, h.name, cert);
    },
    async revoke() {
      const h = held.shift();
      if (!h) return;
      await flows.revoke(h.acct, h.cert.der);
      revoked.push(h.serialHex);
    },
    async ocsp() {
      const h = held[Math.floor(Math.random() * held.length)];
      const serial = h ? h.serialHex : revoked[Math.floor(Math.random() * revoked.length)];
      if (!serial || !issuer) return;
      const id = ocspCertId(issuer, Buffer.from(serial, "hex"));
      const r =
        Math.random() < 0.5
          ? await request(`${server.pkiBase}/ocsp/${encodeURIComponent(ocspRequest([id]).toString("base64"))}`)
          : await request(`${server.pkiBase}/ocsp`, {
              method: "POST",
              body: ocspRequest([id], { nonce: randomBytes(16) }),
              headers: { "content-type": "application/ocsp-request" },
            });
      if (r.status !== 200 || ocspResponseStatus(r.body) !== 0)
        throw new Error(`OCSP HTTP ${r.status}, status ${r.status === 200 ? ocspResponseStatus(r.body) : "-"}`);
    },
    async crl() {
      const r = await request(`${server.pkiBase}/ca/issuing.crl`);
      if (r.status !== 200) throw new Error(`CRL ${r.status}`);
    },
  };
  if (pki) {
    const r = await request(`${server.pkiBase}/ca/issuing.crt`);
    const c = parseCertificate(r.body);
    issuer = { subject: c.subject, spki: c.spki };
  }

  const minutes: Minute[] = [];
  let cur = emptyMinute();
  let inFlight = 0;
  let shed = 0;
  let last = performance.now();
  let cpu0 = cpuMs(server.pid);
  const start = performance.now();
  const timers: NodeJS.Timeout[] = [];
  for (const op of ops) {
    const every = 1000 / (RATES[op] * SCALE);
    timers.push(
      setInterval(() => {
        if (inFlight >= MAX_IN_FLIGHT) {
          shed++;
          return;
        }
        inFlight++;
        const m = cur;
        const t0 = performance.now();
        run[op]()
          .then(() => {
            m.ok[op]++;
            m.lat[op].push(performance.now() - t0);
            last = performance.now();
          })
          .catch((e) => {
            const k = `${op}: ${String((e as Error).message).slice(0, 80)}`;
            m.errors[k] = (m.errors[k] ?? 0) + 1;
          })
          .finally(() => inFlight--);
      }, every),
    );
  }
  let stalled = false;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - start;
      if (performance.now() - last > STALL_MS) stalled = true;
      if (elapsed >= (minutes.length + 1) * 60_000 || elapsed >= SECONDS * 1000 || stalled) {
        cur.rssMb = memMb(server.pid).rss;
        const c = cpuMs(server.pid);
        cur.cpuMs = c - cpu0;
        cpu0 = c;
        cur.ms = elapsed - minutes.length * 60_000;
        minutes.push(cur);
        cur = emptyMinute();
      }
      if (elapsed >= SECONDS * 1000 || stalled) {
        clearInterval(tick);
        resolve();
      }
    }, 250);
  });
  for (const t of timers) clearInterval(t);
  // let what is in flight finish (bounded)
  for (let i = 0; i < 120 && inFlight > 0 && !stalled; i++) await new Promise((r) => setTimeout(r, 250));

  // every acknowledged revocation is in the CRL and answered revoked by OCSP
  let check = "";
  if (pki && issuer) {
    const crl = (await request(`${server.pkiBase}/ca/issuing.crl`)).body.toString("hex");
    const missingCrl = revoked.filter((s) => !crl.includes(s));
    let missingOcsp = 0;
    for (const s of revoked.slice(-50)) {
      const r = await request(`${server.pkiBase}/ocsp`, {
        method: "POST",
        body: ocspRequest([ocspCertId(issuer, Buffer.from(s, "hex"))]),
        headers: { "content-type": "application/ocsp-request" },
      });
      if (ocspCertStatus(r.body) !== "revoked") missingOcsp++;
    }
    check = `${revoked.length} revocations acknowledged: ${missingCrl.length} missing from the CRL, ${missingOcsp} of the last ${Math.min(50, revoked.length)} not revoked in OCSP`;
  }
  flows.close();
  driver.close();
  responder?.close();
  return { minutes, shed, stalled, check, peakRssMb: memMb(server.pid).peak, ops };
}

function report(name: string, r: Awaited<ReturnType<typeof soak>>): void {
  console.log(`\n${name}${r.stalled ? " — STALLED (nothing completed for 30 s)" : ""}`);
  const head = r.ops.map((o) => `${o} ok / p50 / p99 ms`).join(" | ");
  console.log(`| minute | ${head} | errors | server CPU % | server RSS MB |`);
  console.log(`|---|${r.ops.map(() => "---").join("|")}|---|---|---|`);
  r.minutes.forEach((m, i) => {
    const cells = r.ops.map((o) => {
      const l = m.lat[o].sort((a, b) => a - b);
      return `${m.ok[o]} / ${fmt(percentile(l, 50), 0)} / ${fmt(percentile(l, 99), 0)}`;
    });
    const errs = Object.values(m.errors).reduce((a, b) => a + b, 0);
    console.log(
      `| ${i + 1} | ${cells.join(" | ")} | ${errs} | ${fmt((100 * m.cpuMs) / Math.max(1, m.ms), 1)} | ${fmt(m.rssMb, 0)} |`,
    );
  });
  const errors: Record<string, number> = {};
  for (const m of r.minutes) for (const [k, v] of Object.entries(m.errors)) errors[k] = (errors[k] ?? 0) + v;
  const first = r.minutes[0]?.rssMb ?? Number.NaN;
  const lastRss = r.minutes[r.minutes.length - 1]?.rssMb ?? Number.NaN;
  console.log(
    `errors: ${Object.keys(errors).length ? JSON.stringify(errors) : "none"}; arrivals shed (over ${MAX_IN_FLIGHT} in flight): ${r.shed}; ` +
      `server RSS ${fmt(first, 0)} MB after minute 1 → ${fmt(lastRss, 0)} MB at the end (growth ${fmt(lastRss - first, 0)} MB, bound ${RSS_GROWTH_BOUND_MB} MB: ` +
      `${lastRss - first <= RSS_GROWTH_BOUND_MB ? "within" : "EXCEEDED"}), peak ${fmt(r.peakRssMb, 0)} MB`,
  );
  if (r.check) console.log(r.check);
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "bench-soak-"));
  const rates = Object.entries(RATES)
    .map(([k, v]) => `${k} ${v * SCALE}/s`)
    .join(", ");
  console.log(`bench:soak — ${SECONDS} s per server, open loop: ${rates} (Pebble: the ACME operations only)`);
  const results: Partial<Record<BenchServer["name"], Awaited<ReturnType<typeof soak>>>> = {};
  try {
    for (const kind of SERVERS) {
      const server =
        kind === "pebble"
          ? await startPebble(join(work, "pebble"))
          : await startApplianceServe({
              dataDir: join(work, "appliance"),
              acme: {
                rateLimits: {
                  newOrdersPerAddress: { count: 1_000_000, periodSeconds: 3600 },
                  newAccountsPerAddress: { count: 10_000, periodSeconds: 3600 },
                },
              },
            });
      try {
        results[kind] = await soak(server);
        report(kind, results[kind]!);
      } finally {
        await server.stop();
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (results.appliance && results.pebble) compare(results.appliance, results.pebble);
}

/** Whole-run p50/p99 of the ACME operations both servers ran, and appliance / Pebble ratios. */
function compare(a: Awaited<ReturnType<typeof soak>>, p: Awaited<ReturnType<typeof soak>>): void {
  const all = (r: typeof a, op: Op) => r.minutes.flatMap((m) => m.lat[op]).sort((x, y) => x - y);
  const count = (r: typeof a, op: Op) => r.minutes.reduce((n, m) => n + m.ok[op], 0);
  console.log("\nwhole run, appliance vs pebble (same driver, same arrival rates):");
  for (const op of p.ops) {
    const la = all(a, op);
    const lp = all(p, op);
    console.log(
      `${op}: appliance ${count(a, op)} ok, p50 ${fmt(percentile(la, 50), 0)} ms, p99 ${fmt(percentile(la, 99), 0)} ms; ` +
        `pebble ${count(p, op)} ok, p50 ${fmt(percentile(lp, 50), 0)} ms, p99 ${fmt(percentile(lp, 99), 0)} ms; ` +
        `ratio p50 ${fmt(percentile(la, 50) / percentile(lp, 50), 2)}, p99 ${fmt(percentile(la, 99) / percentile(lp, 99), 2)}`,
    );
  }
  const peak = (r: typeof a) => r.peakRssMb;
  console.log(`server peak RSS: appliance ${fmt(peak(a), 0)} MB, pebble ${fmt(peak(p), 0)} MB`);
}

await main();
