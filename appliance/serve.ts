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

/**
 * The validation section with the appliance's own listeners (ACME, CRL/OCSP, metrics) added to
 * `ownListeners`, so validation never connects to the appliance itself. A listener on a host name
 * (resolved by the OS when it listens) is entered as the wildcard address: every loopback and host
 * address on that port is refused.
 */
export function withOwnListeners(validation: unknown, listeners: Array<{ host: string; port: number }>): unknown {
  if (typeof validation !== "object" || validation === null || Array.isArray(validation)) return validation;
  const v = validation as { ownListeners?: unknown };
  const given = Array.isArray(v.ownListeners) ? v.ownListeners : [];
  const own = listeners
    .filter((l) => l.port > 0)
    .flatMap((l) => (isIP(l.host) ? [l.host] : ["0.0.0.0", "::"]).map((address) => ({ address, port: l.port })));
  return { ...v, ownListeners: [...given, ...own] };
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
    validationConfig: withOwnListeners(c.validation, [
      { host: c.listen.host, port: c.listen.port },
      { host: c.listen.host, port: c.listen.httpPort },
      { host: c.listen.metrics.host, port: c.listen.metrics.port },
    ]),
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
