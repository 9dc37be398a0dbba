// `plantroot migrate`: applies pending schema migrations to the database the config names (the
// package's postinst runs it on upgrade); the file is copied aside first, and all or none apply.
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { loadConfig } from "../ops/config-file.js";

const HELP = `usage: plantroot migrate [--config FILE] [--if-exists]

Applies the schema migrations this version brings to the database (run as the plantroot user while
the appliance is stopped). Before changing a non-empty database it is copied to
<db>.pre-<first migration>.bak; the migrations apply in one transaction, so a failure leaves the
database exactly as it was. --if-exists does nothing when there is no database yet.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: "string" }, "if-exists": { type: "boolean" }, help: { type: "boolean" } },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const cfg = loadConfig(values.config);
  if (values["if-exists"] && !existsSync(cfg.database)) {
    console.log(`no database at ${cfg.database} yet: nothing to migrate`);
    return 0;
  }
  let before: Set<string> | undefined;
  if (existsSync(cfg.database)) {
    const ro = await Db.openReadOnly(cfg.database, { migrations: MIGRATIONS }); // refuses a newer database
    try {
      before = new Set((await ro.all<{ id: string }>("SELECT id FROM schema_migrations")).map((r) => r.id));
    } catch {
      before = new Set(); // no schema_migrations table yet
    } finally {
      await ro.close();
    }
  }
  const db = await Db.open(cfg.database, { migrations: MIGRATIONS });
  await db.close();
  const fresh = MIGRATIONS.filter((m) => !before?.has(m.id)).map((m) => m.id);
  console.log(
    `${before ? "database" : "new database"} ${cfg.database}: ` +
      (fresh.length ? `applied ${fresh.join(", ")}` : "schema up to date") +
      ` (${MIGRATIONS.length} migrations known)`,
  );
  return 0;
}
