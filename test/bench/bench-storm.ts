// npm run bench:storm — a plant powering up: DEVICES devices (one ACME account each) enroll, then all
// renew at once (a renewal storm), against the appliance (`plantroot serve`: real http-01 validation,
// HSM signing, durable commits) and a fresh Pebble (validation off) with the same driver in the same
// run. Prints certs/s, p50/p99, errors, server CPU ms/cert and peak RSS for both, the ratio, and how the
// appliance's ARI windows (RFC 9773) spread the same fleet's renewals when clients honour them.
// Pebble deadlocks under this load, so it works through the fleet in batches on fresh Pebbles.
// BENCH_DEVICES (10000), BENCH_CONCURRENCY ("16,64": each for each server), BENCH_SERVERS ("appliance,pebble"),
// BENCH_PEBBLE_BATCH (500 devices per fresh Pebble).
import "reflect-metadata";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCsr } from "../helpers/csr.js";
import { AcmeDriver, type DriverAccount, newDriverAccount } from "./acme-driver.js";
import { Flows, type Issued } from "./acme-flows.js";
import { type BenchServer, http01Responder, startApplianceServe, startPebble } from "./servers.js";
import { cpuMs, fmt, memMb, percentile } from "./measure.js";

const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? "16,64").split(",").map(Number);
const SERVERS = (process.env.BENCH_SERVERS ?? "appliance,pebble").split(",") as Array<BenchServer["name"]>;
const STALL_MS = 30_000;
const PEBBLE_ATTEMPTS = 5;
/** devices per fresh Pebble (BENCH_PEBBLE_BATCH) */
const PEBBLE_BATCH = Number(process.env.BENCH_PEBBLE_BATCH ?? 500);

interface Device {
  acct: DriverAccount;
  name: string;
  csr: [Buffer, Buffer];
  cert?: Issued;
}

interface Phase {
  name: string;
  done: number;
  errors: Record<string, number>;
  stalled: boolean;
  wallMs: number;
  latencies: number[];
  serverCpuMsPerCert: number;
  driverCpuMsPerCert: number;
  peakRssMb: number;
}

/** Runs fn over n items with `concurrency` workers; gives up when nothing completed for STALL_MS. */
async function pool(
  server: BenchServer,
  name: string,
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<Phase> {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let next = 0;
  let last = performance.now();
  let stalled = false;
  const cpu0 = cpuMs(server.pid);
  const drv0 = process.cpuUsage();
  const t0 = performance.now();
  const watch = setInterval(() => {
    if (performance.now() - last > STALL_MS) stalled = true;
  }, 500);
  const worker = async () => {
    while (!stalled) {
      const i = next++;
      if (i >= n) return;
      const s = performance.now();
      try {
        await fn(i);
        latencies.push(performance.now() - s);
        last = performance.now();
      } catch (e) {
        const k = String((e as Error).message).slice(0, 90);
        errors[k] = (errors[k] ?? 0) + 1;
      }
    }
  };
  // a stalled server never answers: stop waiting for its workers (their sockets die with the server)
  let giveUp: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<void>((r) => {
    giveUp = setInterval(() => stalled && r(), 250);
  });
  await Promise.race([Promise.all(Array.from({ length: concurrency }, worker)), gaveUp]);
  clearInterval(giveUp);
  clearInterval(watch);
  const wallMs = performance.now() - t0;
  const done = latencies.length;
  const drv = process.cpuUsage(drv0);
  latencies.sort((a, b) => a - b);
  return {
    name,
    done,
    errors,
    stalled,
    wallMs,
    latencies,
    serverCpuMsPerCert: (cpuMs(server.pid) - cpu0) / Math.max(1, done),
    driverCpuMsPerCert: (drv.user + drv.system) / 1000 / Math.max(1, done),
    peakRssMb: memMb(server.pid).peak,
  };
}

function line(server: string, concurrency: number, p: Phase): string {
  // a stalled phase fails everything not done (its in-flight requests die with the server)
  const failed = p.stalled ? DEVICES - p.done : Object.values(p.errors).reduce((a, b) => a + b, 0);
  return (
    `| ${server} | ${concurrency} | ${p.name} | ${p.done} | ${fmt(p.done / (p.wallMs / 1000))} | ${fmt(percentile(p.latencies, 50), 0)} | ` +
    `${fmt(percentile(p.latencies, 99), 0)} | ${failed}${p.stalled ? " (stalled)" : ""} | ${p.done ? fmt(p.serverCpuMsPerCert, 2) : "-"} | ` +
    `${fmt(p.peakRssMb, 0)} | ${p.done ? fmt(p.driverCpuMsPerCert, 2) : "-"} |`
  );
}

async function runServer(server: BenchServer, devices: Device[], concurrency: number) {
  const responder = server.http01Port ? await http01Responder(server.http01Port) : undefined;
  const driver = new AcmeDriver(server.directoryUrl, server.caPem, concurrency + 8);
  await driver.init();
  const flows = await Flows.create(driver, server.directoryUrl, server.caPem);
  const publish = responder ? (t: string, ka: string) => responder.publish(t, ka) : undefined;
  const ari = Boolean(flows.dir.renewalInfo);
  try {
    const enroll = await pool(server, "enroll", devices.length, concurrency, async (i) => {
      const d = devices[i]!;
      delete d.acct.url; // a fresh server: register again
      await driver.register(d.acct);
      d.cert = await flows.issue(d.acct, { type: "dns", value: d.name }, d.csr[0], publish ? { publish } : {});
    });
    if (enroll.stalled) return { enroll };
    // the windows the server suggests for the fleet it just enrolled (before anyone renews)
    const windows: Array<{ start: number; end: number }> = [];
    if (ari)
      for (let i = 0; i < devices.length; i += 32)
        windows.push(
          ...(await Promise.all(
            devices.slice(i, i + 32).map(async (d) => {
              const w = await flows.renewalInfo(d.cert!.certId);
              return { start: w.start.getTime(), end: w.end.getTime() };
            }),
          )),
        );
    const storm = await pool(server, "renewal storm", devices.length, concurrency, async (i) => {
      const d = devices[i]!;
      d.cert = await flows.issue(d.acct, { type: "dns", value: d.name }, d.csr[1], {
        ...(publish ? { publish } : {}),
        ...(ari ? { replaces: d.cert!.certId } : {}),
      });
    });
    return { enroll, storm, windows };
  } finally {
    flows.close();
    driver.close();
    responder?.close();
  }
}

/** The fleet in batches, each on a fresh Pebble; a stalled batch is rerun on another fresh one. */
async function pebbleBatched(devices: Device[], concurrency: number, dir: string) {
  const enrolls: Phase[] = [];
  const storms: Phase[] = [];
  let stalls = 0;
  let failedBatches = 0;
  let batches = 0;
  for (let b = 0; b < devices.length; b += PEBBLE_BATCH) {
    batches++;
    const slice = devices.slice(b, b + PEBBLE_BATCH);
    let ok = false;
    for (let attempt = 1; attempt <= PEBBLE_ATTEMPTS && !ok; attempt++) {
      const server = await startPebble(dir);
      let r: Awaited<ReturnType<typeof runServer>>;
      try {
        r = await runServer(server, slice, concurrency);
      } finally {
        await server.stop();
      }
      if (r.enroll.stalled || !r.storm || r.storm.stalled) {
        stalls++;
        continue;
      }
      enrolls.push(r.enroll);
      storms.push(r.storm);
      ok = true;
    }
    if (!ok) failedBatches++;
  }
  return { enroll: merge("enroll", enrolls), storm: merge("renewal storm", storms), stalls, failedBatches, batches };
}

/** One phase from several batches: counts, errors and timed wall time add up, latencies pool. */
function merge(name: string, ps: Phase[]): Phase | undefined {
  if (ps.length === 0) return undefined;
  const done = ps.reduce((n, p) => n + p.done, 0);
  const errors: Record<string, number> = {};
  for (const p of ps) for (const [k, v] of Object.entries(p.errors)) errors[k] = (errors[k] ?? 0) + v;
  const weighted = (f: (p: Phase) => number) => ps.reduce((n, p) => n + f(p) * p.done, 0) / Math.max(1, done);
  return {
    name,
    done,
    errors,
    stalled: false,
    wallMs: ps.reduce((n, p) => n + p.wallMs, 0),
    latencies: ps.flatMap((p) => p.latencies).sort((x, y) => x - y),
    serverCpuMsPerCert: weighted((p) => p.serverCpuMsPerCert),
    driverCpuMsPerCert: weighted((p) => p.driverCpuMsPerCert),
    peakRssMb: Math.max(...ps.map((p) => p.peakRssMb)),
  };
}

/** How a fleet that renews at a uniformly random moment inside its suggested window is spread. */
function spread(windows: Array<{ start: number; end: number }>, enrolledWithinMs: number) {
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const at = windows.map((w) => w.start + rnd() * (w.end - w.start)).sort((a, b) => a - b);
  const perBucket = (ms: number) => {
    const m = new Map<number, number>();
    for (const t of at) m.set(Math.floor(t / ms), (m.get(Math.floor(t / ms)) ?? 0) + 1);
    return Math.max(...m.values());
  };
  return {
    firstWindowDays: (Math.min(...windows.map((w) => w.start)) - Date.now()) / 86_400_000,
    spanDays: (at[at.length - 1]! - at[0]!) / 86_400_000,
    peakPerHour: perBucket(3_600_000),
    peakPerMinute: perBucket(60_000),
    enrolledWithinMinutes: enrolledWithinMs / 60_000,
  };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "bench-storm-"));
  console.log(`bench:storm — ${DEVICES} devices (one account each), concurrency ${CONCURRENCY.join(" and ")}`);
  const t0 = performance.now();
  const stamp = Date.now().toString(36);
  const devices: Device[] = Array.from({ length: DEVICES }, (_, i) => {
    const k = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const spki = Buffer.from(k.publicKey.export({ type: "spki", format: "der" }));
    const name = `dev${i}-${stamp}.localhost`;
    const csr = () => buildCsr({ privateKey: k.privateKey, spki, sans: [{ type: "dns", value: name }], cn: name });
    return { acct: newDriverAccount(), name, csr: [csr(), csr()] };
  });
  console.log(`fleet prepared (keys, accounts, CSRs) in ${fmt((performance.now() - t0) / 1000)} s\n`);
  const rows: string[] = [];
  const ratios: string[] = [];
  let ariLine = "";
  const pebbleIncomplete: number[] = [];
  try {
    for (const c of CONCURRENCY) {
      const summary: Record<string, { enroll?: Phase; storm?: Phase }> = {};
      for (const kind of SERVERS) {
        if (kind === "pebble") {
          // Pebble deadlocks under concurrent load (research/pebble-baseline.md; at 10,000 devices nearly
          // every run): it works through the fleet in batches, each on a fresh Pebble, a stalled batch
          // rerun up to PEBBLE_ATTEMPTS times; the phases add up the batches' timed parts
          const r = await pebbleBatched(devices, c, join(work, "pebble"));
          const label = `pebble (${r.batches} batches of ${PEBBLE_BATCH}; ${r.stalls} stalled and rerun${r.failedBatches ? `; ${r.failedBatches} given up` : ""})`;
          for (const p of [r.enroll, r.storm]) if (p) rows.push(line(label, c, p));
          summary.pebble = { ...(r.enroll ? { enroll: r.enroll } : {}), ...(r.storm ? { storm: r.storm } : {}) };
          if (r.failedBatches) pebbleIncomplete.push(c);
          continue;
        }
        const server = await startApplianceServe({
          dataDir: join(work, `appliance-c${c}`),
          acme: {
            // a plant's devices have their own addresses; here the whole fleet comes from 127.0.0.1
            rateLimits: {
              newAccountsPerAddress: { count: 10 * DEVICES, periodSeconds: 3600 },
              newOrdersPerAddress: { count: 10 * DEVICES, periodSeconds: 3600 },
            },
          },
        });
        let r: Awaited<ReturnType<typeof runServer>>;
        try {
          r = await runServer(server, devices, c);
        } finally {
          await server.stop();
        }
        for (const p of [r.enroll, r.storm]) if (p) rows.push(line(kind, c, p));
        summary[kind] = { enroll: r.enroll, ...(r.storm && !r.storm.stalled ? { storm: r.storm } : {}) };
        if (r.windows?.length && r.storm && !ariLine) ariLine = ari(r.windows, r.enroll, r.storm);
      }
      const a = summary.appliance?.storm;
      const p = summary.pebble?.storm;
      const rate = (x: Phase) => x.done / (x.wallMs / 1000);
      if (a && p)
        ratios.push(
          `concurrency ${c}, renewal storm, appliance / pebble: certs/s ${fmt(rate(a) / rate(p), 2)}, p99 ${fmt(percentile(a.latencies, 99) / percentile(p.latencies, 99), 2)}, ` +
            `server CPU/cert ${fmt(a.serverCpuMsPerCert / p.serverCpuMsPerCert, 2)}, peak RSS ${fmt(a.peakRssMb / p.peakRssMb, 2)}`,
        );
      else if (a && SERVERS.includes("pebble"))
        ratios.push(`concurrency ${c}: no ratio — Pebble completed no batch of the storm`);
      if (a && p && pebbleIncomplete.includes(c))
        ratios.push(
          `  (Pebble gave up on some batches at concurrency ${c}: its figures cover the batches it completed)`,
        );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(
    "| server | concurrency | phase | certificates | certs/s | p50 ms | p99 ms | failed | server CPU ms/cert | server peak RSS MB | driver CPU ms/cert |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
  console.log("");
  for (const r of ratios) console.log(r);
  if (ariLine) console.log(`\n${ariLine}`);
}

function ari(windows: Array<{ start: number; end: number }>, enroll: Phase, storm: Phase): string {
  const s = spread(windows, enroll.wallMs);
  const stormRate = storm.done / (storm.wallMs / 1000);
  return (
    `ARI (appliance): the fleet enrolled within ${fmt(s.enrolledWithinMinutes)} min; honouring the suggested windows, its ` +
    `renewals start ${fmt(s.firstWindowDays)} days later and spread over ${fmt(s.spanDays)} days: at most ${s.peakPerHour} per hour ` +
    `(${fmt(s.peakPerHour / 3600, 3)} certs/s, ${fmt((100 * s.peakPerHour) / 3600 / stormRate, 2)} % of the storm throughput measured above) ` +
    `and ${s.peakPerMinute} per minute, instead of all ${windows.length} at once. Pebble 2.4 offers no renewalInfo.`
  );
}

await main();
