// Starts the whole appliance for a test: a SoftHSM token, the demo PKI (root + SubCA via the CA
// bootstrap), a real sqlite file, the real CA and validator, HTTPS/HTTP/metrics listeners on loopback,
// and an http-01 responder the validator is pointed at.
import { freePort } from "./ports.js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { AcmeConfig } from "../../appliance/acme/service/index.js";
import { type RunningAppliance, startAppliance } from "../../appliance/appliance.js";
import { bootstrapDemoPki } from "../../appliance/ca/bootstrap.js";
import type { Ca } from "../../appliance/ca/ca.js";
import { jsonLogger } from "../../appliance/log.js";
import type { ServerLimits, TlsRenewalOptions } from "../../appliance/server.js";
import type { Db } from "../../appliance/store/db.js";
import { demoValidationConfig } from "../../appliance/validation/index.js";
import { HsmToken } from "../../hsm/index.js";
import { testSoftHsm } from "./softhsm.js";

export const HARNESS_NAMES = {
  permittedDns: ["localhost", "plant.example"],
  excludedDns: ["bad.plant.example"],
  permittedIp: ["127.0.0.0/8", "::1/128", "10.20.0.0/16"],
  excludedIp: [],
};

/** The device side of http-01: answers /.well-known/acme-challenge/TOKEN with what was published. */
export interface Http01Responder {
  port: number;
  publish(token: string, keyAuthorization: string): void;
  requests: number;
  /** while true, requests are held unanswered (a device that hangs mid-validation) */
  hold: boolean;
  close(): Promise<void>;
}

export async function startHttp01Responder(port = 0): Promise<Http01Responder> {
  const tokens = new Map<string, string>();
  const out = { port: 0, requests: 0, hold: false } as Http01Responder;
  const server = http.createServer((req, res) => {
    out.requests++;
    if (out.hold) return;
    const prefix = "/.well-known/acme-challenge/";
    const ka = req.url?.startsWith(prefix) ? tokens.get(req.url.slice(prefix.length)) : undefined;
    if (ka) res.writeHead(200, { "Content-Type": "application/octet-stream" }).end(ka);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  out.port = (server.address() as net.AddressInfo).port;
  out.publish = (t, ka) => tokens.set(t, ka);
  out.close = () =>
    new Promise((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return out;
}

export { freePort };

export interface Harness {
  app: RunningAppliance;
  ca: Ca;
  db: Db;
  dir: string;
  tokenLabel: string;
  directoryUrl: string;
  /** the demo root devices trust (PEM) */
  rootPem: string;
  responder: Http01Responder;
  connects: ConnectLog;
  /** log lines the server wrote */
  logs: Array<Record<string, unknown>>;
  /** certificates the CA issued to ACME accounts (rows in ca_certificates) */
  issuedToAccounts(): Promise<number>;
  /** stops the appliance (and removes its directory unless `keep`) */
  close(opts?: { keep?: boolean; graceMs?: number }): Promise<void>;
}

export interface HarnessOptions {
  acme?: Partial<AcmeConfig>;
  /** reuse an earlier harness's directory and token (restart tests) */
  reuse?: { dir: string; tokenLabel: string };
  limits?: Partial<ServerLimits>;
  /** key authorizations the http-01 responder serves from the start (before resumed validations run) */
  publish?: Array<[token: string, keyAuthorization: string]>;
  /** validation config instead of the demo one (ports of the responder are passed in) */
  validation?: (ports: { http01: number }) => unknown;
  /** HTTPS certificate renewal check interval and clock */
  tlsRenewal?: TlsRenewalOptions;
}

/** Every address:port the validator connected to (recorded right before each connect). */
export interface ConnectLog {
  targets: string[];
}

let tokens = 0;

export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  const sh = testSoftHsm();
  const tokenLabel = o.reuse?.tokenLabel ?? `acme-${process.pid}-${++tokens}`;
  if (!o.reuse) sh.createToken(tokenLabel, "1234");
  const token = HsmToken.open({ label: tokenLabel, pin: { value: "1234" } });
  const dir = o.reuse?.dir ?? mkdtempSync(join(tmpdir(), "acme-"));
  const httpPort = await freePort();
  const boot = await bootstrapDemoPki({
    dir: join(dir, "pki"),
    token,
    pkiBaseUrl: `http://127.0.0.1:${httpPort}`,
    names: HARNESS_NAMES,
  });
  const responder = await startHttp01Responder();
  for (const [t, ka] of o.publish ?? []) responder.publish(t, ka);
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split("\n")) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const connects: ConnectLog = { targets: [] };
  const app = await startAppliance({
    validatorOptions: { beforeConnect: (t) => connects.targets.push(`${t.address}:${t.port}`) },
    dataDir: dir,
    token,
    caConfig: { ...boot.config, pkiBaseUrl: `http://127.0.0.1:${httpPort}` },
    validationConfig:
      o.validation?.({ http01: responder.port }) ?? demoValidationConfig({ http01Port: responder.port }),
    listen: { host: "127.0.0.1", port: 0, httpPort, metricsHost: "127.0.0.1", metricsPort: 0 },
    tlsNames: [{ type: "ip", value: "127.0.0.1" }],
    acme: { eabRequired: false, ...o.acme },
    ...(o.limits ? { limits: o.limits } : {}),
    ...(o.tlsRenewal ? { tlsRenewal: o.tlsRenewal } : {}),
    log: jsonLogger(sink),
  });
  return {
    app,
    ca: app.ca,
    db: app.db,
    dir,
    tokenLabel,
    directoryUrl: app.server.directoryUrl,
    rootPem: readFileSync(boot.paths.root, "utf8"),
    responder,
    connects,
    logs,
    async issuedToAccounts() {
      const r = await app.db.get<{ n: number }>(
        "SELECT count(*) AS n FROM ca_certificates WHERE status = 'issued' AND account_id IS NOT NULL",
      );
      return r!.n;
    },
    async close(opts = {}) {
      await app.server.close(opts.graceMs ?? 5000);
      await app.ca.close();
      await app.db.close();
      await responder.close();
      token.close();
      if (!opts.keep && !o.reuse) rmSync(dir, { recursive: true, force: true });
    },
  };
}
