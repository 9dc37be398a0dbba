// `plantroot restore`: puts a backup made by `plantroot backup` back, refusing a running appliance,
// a database newer than the backup (unless --force), a damaged backup or one from a newer Plantroot.
import { parseArgs } from "node:util";
import { CliError } from "../cli-error.js";
import { restoreBackup } from "../ops/backup.js";
import { loadConfig } from "../ops/config-file.js";

const HELP = `usage: plantroot restore --from BACKUP-DIR [--config FILE] [--force] [--with-config]

Stop the appliance first (systemctl stop plantroot). Checks every file of the backup against its
manifest and the database with PRAGMA integrity_check, then replaces the database the config names
(the current one is kept as <db>.pre-restore-<time>). Refuses when the current database was written
after the backup was taken, unless --force. --with-config also restores the configuration files.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      from: { type: "string" },
      force: { type: "boolean" },
      "with-config": { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.from) throw new CliError(`--from is required\n\n${HELP}`);
  const cfg = loadConfig(values.config);
  const r = await restoreBackup(cfg, values.from, {
    force: values.force ?? false,
    withConfig: values["with-config"] ?? false,
  });
  console.log(`restored ${r.database}`);
  if (r.previous) console.log(`previous database kept as ${r.previous}`);
  for (const c of r.config) console.log(`restored ${c}`);
  return 0;
}
