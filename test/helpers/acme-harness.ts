// Starts the appliance's ACME server for a test: real sqlite file in a temp dir, real HTTPS listener
// on loopback ports from the OS, with the CA and validator the test passes in.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AcmeConfig } from "../../appliance/acme/service/index.js";
import type { CertificateAuthority } from "../../appliance/ca/api.js";
import { jsonLogger, type Logger } from "../../appliance/log.js";
import { ApplianceServer, type RequestHandler } from "../../appliance/server.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { TlsIdentity } from "../../appliance/tls-identity.js";
import type { Validator } from "../../appliance/validation/api.js";
import { Writable } from "node:stream";

export interface Harness {
  server: ApplianceServer;
  db: Db;
  dir: string;
  directoryUrl: string;
  /** log lines the server wrote */
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  ca: CertificateAuthority;
  validator: Validator;
  acme?: Partial<AcmeConfig>;
  pkiHandler?: RequestHandler;
  dir?: string;
  log?: Logger;
}

export async function startHarness(o: HarnessOptions): Promise<Harness> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "acme-"));
  const db = await Db.open(join(dir, "plantroot.db"), { migrations: MIGRATIONS });
  const tls = await TlsIdentity.ensure(join(dir, "tls"), [{ type: "ip", value: "127.0.0.1" }], o.ca);
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split("\n")) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const server = await ApplianceServer.start({
    db,
    ca: o.ca,
    validator: o.validator,
    tls,
    listen: { host: "127.0.0.1", port: 0, httpPort: 0, metricsHost: "127.0.0.1", metricsPort: 0 },
    acme: { eabRequired: false, ...o.acme },
    ...(o.pkiHandler ? { pkiHandler: o.pkiHandler } : {}),
    log: o.log ?? jsonLogger(sink),
  });
  return {
    server,
    db,
    dir,
    directoryUrl: server.directoryUrl,
    logs,
    async close() {
      await server.close();
      await db.close();
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
