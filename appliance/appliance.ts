// Builds a running appliance from its parts, in one place for `serve`, `demo` and the tests: the
// database, the CA (on an open HSM token), the validator, the HTTPS identity and the listeners.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { HsmToken } from "../hsm/index.js";
import { DEFAULT_ACME_CONFIG } from "./acme/service/context.js";
import type { AcmeConfig } from "./acme/service/index.js";
import type { Identifier } from "./ca/api.js";
import type { Ca } from "./ca/ca.js";
import { parseCaConfig } from "./ca/config.js";
import { createCa } from "./ca/create-ca.js";
import { derToPem } from "./ca/cert-parse.js";
import { createPkiHttpApp } from "./ca/http.js";
import type { Logger } from "./log.js";
import { ApplianceServer, type ListenConfig, type ServerLimits, type TlsRenewalOptions } from "./server.js";
import { Db } from "./store/db.js";
import { MIGRATIONS } from "./store/migrations/index.js";
import { TlsIdentity } from "./tls-identity.js";
import { createValidator, type ValidationAuthority, type ValidatorOptions } from "./validation/index.js";

export interface ApplianceOptions {
  dataDir: string;
  /** open, logged-in token with the issuing and audit keys */
  token: HsmToken;
  /** the CA section (validated by appliance/ca) */
  caConfig: unknown;
  /** the validation section (validated by appliance/validation) */
  validationConfig: unknown;
  /** observers for the validator (tests watch every connect it makes) */
  validatorOptions?: ValidatorOptions;
  listen: ListenConfig;
  origin?: string;
  /** names and addresses in the appliance's own HTTPS certificate */
  tlsNames: Identifier[];
  acme?: Partial<AcmeConfig>;
  limits?: Partial<ServerLimits>;
  log: Logger;
  requestLog?: boolean;
  /** HTTPS certificate renewal check interval and clock (tests) */
  tlsRenewal?: TlsRenewalOptions;
}

export interface RunningAppliance {
  db: Db;
  ca: Ca;
  validator: ValidationAuthority;
  server: ApplianceServer;
  close(): Promise<void>;
}

export async function startAppliance(o: ApplianceOptions): Promise<RunningAppliance> {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const validator = createValidator(o.validationConfig, o.validatorOptions);
  const db = await Db.open(join(o.dataDir, "plantroot.db"), { migrations: MIGRATIONS });
  let ca: Ca | undefined;
  try {
    ca = await createCa({
      config: o.caConfig,
      token: o.token,
      db,
      onError: (e) => o.log.error("CA background task failed", { error: String(e) }),
    });
    const tls = await TlsIdentity.ensure(join(o.dataDir, "tls"), o.tlsNames, ca);
    const caRef = ca;
    // an order may not name more identifiers than the CA puts into one certificate: such orders could
    // never be finalized, yet each would leave its pending authorizations behind
    const caMax = parseCaConfig(o.caConfig).policy.maxIdentifiers;
    const acme: Partial<AcmeConfig> = {
      ...o.acme,
      maxIdentifiersPerOrder: Math.min(
        o.acme?.maxIdentifiersPerOrder ?? DEFAULT_ACME_CONFIG.maxIdentifiersPerOrder,
        caMax,
      ),
    };
    const server = await ApplianceServer.start({
      db,
      ca,
      validator,
      tls,
      listen: o.listen,
      ...(o.origin ? { origin: o.origin } : {}),
      acme,
      ...(o.limits ? { limits: o.limits } : {}),
      pkiHandler: createPkiHttpApp(ca).callback(),
      caCertificatesPem: () => {
        const c = caRef.caCertificates();
        return [derToPem(c.root), derToPem(c.issuing)];
      },
      log: o.log,
      ...(o.requestLog !== undefined ? { requestLog: o.requestLog } : {}),
      ...(o.tlsRenewal ? { tlsRenewal: o.tlsRenewal } : {}),
    });
    return {
      db,
      ca,
      validator,
      server,
      async close() {
        await server.close();
        await caRef.close();
        await db.close();
      },
    };
  } catch (e) {
    await ca?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw e;
  }
}
