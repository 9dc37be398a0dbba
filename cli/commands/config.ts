// `plantroot config check`: validates the config file (each problem names its field) and checks what
// it points at on this machine — data directory, PKCS#11 library, SoftHSM config, PIN credential.
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { caConfigSchema } from "../../appliance/ca/config.js";
import { serveConfigSchema } from "../../appliance/config.js";
import { validationConfigSchema } from "../../appliance/validation/config.js";
import { CliError } from "../cli-error.js";
import { caCertificateFiles } from "../ops/ca-summary.js";
import { CREDENTIALS_SOURCE, configPath, DEFAULT_CONFIG, pinFile, validateConfig } from "../ops/config-file.js";

const HELP = `usage: plantroot config check [--config FILE]

Validates the configuration (default /etc/plantroot/config.json, or $PLANTROOT_CONFIG) and the
files it refers to. A PIN the service gets as a systemd credential (hsm.pin {"credential": NAME},
or {"file": "/run/credentials/plantroot.service/NAME"}) is checked at its source
/etc/plantroot/credentials/NAME (root only), which the unit hands over with LoadCredential.
A PIN in an environment variable (hsm.pin {"env": NAME}) is a problem for the production config
(/etc/plantroot/config.json, or any file when NODE_ENV=production, as plantroot.service sets it)
and a warning otherwise (tests, demos). Exit 1 on problems.`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: { config: { type: "string" }, help: { type: "boolean" } },
    strict: true,
  });
  if (!sub || values.help || sub === "--help") {
    console.log(HELP);
    return sub ? 0 : 2;
  }
  if (sub !== "check") throw new CliError(`unknown config subcommand "${sub}"\n\n${HELP}`);
  const path = configPath(values.config);
  const { problems, warnings } = checkConfigFile(path);
  for (const w of warnings) console.log(`warning: ${w}`);
  for (const p of problems) console.log(`PROBLEM: ${p}`);
  console.log(problems.length ? `config ${path}: ${problems.length} problem(s)` : `config ${path}: OK`);
  return problems.length ? 1 : 0;
}

/** The appliance's own config (/etc/plantroot/config.json), or any config when NODE_ENV=production. */
export function isProductionConfig(path: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return resolve(path) === DEFAULT_CONFIG || env.NODE_ENV === "production";
}

export function checkConfigFile(
  path: string,
  opts: { production?: boolean } = {},
): { problems: string[]; warnings: string[] } {
  const production = opts.production ?? isProductionConfig(path);
  const warnings: string[] = [];
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return { problems: [`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`], warnings };
  }
  const { config, problems } = validateConfig(text);
  if (!config) return { problems, warnings };

  const mode = statSync(path).mode;
  if (mode & 0o002) problems.push(`${path} is world-writable`);

  if (!existsSync(config.dataDir)) problems.push(`dataDir: ${config.dataDir} does not exist`);
  else if (!statSync(config.dataDir).isDirectory()) problems.push(`dataDir: ${config.dataDir} is not a directory`);
  else if (statSync(config.dataDir).mode & 0o007) warnings.push(`dataDir: ${config.dataDir} is accessible to others`);
  const dbDir = dirname(config.database);
  if (existsSync(dbDir)) {
    try {
      accessSync(dbDir, constants.W_OK);
    } catch {
      warnings.push(`database: ${dbDir} is not writable by this user (the service user needs it)`);
    }
  } else problems.push(`database: directory ${dbDir} does not exist`);

  if (!existsSync(config.hsm.library)) problems.push(`hsm.library: ${config.hsm.library} does not exist`);
  // SoftHSM reads its token directory from SOFTHSM2_CONF (set by the unit and by /usr/bin/plantroot)
  const softhsmConf = config.hsm.library.includes("softhsm") ? process.env.SOFTHSM2_CONF : undefined;
  if (softhsmConf) {
    if (!existsSync(softhsmConf)) problems.push(`SOFTHSM2_CONF: ${softhsmConf} does not exist`);
    else {
      const m = /^\s*directories\.tokendir\s*=\s*(.+?)\s*$/m.exec(readFileSync(softhsmConf, "utf8"));
      if (!m) problems.push(`${softhsmConf}: no directories.tokendir`);
      else if (!existsSync(m[1]!)) problems.push(`${softhsmConf}: token directory ${m[1]} does not exist`);
    }
  }

  const pin = config.hsm.pin;
  if ("env" in pin) {
    if (production)
      problems.push(
        'hsm.pin: a PIN in an environment variable is not allowed in production (other processes and crash dumps can see it); use a systemd credential: {"credential": "hsm-pin"}',
      );
    else warnings.push("hsm.pin: a PIN in an environment variable is for tests only; use a systemd credential");
  }
  const file = pinFile(pin);
  if (file) {
    if (!existsSync(file)) warnings.push(`hsm.pin: ${file} does not exist yet (written when the HSM token is set up)`);
    else {
      const st = statSync(file);
      if (st.mode & 0o077)
        problems.push(`hsm.pin: ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 0600`);
      if (file.startsWith(`${CREDENTIALS_SOURCE}/`) && st.uid !== 0)
        problems.push(`hsm.pin: ${file} must be owned by root`);
    }
  }

  // the whole file as `plantroot serve` reads it (appliance/config.ts), each embedded section with its
  // owner's schema; only a missing CA section is expected (the first ceremony adds it)
  const whole = serveConfigSchema.safeParse(config.raw);
  if (!whole.success)
    for (const i of whole.error.issues) {
      if (i.path.join(".") === "ca" && config.raw.ca === undefined) continue; // warned about below
      const msg = `${i.path.join(".") || "(file)"}: ${i.message}`;
      if (!problems.some((p) => p.startsWith(`${i.path.join(".")}:`))) problems.push(msg);
    }
  const validation = validationConfigSchema.safeParse(config.raw.validation);
  if (!validation.success && config.raw.validation !== undefined)
    problems.push(...validation.error.issues.map((i) => `validation.${i.path.join(".")}: ${i.message}`));
  if (config.raw.ca === undefined) warnings.push("ca: no CA configured yet (the first ceremony adds it)");
  else {
    const r = caConfigSchema.safeParse(config.raw.ca);
    if (!r.success) problems.push(...r.error.issues.map((i) => `ca.${i.path.join(".")}: ${i.message}`));
    for (const f of caCertificateFiles(config.raw))
      if (!existsSync(f.file)) problems.push(`ca.certificates.${f.role}: ${f.file} does not exist`);
  }
  return { problems, warnings };
}
