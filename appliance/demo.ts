// `plantroot demo`: a complete appliance on one machine for trying it out — SoftHSM tokens and the
// database under the data dir, a demo root and SubCA made by the CA bootstrap (INSECURE: both keys on
// one SoftHSM token whose PIN is a file beside it), loopback-only validation, EAB optional.
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { HsmError, HsmToken, useSoftHsm } from "../hsm/index.js";
import type { Identifier } from "./ca/api.js";
import { bootstrapDemoPki } from "./ca/bootstrap.js";
import { type RunningAppliance, startAppliance } from "./appliance.js";
import type { Logger } from "./log.js";
import { demoValidationConfig } from "./validation/index.js";

export interface DemoOptions {
  dataDir: string;
  host: string;
  port: number;
  httpPort: number;
  validationHttpPort: number;
  validationTlsPort: number;
  metricsPort: number;
  log: Logger;
  /** progress lines for the person at the terminal (stderr) */
  say: (line: string) => void;
}

export const DEMO_TOKEN = "plantroot-demo";

/** The demo's issuance policy: localhost, names under .localhost, loopback addresses. */
export const DEMO_NAMES = {
  permittedDns: ["localhost"],
  excludedDns: [],
  permittedIp: ["127.0.0.0/8", "::1/128"],
  excludedIp: [],
};

function hostIdentifiers(host: string): Identifier[] {
  const ids: Identifier[] = [isIP(host) ? { type: "ip", value: host } : { type: "dns", value: host.toLowerCase() }];
  if (host !== "localhost") ids.push({ type: "dns", value: "localhost" });
  return ids;
}

function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** Opens (creating on first run) the demo token; the PIN sits in a 0600 file: demo only. */
function demoToken(dataDir: string, say: (l: string) => void): HsmToken {
  const sh = useSoftHsm(join(dataDir, "softhsm"));
  const pinFile = join(dataDir, "softhsm", "demo-user-pin");
  if (!existsSync(pinFile)) writeFileSync(pinFile, randomBytes(12).toString("base64url"), { mode: 0o600 });
  const pin = readFileSync(pinFile, "utf8");
  try {
    return HsmToken.open({ label: DEMO_TOKEN, pin: { value: pin } });
  } catch (e) {
    if (!(e instanceof HsmError && e.kind === "token-not-found")) throw e;
    say(`creating SoftHSM token "${DEMO_TOKEN}" in ${sh.dir}`);
    sh.createToken(DEMO_TOKEN, pin);
    return HsmToken.open({ label: DEMO_TOKEN, pin: { value: pin } });
  }
}

export async function runDemo(
  o: DemoOptions,
): Promise<{ appliance: RunningAppliance; directoryUrl: string; rootPath: string }> {
  const dataDir = resolve(o.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  o.say(
    "DEMO MODE — NOT SECURE: the root and SubCA keys share one SoftHSM token and its PIN is a file in the data dir.",
  );
  const token = demoToken(dataDir, o.say);
  const pkiBaseUrl = `http://${urlHost(o.host)}:${o.httpPort}`;
  const boot = await bootstrapDemoPki({
    dir: join(dataDir, "pki"),
    token,
    pkiBaseUrl,
    names: DEMO_NAMES,
    organization: "Plantroot Demo (insecure)",
  });
  o.say(
    boot.created
      ? "created the demo root and issuing SubCA (demo ceremony: no quorum, keys on disk)"
      : "reusing the demo PKI",
  );
  const rootPath = join(dataDir, "root.pem");
  copyFileSync(boot.paths.root, rootPath);
  const listeners = [
    { address: o.host, port: o.port },
    { address: o.host, port: o.httpPort },
  ];
  const appliance = await startAppliance({
    dataDir,
    token,
    caConfig: { ...boot.config, pkiBaseUrl },
    validationConfig: demoValidationConfig({
      http01Port: o.validationHttpPort,
      tlsAlpn01Port: o.validationTlsPort,
      ownListeners: isIP(o.host) ? listeners.filter((l) => l.port > 0) : [],
    }),
    listen: { host: o.host, port: o.port, httpPort: o.httpPort, metricsHost: "127.0.0.1", metricsPort: o.metricsPort },
    tlsNames: hostIdentifiers(o.host),
    acme: { eabRequired: false },
    log: o.log,
  });
  const p = appliance.server.ports;
  o.say(`CRL, OCSP and CA certificates: ${pkiBaseUrl}/ca/issuing.crl, ${pkiBaseUrl}/ocsp, ${pkiBaseUrl}/ca/root.crt`);
  o.say(`metrics: http://127.0.0.1:${p.metrics}/metrics`);
  o.say(
    `devices must trust ${rootPath}; validation connects to loopback ports ${o.validationHttpPort} (http-01) and ${o.validationTlsPort} (tls-alpn-01)`,
  );
  return { appliance, directoryUrl: appliance.server.directoryUrl, rootPath };
}
