// Servers the ACME benches drive, each in its own process so its CPU and memory can be read from /proc:
// a fresh Pebble (validation off), the appliance as `plantroot demo` of a given source tree (bench-acme,
// bench-acme-ab) or under `plantroot serve --config` on a demo-made PKI (bench-storm, bench-soak), plus
// the device side of http-01 and the measured order runs of bench-acme.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import {
  cpSync,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { buildCsr } from "../../appliance/csr-builder.js";
import { freePort } from "../helpers/ports.js";
import { AcmeDriver, type DriverAccount, newDriverAccount, percentile, type RunResult } from "./acme-driver.js";
import { CLK_TCK, cpuMs, memMb, waitForLine } from "./measure.js";

/** this checkout */
export const ROOT = resolve(import.meta.dirname, "../..");

/**
 * The appliance as it ships: a copy of `root`'s sources compiled with `npm run build`'s tsconfig into
 * dist/, which bin/plantroot.mjs runs instead of the TypeScript sources through tsx. Returns the
 * copy's directory (BENCH_BUILD=1 makes the ACME benches run the appliance from there).
 */
export function builtTree(root = ROOT): string {
  const dir = mkdtempSync(join(tmpdir(), "bench-built-"));
  for (const f of [
    "package.json",
    "tsconfig.json",
    "tsconfig.build.json",
    "bin",
    "hsm",
    "appliance",
    "ceremonies",
    "cli",
  ])
    cpSync(join(root, f), join(dir, f), { recursive: true });
  symlinkSync(realpathSync(join(root, "node_modules")), join(dir, "node_modules"));
  execFileSync(process.execPath, [join(dir, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
    cwd: dir,
    stdio: "inherit",
  });
  return dir;
}

export interface BenchServer {
  name: "appliance" | "pebble";
  pid: number;
  directoryUrl: string;
  caPem: string;
  /** the port the server's validator connects to for http-01 (appliance; Pebble validates nothing) */
  http01Port?: number;
  /** plain-HTTP base of CRL/OCSP (appliance under `serve` only) */
  pkiBase?: string;
  /** Prometheus endpoint (appliance under `demo` only) */
  metricsUrl?: string;
  stop(): Promise<void>;
}

/** CPU ticks per thread name (main thread vs libuv pool, V8 helpers, SoftHSM…) */
export function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const key = tid === String(pid) ? "main" : name;
      out.set(`${key} user`, (out.get(`${key} user`) ?? 0) + Number(f[11]));
      out.set(`${key} sys`, (out.get(`${key} sys`) ?? 0) + Number(f[12]));
    } catch {
      // the thread ended between readdir and read
    }
  }
  return out;
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((r) => {
      if (child.exitCode !== null || child.signalCode !== null) return r();
      child.once("exit", () => r());
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
    });
}

/** Reads and discards a child's output (a full pipe would stall it) after the ready line was seen. */
function drain(child: ChildProcess): void {
  for (const s of [child.stdout, child.stderr]) if (s) createInterface({ input: s }).on("line", () => undefined);
}

export interface ApplianceBenchOptions {
  /** data directory (created by a first `plantroot demo` run when empty) */
  dataDir: string;
  /** acme section overrides (rate limits for a fleet behind one address, …) */
  acme?: Record<string, unknown>;
}

/**
 * The appliance under `plantroot serve --config`: the first call runs `plantroot demo` once on the data
 * dir (demo ceremony: tokens, PIN files, root and SubCA), then serves with a production configuration
 * pointing at the appliance token and the PKI the ceremony made.
 */
export async function startApplianceServe(o: ApplianceBenchOptions): Promise<BenchServer> {
  const dataDir = resolve(o.dataDir);
  const [port, httpPort, metricsPort, v80, v443] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  if (!readdirSafe(dataDir).includes("demo-state.json")) {
    const demo = spawn(
      process.execPath,
      [
        join(ROOT, "bin/plantroot.mjs"),
        "demo",
        "--data-dir",
        dataDir,
        "--port",
        String(await freePort()),
        "--http-port",
        String(await freePort()),
        "--validation-http-port",
        String(v80),
        "--validation-tls-port",
        String(v443),
      ],
      { stdio: ["ignore", "pipe", "pipe"], cwd: ROOT },
    );
    await waitForLine(demo, /^ACME directory: /, 180_000);
    await stopper(demo)();
  }
  const pki = join(dataDir, "pki");
  const state = JSON.parse(readFileSync(join(dataDir, "demo-state.json"), "utf8")) as {
    applianceToken: string;
    issuingKeyLabel: string;
    auditKeyLabel: string;
  };
  const config = {
    dataDir,
    listen: { host: "127.0.0.1", port, httpPort, metrics: { host: "127.0.0.1", port: metricsPort } },
    tlsNames: ["127.0.0.1", "localhost"],
    hsm: {
      token: state.applianceToken,
      pin: { file: join(dataDir, "softhsm", "INSECURE-DEMO-PINS", `${state.applianceToken}.pin`) },
    },
    ca: {
      pkiBaseUrl: `http://127.0.0.1:${httpPort}`,
      hsm: { issuingKeyLabel: state.issuingKeyLabel, auditKeyLabel: state.auditKeyLabel },
      certificates: {
        issuing: join(pki, "issuing.pem"),
        root: join(pki, "root.pem"),
        rootCrl: join(pki, "root.crl"),
      },
      policy: { permittedDns: ["localhost"], excludedDns: [], permittedIp: ["127.0.0.0/8", "::1/128"], excludedIp: [] },
    },
    validation: {
      allowedNetworks: ["127.0.0.0/8", "::1/128"],
      ownListeners: [
        { address: "127.0.0.1", port },
        { address: "127.0.0.1", port: httpPort },
      ],
      ports: { http01: v80, tlsAlpn01: v443 },
      resolver: { hosts: { localhost: ["127.0.0.1"], "*.localhost": ["127.0.0.1"] } },
    },
    acme: { eabRequired: false, ...o.acme },
  };
  const configPath = join(dataDir, "bench-serve.json");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_PROFILE ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_PROFILE] : []),
      join(ROOT, "bin/plantroot.mjs"),
      "serve",
      "--config",
      configPath,
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      cwd: ROOT,
      env: { ...process.env, SOFTHSM2_CONF: join(dataDir, "softhsm", "softhsm2.conf") },
    },
  );
  const m = await waitForLine(child, /"msg":"serving".*"directory":"([^"]+)"/, 120_000);
  drain(child);
  return {
    name: "appliance",
    pid: child.pid!,
    directoryUrl: m[1]!,
    caPem: readFileSync(join(pki, "root.pem"), "utf8"),
    http01Port: v80,
    pkiBase: `http://127.0.0.1:${httpPort}`,
    stop: stopper(child),
  };
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Pebble's listener needs a certificate: a throw-away CA and server certificate from openssl. */
function pebbleTls(dir: string): { ca: string; cert: string; key: string } {
  const p = (n: string) => join(dir, n);
  const o = (args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  o(["req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2", "-subj", "/CN=bench pebble CA"]);
  o(["req", ...ec, "-keyout", p("key.pem"), "-out", p("csr.pem"), "-subj", "/CN=localhost"]);
  writeFileSync(p("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  o(
    ["x509", "-req", "-in", p("csr.pem"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial"].concat([
      "-out",
      p("cert.pem"),
      "-days",
      "2",
      "-extfile",
      p("ext.cnf"),
    ]),
  );
  return { ca: p("ca.pem"), cert: p("cert.pem"), key: p("key.pem") };
}

/** A fresh Pebble (validation off, no sleeps, no random badNonce), as research/pebble-baseline.md says. */
export async function startPebble(work: string): Promise<BenchServer> {
  mkdirSync(work, { recursive: true });
  const dir = mkdtempSync(join(work, "pebble-"));
  const t = pebbleTls(dir);
  const port = await freePort();
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${port}`,
      managementListenAddress: `127.0.0.1:${await freePort()}`,
      certificate: t.cert,
      privateKey: t.key,
      httpPort: await freePort(),
      tlsPort: await freePort(),
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
    },
  };
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  const child = spawn("pebble", ["-config", join(dir, "config.json")], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_VA_ALWAYS_VALID: "1", PEBBLE_WFE_NONCEREJECT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await waitForLine(child, /ACME directory available/, 20_000);
  drain(child);
  return {
    name: "pebble",
    pid: child.pid!,
    directoryUrl: `https://127.0.0.1:${port}/dir`,
    caPem: readFileSync(t.ca, "utf8"),
    stop: stopper(child),
  };
}

/**
 * `plantroot demo` of the source tree at `root` (default this checkout) on `dataDir`, with extra
 * node flags (e.g. --cpu-prof). BENCH_PROFILE=DIR adds a V8 CPU profile of the run into DIR;
 * BENCH_NODE_ARGS adds node flags (space-separated).
 */
export async function startAppliance(dataDir: string, root = ROOT, nodeArgs: string[] = []): Promise<BenchServer> {
  const [port, httpPort, v80, v443] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_PROFILE ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_PROFILE] : []),
      ...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(" ") : []),
      ...nodeArgs,
      join(root, "bin/plantroot.mjs"),
      "demo",
      "--data-dir",
      dataDir,
      "--port",
      String(port),
      "--http-port",
      String(httpPort),
      "--validation-http-port",
      String(v80),
      "--validation-tls-port",
      String(v443),
    ],
    { stdio: ["ignore", "pipe", "pipe"], cwd: root },
  );
  // BENCH_SERVER_LOG=FILE: the appliance's output (request log, V8 traces) appended to FILE
  if (process.env.BENCH_SERVER_LOG) {
    const out = createWriteStream(process.env.BENCH_SERVER_LOG, { flags: "a" });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  }
  const metrics = waitForLine(child, /^plantroot demo: metrics: (\S+)$/, 120_000).catch(() => undefined);
  const m = await waitForLine(child, /^ACME directory: (\S+)$/, 120_000);
  const metricsUrl = (await metrics)?.[1];
  return {
    name: "appliance",
    pid: child.pid!,
    directoryUrl: m[1]!,
    caPem: readFileSync(join(dataDir, "root.pem"), "utf8"),
    http01Port: v80,
    ...(metricsUrl ? { metricsUrl } : {}),
    stop: stopper(child),
  };
}

/** The device side of http-01: serves the key authorizations the driver publishes. */
export function http01Responder(port: number): Promise<{ publish(t: string, ka: string): void; close(): void }> {
  const tokens = new Map<string, string>();
  const s = http.createServer((req, res) => {
    const token = req.url?.startsWith("/.well-known/acme-challenge/") ? req.url.slice(28) : "";
    const ka = tokens.get(token);
    if (ka) res.writeHead(200, { "Content-Type": "text/plain" }).end(ka);
    else res.writeHead(404).end();
  });
  s.keepAliveTimeout = 30_000;
  return new Promise((r) =>
    s.listen(port, "127.0.0.1", () =>
      r({
        publish: (t, ka) => tokens.set(t, ka),
        close: () => {
          s.close();
          s.closeAllConnections();
        },
      }),
    ),
  );
}

/** The appliance's store counters (plantroot_db_*_total), or undefined when it does not export them. */
async function dbCounters(
  url: string | undefined,
): Promise<{ writer: number; reader: number; commits: number } | undefined> {
  if (!url) return undefined;
  const text = await new Promise<string>((resolve, reject) =>
    http
      .get(url, (res) => {
        let b = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          b += c;
        });
        res.on("end", () => resolve(b));
      })
      .on("error", reject),
  ).catch(() => "");
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
  const writer = num(/^plantroot_db_calls_total\{connection="writer"\} (\d+)$/m);
  if (!Number.isFinite(writer)) return undefined;
  return {
    writer,
    reader: num(/^plantroot_db_calls_total\{connection="reader"\} (\d+)$/m),
    commits: num(/^plantroot_db_commits_total (\d+)$/m),
  };
}

export interface BenchOrder {
  /** the order's DNS name (fresh per run: no authorization reuse) */
  n: string;
  csr: Buffer;
}

/** `count` orders named `<stamp>-<i>.localhost` with their P-256 CSRs (built before any server runs). */
export async function buildOrders(stamp: string, count: number): Promise<BenchOrder[]> {
  const orders: BenchOrder[] = [];
  for (let i = 0; i < count; i++) {
    const n = `${stamp}-${i}.localhost`;
    orders.push({
      n,
      csr: await buildCsr([{ type: "dns", value: n }], generateKeyPairSync("ec", { namedCurve: "P-256" })),
    });
  }
  return orders;
}

export interface Row {
  server: string;
  concurrency: number;
  round: number;
  result: RunResult;
  certsPerSec: number;
  p50: number;
  p99: number;
  cpuMsPerCert: number;
  peakRssMb: number;
  driverCpuMsPerCert: number;
  /** SQLite calls and commits per certificate (appliance with store counters only) */
  db?: { writerCalls: number; readerCalls: number; commits: number };
}

export interface MeasureOptions {
  concurrency: number;
  round: number;
  /** warm-up orders first, then `timed` measured ones */
  orders: BenchOrder[];
  warmup: number;
  timed: number;
  accounts: number;
  stallMs: number;
  pollMs: number;
  /** print the server's CPU per certificate by thread */
  threads?: boolean;
}

/**
 * One measured run against a started server: registers the accounts, runs the warm-up orders, then
 * the timed ones, reading the server's CPU ticks from /proc around the timed phase only.
 */
export async function measureRun(server: BenchServer, o: MeasureOptions): Promise<Row> {
  const responder = server.http01Port ? await http01Responder(server.http01Port) : undefined;
  const driver = new AcmeDriver(server.directoryUrl, server.caPem, o.concurrency + 4);
  try {
    await driver.init();
    const accounts: DriverAccount[] = Array.from({ length: o.accounts }, newDriverAccount);
    for (const a of accounts) await driver.register(a);
    const opts = (offset: number, n: number) => ({
      orders: n,
      concurrency: o.concurrency,
      identifier: (i: number) => ({ type: "dns" as const, value: o.orders[offset + i]!.n }),
      csr: (i: number) => o.orders[offset + i]!.csr,
      publish: (t: string, ka: string) => responder?.publish(t, ka),
      stallMs: o.stallMs,
      pollMs: o.pollMs,
    });
    const warm = await driver.run(accounts, opts(0, o.warmup));
    if (warm.stalled) {
      // a server that deadlocked during warm-up is not measured (it would time out the timed phase too)
      return {
        server: server.name,
        concurrency: o.concurrency,
        round: o.round,
        result: { ...warm, completed: 0, failed: o.timed, stalled: true, latencies: [] },
        certsPerSec: Number.NaN,
        p50: Number.NaN,
        p99: Number.NaN,
        cpuMsPerCert: Number.NaN,
        peakRssMb: memMb(server.pid).peak,
        driverCpuMsPerCert: Number.NaN,
      };
    }
    // BENCH_TIMED_HOOK: a shell command started when the timed phase starts, with the server's PID in
    // $PID (e.g. `perf record -g -p $PID -- sleep 5`)
    if (process.env.BENCH_TIMED_HOOK)
      spawn("sh", ["-c", process.env.BENCH_TIMED_HOOK], {
        env: { ...process.env, PID: String(server.pid) },
        stdio: "inherit",
      });
    const db0 = await dbCounters(server.metricsUrl);
    const cpu0 = cpuMs(server.pid);
    const threads0 = o.threads ? threadTicks(server.pid) : undefined;
    const drv0 = process.cpuUsage();
    const result = await driver.run(accounts, opts(o.warmup, o.timed));
    const cpu1 = cpuMs(server.pid);
    const db1 = db0 && (await dbCounters(server.metricsUrl));
    if (threads0) {
      const t1 = threadTicks(server.pid);
      const per = [...t1].map(
        ([k, v]) =>
          `${k} ${(((v - (threads0.get(k) ?? 0)) * 1000) / CLK_TCK / Math.max(1, result.completed)).toFixed(2)}`,
      );
      console.log(`  ${server.name} CPU ms/cert by thread: ${per.join(", ")}`);
    }
    const drv = process.cpuUsage(drv0);
    const certs = Math.max(1, result.completed);
    return {
      server: server.name,
      concurrency: o.concurrency,
      round: o.round,
      result,
      certsPerSec: result.completed / (result.wallMs / 1000),
      p50: percentile(result.latencies, 50),
      p99: percentile(result.latencies, 99),
      cpuMsPerCert: (cpu1 - cpu0) / certs,
      peakRssMb: memMb(server.pid).peak,
      driverCpuMsPerCert: (drv.user + drv.system) / 1000 / certs,
      ...(db0 && db1
        ? {
            db: {
              writerCalls: (db1.writer - db0.writer) / certs,
              readerCalls: (db1.reader - db0.reader) / certs,
              commits: (db1.commits - db0.commits) / certs,
            },
          }
        : {}),
    };
  } finally {
    driver.close();
    responder?.close();
  }
}
