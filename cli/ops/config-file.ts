// The operational view of the appliance config file (/etc/plantroot/config.json): where the data,
// database and HSM are. Used by status, backup, restore, migrate and `config check`; read-only.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { CliError } from "../cli-error.js";

export const DEFAULT_CONFIG = "/etc/plantroot/config.json";

/** The config file named by --config, else $PLANTROOT_CONFIG, else /etc/plantroot/config.json. */
export function configPath(flag: string | undefined): string {
  return resolve(flag ?? process.env.PLANTROOT_CONFIG ?? DEFAULT_CONFIG);
}

const absolute = (what: string) =>
  z
    .string()
    .min(1)
    .refine(isAbsolute, { message: `${what} must be an absolute path` });

// Only the fields operations need; the server (`plantroot serve`) validates the whole file itself.
// Unknown keys are kept so this view never rejects what the server accepts.
const OpsSchema = z.looseObject({
  dataDir: absolute("dataDir"),
  /** default <dataDir>/plantroot.db */
  database: absolute("database").optional(),
  hsm: z.looseObject({
    library: absolute("hsm.library"),
    token: z.string().min(1).max(32),
    /** file:/path, env:NAME or credential:NAME (systemd LoadCredential) */
    pin: z.string().regex(/^(file|env|credential):.+/, "hsm.pin must be file:PATH, env:NAME or credential:NAME"),
    /** SoftHSM only: its config file (sets SOFTHSM2_CONF) */
    softhsmConf: absolute("hsm.softhsmConf").optional(),
  }),
});

export interface OpsConfig {
  /** the config file itself */
  path: string;
  /** the directory holding it and the files it refers to (backed up with it) */
  dir: string;
  dataDir: string;
  database: string;
  hsm: { library: string; token: string; pin: string; softhsmConf?: string };
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
  const hsm: OpsConfig["hsm"] = { library: c.hsm.library, token: c.hsm.token, pin: c.hsm.pin };
  if (c.hsm.softhsmConf) hsm.softhsmConf = c.hsm.softhsmConf;
  return {
    config: {
      dataDir: c.dataDir,
      database: c.database ?? join(c.dataDir, "plantroot.db"),
      hsm,
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

/** SoftHSM reads SOFTHSM2_CONF once at C_Initialize: set it from the config before touching the HSM. */
export function applyHsmEnvironment(cfg: OpsConfig): void {
  if (cfg.hsm.softhsmConf && !process.env.SOFTHSM2_CONF) process.env.SOFTHSM2_CONF = cfg.hsm.softhsmConf;
}
