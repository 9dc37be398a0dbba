// `plantroot serve --config FILE`: the production appliance. The configuration is validated whole
// before anything starts (each section by its owner), then the HSM token is opened and it serves.
import { isIP } from "node:net";
import { HsmToken } from "../hsm/index.js";
import type { Identifier } from "./ca/api.js";
import { parseCaConfig } from "./ca/config.js";
import { type RunningAppliance, startAppliance } from "./appliance.js";
import { loadServeConfig, type ServeConfig } from "./config.js";
import { ApplianceError } from "./errors.js";
import type { Logger } from "./log.js";
import { parseValidationConfig } from "./validation/index.js";

/** Loads and checks the configuration file; throws ApplianceError("malformed") naming the field. */
export function checkServeConfig(path: string): ServeConfig {
  const config = loadServeConfig(path);
  try {
    parseCaConfig(config.ca);
  } catch (e) {
    throw new ApplianceError(
      "malformed",
      `${path}: field ca.${(e as Error).message.replace(/^CA configuration: /, "")}`,
    );
  }
  try {
    parseValidationConfig(config.validation, "validation");
  } catch (e) {
    throw new ApplianceError("malformed", `${path}: field ${(e as Error).message}`);
  }
  return config;
}

export function tlsIdentifiers(names: string[]): Identifier[] {
  return names.map((n) => (isIP(n) ? { type: "ip", value: n } : { type: "dns", value: n.toLowerCase() }));
}

export async function serve(path: string, log: Logger): Promise<RunningAppliance> {
  const c = checkServeConfig(path);
  const token = HsmToken.open({
    ...(c.hsm.library ? { library: c.hsm.library } : {}),
    label: c.hsm.token,
    pin: c.hsm.pin,
  });
  const appliance = await startAppliance({
    dataDir: c.dataDir,
    token,
    caConfig: c.ca,
    validationConfig: c.validation,
    listen: {
      host: c.listen.host,
      port: c.listen.port,
      httpPort: c.listen.httpPort,
      metricsHost: c.listen.metrics.host,
      metricsPort: c.listen.metrics.port,
    },
    ...(c.publicUrl ? { origin: c.publicUrl } : {}),
    tlsNames: tlsIdentifiers(c.tlsNames),
    acme: c.acme,
    limits: c.server,
    log,
  });
  log.info("serving", {
    directory: appliance.server.directoryUrl,
    httpPort: appliance.server.ports.http,
    metricsPort: appliance.server.ports.metrics,
  });
  return appliance;
}
