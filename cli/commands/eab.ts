// `plantroot eab`: External Account Binding credentials for plant IT — create (prints the key ID and
// HMAC key once), list, revoke. Optional pre-authorised identifier patterns for private trust.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createEab, listEab, revokeEab } from "../../appliance/acme/service/eab.js";
import { AuditLog, type CheckpointSigner } from "../../appliance/audit/index.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { getEab } from "../../appliance/store/acme/eab.js";
import { CliError } from "../cli-error.js";
import { loadConfig } from "../ops/config-file.js";

const HELP = `usage:
  plantroot eab create --label TEXT [--identifier PATTERN]... [--reusable] [--expires-days N] [--config FILE | --data-dir DIR]
  plantroot eab list [--config FILE | --data-dir DIR] [--json]
  plantroot eab revoke KID [--config FILE | --data-dir DIR]

The database is <dataDir>/plantroot.db of the configuration (default /etc/plantroot/config.json, or
$PLANTROOT_CONFIG; a CA section is not needed, so credentials can be made before the first
ceremony). list never shows HMAC keys; revoked credentials stay listed.

PATTERN pre-authorises identifiers for accounts bound with this credential (no challenge needed):
  plc7.line3.plant (exactly that name), *.line3.plant (any name below it), 10.20.0.0/16, fd00::/8.
The CA's issuance policy still applies. Without --reusable a credential binds one account.`;

/** This process appends audit entries but never signs checkpoints (the appliance's HSM key does). */
const CHECKPOINTS_ELSEWHERE: CheckpointSigner = {
  spki: Buffer.alloc(0),
  defaultAlgorithm: "ecdsa-sha256",
  sign: () => Promise.reject(new Error("audit checkpoints are signed by the running appliance")),
};

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      "data-dir": { type: "string" },
      label: { type: "string" },
      identifier: { type: "string", multiple: true },
      reusable: { type: "boolean" },
      "expires-days": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  const [sub, ...args] = positionals;
  if (!sub || values.help) {
    console.log(HELP);
    return sub ? 0 : 2;
  }
  if (values.config && values["data-dir"]) throw new CliError("give --config FILE or --data-dir DIR, not both");
  const dataDir = values["data-dir"] ?? loadConfig(values.config).dataDir;
  const db = await Db.open(join(dataDir, "plantroot.db"), { migrations: MIGRATIONS });
  // creations and revocations go into the audit chain; the running appliance signs its checkpoints
  const audit = new AuditLog(db, CHECKPOINTS_ELSEWHERE);
  const actor = `operator:${process.env.SUDO_USER ?? process.env.USER ?? "unknown"}`;
  try {
    switch (sub) {
      case "create": {
        if (!values.label) throw new CliError("--label is required");
        let expiresAt: Date | undefined;
        if (values["expires-days"] !== undefined) {
          const d = Number(values["expires-days"]);
          if (!Number.isInteger(d) || d < 1) throw new CliError("--expires-days must be a positive integer");
          expiresAt = new Date(Date.now() + d * 86400_000);
        }
        let created: Awaited<ReturnType<typeof createEab>>;
        try {
          created = await createEab(db, {
            label: values.label,
            identifiers: values.identifier ?? [],
            reusable: values.reusable ?? false,
            ...(expiresAt ? { expiresAt } : {}),
            audit,
            actor,
          });
        } catch (e) {
          if (e instanceof RangeError) throw new CliError(e.message);
          throw e;
        }
        console.log(`kid: ${created.kid}`);
        console.log(`hmac key: ${created.hmacKey}`);
        console.log(
          "(the HMAC key is shown once; give both to the device's ACME client, e.g. certbot --eab-kid/--eab-hmac-key)",
        );
        return 0;
      }
      case "list": {
        const all = await listEab(db);
        if (values.json) {
          console.log(
            JSON.stringify(
              all.map(({ hmacKey: _secret, ...c }) => c),
              null,
              2,
            ),
          );
          return 0;
        }
        for (const c of all) {
          const state = c.revokedAt ? "revoked" : c.expiresAt && c.expiresAt < new Date() ? "expired" : "active";
          console.log(
            [
              c.kid,
              state,
              `accounts=${c.boundAccounts}${c.reusable ? "" : "/1"}`,
              JSON.stringify(c.label),
              c.identifiers.join(","),
            ]
              .filter(Boolean)
              .join("\t"),
          );
        }
        return 0;
      }
      case "revoke": {
        const kid = args[0];
        if (!kid) throw new CliError("the key ID to revoke is required");
        if (!(await revokeEab(db, kid, { audit, actor }))) {
          const known = await getEab(db, kid);
          throw new CliError(
            known
              ? `EAB credential ${kid} is already revoked`
              : `no EAB credential with key ID ${kid} (plantroot eab list shows them)`,
            1,
          );
        }
        console.log(`revoked ${kid} (accounts already bound stay valid; deactivate them separately)`);
        return 0;
      }
      default:
        throw new CliError(`unknown eab subcommand "${sub}"\n${HELP}`);
    }
  } finally {
    await db.close();
  }
}
