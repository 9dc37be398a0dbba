// Servers for the load benchmarks, each in its own process so its CPU and memory can be read from
// /proc: the appliance as production runs it (`plantroot serve --config`, on a demo token and PKI made
// by a first `plantroot demo` run), and a fresh Pebble. Plus the device side of http-01.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { freePort } from "../helpers/ports.js";
import { waitForLine } from "./measure.js";

const ROOT = resolve(import.meta.dirname, "../..");

export interface BenchServer {
  name: "appliance" | "pebble";
  pid: number;
  directoryUrl: string;
  caPem: string;
  /** the port the server's validator connects to for http-01 (appliance; Pebble validates nothing) */
  http01Port?: number;
  /** plain-HTTP base of CRL/OCSP (appliance only) */
  pkiBase?: string;
  stop(): Promise<void>;
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
