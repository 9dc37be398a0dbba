// `plantroot status`: the health plant IT checks first — CA certificates and their expiry, HSM
// reachable, database size and schema, last CRL. Exit 0 healthy, 1 when something needs action.
import { existsSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { CliError } from "../cli-error.js";
import { type CaSummary, caSummary } from "../ops/ca-summary.js";
import { loadConfig } from "../ops/config-file.js";
import { type HsmProbe, probeHsm } from "../ops/hsm-probe.js";
import { plantrootVersion } from "../ops/version.js";

const HELP = `usage: plantroot status [--config FILE] [--json] [--warn-days N]

Shows the CA certificates and their expiry, whether the HSM token is reachable, the database size
and schema, and the last CRL. Exits 1 when something needs action (HSM unreachable, a CA
certificate expiring within --warn-days (default 30), the CRL past its nextUpdate, database missing).`;

interface Status {
  version: string;
  config: string;
  database: { path: string; exists: boolean; bytes: number; migrations: { applied: number; pending: string[] } };
  hsm: HsmProbe;
  ca: CaSummary;
  problems: string[];
  warnings: string[];
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      json: { type: "boolean" },
      "warn-days": { type: "string", default: "30" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const warnDays = Number(values["warn-days"]);
  if (!Number.isInteger(warnDays) || warnDays < 0) throw new CliError("--warn-days must be a whole number of days");
  const cfg = loadConfig(values.config);

  const problems: string[] = [];
  const warnings: string[] = [];
  const size = (p: string) => (existsSync(p) ? statSync(p).size : 0);
  const exists = existsSync(cfg.database);
  const st: Status = {
    version: plantrootVersion(),
    config: cfg.path,
    database: {
      path: cfg.database,
      exists,
      bytes: size(cfg.database) + size(`${cfg.database}-wal`),
      migrations: { applied: 0, pending: [] },
    },
    hsm: probeHsm(cfg.hsm.library, cfg.hsm.token),
    ca: { initialised: false, certificates: [] },
    problems,
    warnings,
  };
  problems.push(...st.hsm.problems.map((p) => `HSM: ${p}`));
  warnings.push(...st.hsm.warnings.map((p) => `HSM: ${p}`));
  if (!exists) problems.push(`database ${cfg.database} does not exist (run the first ceremony)`);
  else {
    const db = await Db.openReadOnly(cfg.database, { migrations: MIGRATIONS });
    try {
      const applied = new Set((await db.all<{ id: string }>("SELECT id FROM schema_migrations")).map((r) => r.id));
      st.database.migrations = {
        applied: applied.size,
        pending: MIGRATIONS.filter((m) => !applied.has(m.id)).map((m) => m.id),
      };
      st.ca = await caSummary(db, cfg.raw);
    } finally {
      await db.close();
    }
    if (st.database.migrations.pending.length)
      warnings.push(
        `database schema: ${st.database.migrations.pending.length} migration(s) pending (applied at next start)`,
      );
    if (!st.ca.initialised)
      problems.push("CA not set up yet: no issuing CA certificate configured (run the first ceremony)");
    for (const c of st.ca.certificates) {
      if (c.problem || c.daysLeft === undefined) problems.push(`${c.role} CA certificate: ${c.problem}`);
      else if (c.daysLeft < 0) problems.push(`${c.role} CA certificate ${c.subject} expired on ${c.notAfter}`);
      else if (c.daysLeft <= warnDays)
        problems.push(`${c.role} CA certificate ${c.subject} expires in ${c.daysLeft} days (${c.notAfter})`);
    }
    if (st.ca.lastCrl && Date.parse(st.ca.lastCrl.nextUpdate) < Date.now())
      problems.push(`last CRL (number ${st.ca.lastCrl.number}) is past its nextUpdate ${st.ca.lastCrl.nextUpdate}`);
    if (st.ca.issued && st.ca.issued.total > 0 && !st.ca.lastCrl) warnings.push("no CRL has been published yet");
  }

  if (values.json) console.log(JSON.stringify(st, null, 2));
  else console.log(render(st));
  return problems.length ? 1 : 0;
}

function render(st: Status): string {
  const mib = (b: number) => `${(b / 1048576).toFixed(2)} MiB`;
  const lines = [
    `plantroot ${st.version} (config ${st.config})`,
    "",
    `database  ${st.database.path}  ${st.database.exists ? mib(st.database.bytes) : "missing"}` +
      (st.database.exists
        ? `  schema: ${st.database.migrations.applied} migrations applied, ${st.database.migrations.pending.length} pending`
        : ""),
    `hsm       ${st.hsm.reachable ? "reachable" : "NOT reachable"}  token "${st.hsm.token}"` +
      (st.hsm.model ? ` (${st.hsm.manufacturer} ${st.hsm.model}, serial ${st.hsm.serial})` : "") +
      `  library ${st.hsm.library}`,
  ];
  if (st.ca.certificates.length) {
    lines.push("", "CA certificates:");
    for (const c of st.ca.certificates)
      lines.push(
        c.problem
          ? `  ${c.role.padEnd(12)} ${c.problem}`
          : `  ${c.role.padEnd(12)} ${c.subject}  serial ${c.serial}  notAfter ${c.notAfter} (${c.daysLeft} days)`,
      );
  } else lines.push("", "CA certificates: none configured");
  lines.push(
    st.ca.lastCrl
      ? `last CRL  number ${st.ca.lastCrl.number}  thisUpdate ${st.ca.lastCrl.thisUpdate}  nextUpdate ${st.ca.lastCrl.nextUpdate}  (${st.ca.lastCrl.entries} entries)`
      : "last CRL  none",
  );
  if (st.ca.issued)
    lines.push(
      `issued    ${st.ca.issued.total} certificates, ${st.ca.issued.revoked} revoked` +
        (st.ca.issued.inFlight ? `, ${st.ca.issued.inFlight} being signed` : ""),
    );
  if (st.warnings.length) lines.push("", ...st.warnings.map((w) => `warning: ${w}`));
  lines.push("", st.problems.length ? st.problems.map((p) => `PROBLEM: ${p}`).join("\n") : "status: OK");
  return lines.join("\n");
}
