// The operational view of the appliance configuration (/etc/plantroot/config.json, the file
// `plantroot serve --config` runs from): where the data, database and HSM are. Read-only.
import { readFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { DEFAULT_LIBRARY, type PinSource } from "../../hsm/index.js";
import { CliError } from "../cli-error.js";

export const DEFAULT_CONFIG = "/etc/plantroot/config.json";
/** where systemd puts plantroot.service's credentials (LoadCredential=), and where they come from */
export const SERVICE_CREDENTIALS = "/run/credentials/plantroot.service";
export const CREDENTIALS_SOURCE = "/etc/plantroot/credentials";

/** The config file named by --config, else $PLANTROOT_CONFIG, else /etc/plantroot/config.json. */
export function configPath(flag: string | undefined): string {
  return resolve(flag ?? process.env.PLANTROOT_CONFIG ?? DEFAULT_CONFIG);
}

const absolute = (what: string) =>
  z
    .string()
    .min(1)
    .refine(isAbsolute, { message: `${what} must be an absolute path` });

// Only the fields operations need, in the serve configuration's shape (appliance/config.ts validates
// the whole file when the appliance starts); unknown keys are kept so this view never rejects what
// the server accepts.
const OpsSchema = z.looseObject({
  dataDir: absolute("dataDir"),
  hsm: z.looseObject({
    /** PKCS#11 module (default SoftHSM2's) */
    library: absolute("hsm.library").optional(),
    token: z.string().min(1).max(32),
    pin: z.union(
      [
        z.strictObject({ file: absolute("hsm.pin.file") }),
        z.strictObject({ env: z.string().min(1) }),
        z.strictObject({ credential: z.string().regex(/^[A-Za-z0-9_.-]+$/) }),
      ],
      { error: 'hsm.pin must be {"file": PATH}, {"env": NAME} or {"credential": NAME}' },
    ),
  }),
});

export interface OpsConfig {
  /** the config file itself */
  path: string;
  /** the directory holding it (backed up with it) */
  dir: string;
  dataDir: string;
  /** <dataDir>/plantroot.db, as the appliance opens it */
  database: string;
  hsm: { library: string; token: string; pin: PinSource };
  /** the parsed JSON, whole */
  raw: Record<string, unknown>;
}

/** Problems found in a config file, each naming its field; empty when the file is usable. */
export function validateConfig(text: string): { config?: Omit<OpsConfig, "path" | "dir">; problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { problems: [`not valid JSON: ${(e as Error).message}`] };
  }
  const parsed = OpsSchema.safeParse(json);
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(file)"}: ${i.message}`),
    };
  }
  const c = parsed.data;
  return {
    config: {
      dataDir: c.dataDir,
      database: join(c.dataDir, "plantroot.db"),
      hsm: { library: c.hsm.library ?? DEFAULT_LIBRARY, token: c.hsm.token, pin: c.hsm.pin },
      raw: json as Record<string, unknown>,
    },
    problems: [],
  };
}

/** Reads and parses the config file; a bad file is a CliError naming the field. */
export function loadConfig(flag: string | undefined): OpsConfig {
  const path = configPath(flag);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new CliError(`cannot read config ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 1);
  }
  const { config, problems } = validateConfig(text);
  if (!config) throw new CliError(`config ${path}:\n  ${problems.join("\n  ")}`, 1);
  return { ...config, path, dir: dirname(path) };
}

/**
 * The file holding the HSM PIN as this (administrative) process can read it: a PIN the service gets
 * as a systemd credential is read from the credential's source under /etc/plantroot/credentials.
 */
export function pinFile(pin: PinSource): string | undefined {
  if ("credential" in pin) return join(CREDENTIALS_SOURCE, pin.credential);
  if (!("file" in pin)) return undefined;
  if (dirname(pin.file) === SERVICE_CREDENTIALS && !process.env.CREDENTIALS_DIRECTORY)
    return join(CREDENTIALS_SOURCE, basename(pin.file));
  return pin.file;
}
