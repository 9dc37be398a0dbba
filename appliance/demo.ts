// `plantroot demo`: the whole appliance on one machine — first start runs the INSECURE DEMO key ceremony
// and installs its SubCA like a real import; loopback-only validation, EAB optional; later runs reuse it.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join, relative, resolve } from "node:path";
import { z } from "zod";
import { HsmToken, useSoftHsm } from "../hsm/index.js";
import type { Identifier } from "./ca/api.js";
import { type CaConfigInput, parseCaConfig } from "./ca/config.js";
import { type RunningAppliance, startAppliance } from "./appliance.js";
import { DEMO_KEYS, DEMO_LABEL, demoPinFile, openWithDemoPin, runDemoCeremony } from "./demo-ceremony.js";
import { ApplianceError } from "./errors.js";
import { installCeremonySubCa, readCeremonySubCa } from "./install-subca.js";
import type { Logger } from "./log.js";
import { Db } from "./store/db.js";
import { MIGRATIONS } from "./store/migrations/index.js";
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

/** The demo's issuance policy: localhost, names under .localhost, loopback addresses. */
export const DEMO_NAMES = {
  permittedDns: ["localhost"],
  excludedDns: [],
  permittedIp: ["127.0.0.0/8", "::1/128"],
  excludedIp: [],
};

/** What the first run leaves for later runs: which ceremony made the PKI and where things are. */
const DemoStateSchema = z.strictObject({
  schema: z.literal("plantroot/demo-state/v1"),
  ceremonyId: z.string(),
  /** the evidence bundle, relative to the data dir */
  bundle: z.string(),
  registryHash: z.string(),
  logKeyId: z.string(),
  applianceToken: z.string(),
  issuingKeyLabel: z.string(),
  auditKeyLabel: z.string(),
  createdAt: z.string(),
  firstStartSeconds: z.number(),
});
export type DemoState = z.infer<typeof DemoStateSchema>;

export const DEMO_STATE_FILE = "demo-state.json";
const INCOMPLETE = "demo-first-start.incomplete";
/** what a first start creates, removed again when an earlier first start was interrupted */
const FIRST_START_PATHS = ["softhsm", "ceremony-package", "ceremonies", "pki", "tls", "root.pem", "plantroot.db"];

const README = `INSECURE DEMO — plantroot demo data directory

Made by \`plantroot demo\` (what \`npm start\` runs). NOT SECURE, NOT FOR A PLANT:
- softhsm/                 every SoftHSM token: the appliance's, the root CA's and one per demo ceremony participant
- softhsm/INSECURE-DEMO-PINS/  their PINs, in plain files (a real participant keeps a smart card and a PIN in their head)
- ceremony-package/        the demo ceremony's registry, script, dry run and script signatures
- ceremonies/<id>/         the ceremony's evidence bundle: plantroot ceremony verify ceremonies/<id>
- pki/                     the SubCA, root and root CRL the appliance uses, installed from that bundle
- plantroot.db             the appliance database with its audit chain: plantroot audit verify --db plantroot.db
- root.pem                 the root certificate devices must trust
Delete this directory to start over with a new demo ceremony.
`;

function hostIdentifiers(host: string): Identifier[] {
  const ids: Identifier[] = [isIP(host) ? { type: "ip", value: host } : { type: "dns", value: host.toLowerCase() }];
  if (host !== "localhost") ids.push({ type: "dns", value: "localhost" });
  return ids;
}

function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

function caConfig(dataDir: string, pkiBaseUrl: string, keys: { issuing: string; audit: string }): CaConfigInput {
  const pki = join(dataDir, "pki");
  return {
    pkiBaseUrl,
    hsm: { issuingKeyLabel: keys.issuing, auditKeyLabel: keys.audit },
    certificates: { issuing: join(pki, "issuing.pem"), root: join(pki, "root.pem"), rootCrl: join(pki, "root.crl") },
    policy: DEMO_NAMES,
  };
}

export function readDemoState(dataDir: string): DemoState | undefined {
  const p = join(dataDir, DEMO_STATE_FILE);
  if (!existsSync(p)) return undefined;
  const r = DemoStateSchema.safeParse(JSON.parse(readFileSync(p, "utf8")));
  if (!r.success)
    throw new ApplianceError("malformed", `${p} is not a plantroot demo state file; use a new --data-dir`);
  return r.data;
}

/**
 * First start: the demo ceremony, then the installation of its SubCA exactly as `plantroot ceremony
 * install-subca` does it (verified bundle, key check, certificate files, audit entry).
 */
async function firstStart(dataDir: string, pkiBaseUrl: string, say: (l: string) => void): Promise<DemoState> {
  const started = Date.now();
  const marker = join(dataDir, INCOMPLETE);
  if (existsSync(marker)) {
    say("an earlier first start was interrupted: removing what it made and starting the demo ceremony again");
    for (const p of FIRST_START_PATHS) rmSync(join(dataDir, p), { recursive: true, force: true });
    for (const p of ["plantroot.db-wal", "plantroot.db-shm"]) rmSync(join(dataDir, p), { force: true });
  } else if (existsSync(join(dataDir, "softhsm")) || existsSync(join(dataDir, "plantroot.db"))) {
    throw new ApplianceError(
      "malformed",
      `${dataDir} holds tokens or a database this demo did not make (no ${DEMO_STATE_FILE}); use a new --data-dir`,
    );
  }
  writeFileSync(marker, "the first start of plantroot demo has not finished\n");
  writeFileSync(join(dataDir, "README-INSECURE-DEMO.txt"), README);
  const sh = useSoftHsm(join(dataDir, "softhsm"));
  say(
    `${DEMO_LABEL}: running the demo key ceremony (root CA + issuing SubCA) with demo officers whose keys sit on disk`,
  );
  const c = await runDemoCeremony({ dataDir, sh, pkiBaseUrl, names: DEMO_NAMES, say });
  say(`${DEMO_LABEL}: ceremony ${c.ceremonyId} sealed; evidence bundle ${c.bundleDir}`);
  // installation: the appliance's audit key, then the SubCA from the verified bundle
  const token = openWithDemoPin(sh, c.applianceToken);
  try {
    if (!token.labelExists(DEMO_KEYS.audit)) token.generateKeyPair({ label: DEMO_KEYS.audit, spec: "P-256" });
    const subca = readCeremonySubCa(c.bundleDir, { registryHash: c.registryHash, logKeyId: c.logKeyId });
    const db = await Db.open(join(dataDir, "plantroot.db"), { migrations: MIGRATIONS });
    try {
      const r = await installCeremonySubCa({
        subca,
        token,
        caConfig: parseCaConfig(caConfig(dataDir, pkiBaseUrl, { issuing: subca.keyLabel, audit: DEMO_KEYS.audit })),
        db,
        actor: "demo",
      });
      say(
        `installed SubCA ${subca.certificateSha256} from ceremony ${subca.ceremonyId}; audit entry ${r.audit?.seq ?? "(already recorded)"}`,
      );
    } finally {
      await db.close();
    }
  } finally {
    token.close();
  }
  const state: DemoState = {
    schema: "plantroot/demo-state/v1",
    ceremonyId: c.ceremonyId,
    bundle: relative(dataDir, c.bundleDir),
    registryHash: c.registryHash,
    logKeyId: c.logKeyId,
    applianceToken: c.applianceToken,
    issuingKeyLabel: DEMO_KEYS.issuing,
    auditKeyLabel: DEMO_KEYS.audit,
    createdAt: new Date(started).toISOString(),
    firstStartSeconds: Math.round((Date.now() - started) / 100) / 10,
  };
  writeFileSync(join(dataDir, DEMO_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  rmSync(marker);
  say(`${DEMO_LABEL}: first start took ${state.firstStartSeconds} s`);
  return state;
}

/** A data dir made by an older demo (root and SubCA bootstrapped on one token, no ceremony). */
function legacyLayout(dataDir: string): boolean {
  return (
    existsSync(join(dataDir, "softhsm", "demo-user-pin")) &&
    existsSync(join(dataDir, "pki", "issuing.pem")) &&
    !existsSync(join(dataDir, DEMO_STATE_FILE))
  );
}

export async function runDemo(
  o: DemoOptions,
): Promise<{ appliance: RunningAppliance; directoryUrl: string; rootPath: string; state: DemoState | undefined }> {
  const dataDir = resolve(o.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  o.say(
    "DEMO MODE — NOT SECURE (INSECURE DEMO): the ceremony officers' tokens, every PIN and the CA keys sit in the data dir.",
  );
  const pkiBaseUrl = `http://${urlHost(o.host)}:${o.httpPort}`;
  let token: HsmToken;
  let config: CaConfigInput;
  let state: DemoState | undefined;
  if (legacyLayout(dataDir)) {
    o.say(
      `${dataDir} was made by an older plantroot demo WITHOUT a key ceremony (root and SubCA made directly on one token). It keeps working as it is; for the demo ceremony, start with a new --data-dir.`,
    );
    useSoftHsm(join(dataDir, "softhsm"));
    const pin = readFileSync(join(dataDir, "softhsm", "demo-user-pin"), "utf8");
    token = HsmToken.open({ label: "plantroot-demo", pin: { value: pin } });
    config = caConfig(dataDir, pkiBaseUrl, { issuing: "demo-issuing", audit: "audit-checkpoints" });
  } else {
    state = readDemoState(dataDir);
    if (state) {
      o.say(
        `reusing the demo PKI from ceremony ${state.ceremonyId} (evidence: ${join(dataDir, state.bundle)}); no new ceremony`,
      );
    } else {
      state = await firstStart(dataDir, pkiBaseUrl, o.say);
    }
    const sh = useSoftHsm(join(dataDir, "softhsm"));
    if (!existsSync(demoPinFile(sh, state.applianceToken)))
      throw new ApplianceError("malformed", `${dataDir}: the appliance token's PIN file is missing`);
    token = openWithDemoPin(sh, state.applianceToken);
    config = caConfig(dataDir, pkiBaseUrl, { issuing: state.issuingKeyLabel, audit: state.auditKeyLabel });
  }
  const rootPath = join(dataDir, "root.pem");
  copyFileSync(join(dataDir, "pki", "root.pem"), rootPath);
  const listeners = [
    { address: o.host, port: o.port },
    { address: o.host, port: o.httpPort },
  ];
  const appliance = await startAppliance({
    dataDir,
    token,
    caConfig: config,
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
  if (state)
    o.say(
      `ceremony evidence: plantroot ceremony verify ${join(dataDir, state.bundle)} --registry-hash ${state.registryHash} --log-key ${state.logKeyId}`,
    );
  o.say(
    `devices must trust ${rootPath}; validation connects to loopback ports ${o.validationHttpPort} (http-01) and ${o.validationTlsPort} (tls-alpn-01)`,
  );
  return { appliance, directoryUrl: appliance.server.directoryUrl, rootPath, state };
}
