// `plantroot backup`: a consistent online backup (SQLite backup API) of the database and the
// configuration into a new directory; safe while the appliance is serving.
import { parseArgs } from "node:util";
import { CliError } from "../cli-error.js";
import { createBackup } from "../ops/backup.js";
import { loadConfig } from "../ops/config-file.js";

const HELP = `usage: plantroot backup --out DIR [--config FILE]

Writes DIR/plantroot-backup-<UTC time>/ (mode 0700): the database copied through SQLite's online
backup API (one consistent snapshot, taken while the appliance keeps running), the files of the
configuration directory except credentials/ (the HSM PIN is never copied), and manifest.json with
checksums. HSM keys are not in the backup: they stay in the HSM (see the ceremony key backup).`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: "string" }, out: { type: "string" }, help: { type: "boolean" } },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.out) throw new CliError(`--out is required\n\n${HELP}`);
  const cfg = loadConfig(values.config);
  const { dir, manifest } = await createBackup(cfg, values.out);
  console.log(dir);
  console.error(
    `backup: database ${manifest.database.bytes} bytes (${manifest.database.migrations.length} migrations), ` +
      `${manifest.config.length} config file(s), snapshot at ${manifest.startedAt}`,
  );
  return 0;
}
