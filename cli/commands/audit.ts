// `plantroot audit verify`: checks the audit chain and every signed checkpoint of a database file
// offline and names the first broken entry. Exit 0 = intact, 1 = broken.
import { createPublicKey, createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { verifyAuditChain } from "../../appliance/audit/index.js";
import { openReadOnly } from "../../appliance/store/readonly.js";
import { CliError } from "../cli-error.js";

const HELP = `usage:
  plantroot audit verify --db FILE [--key PUBLIC-KEY.pem] [--json]

Recomputes every entry's hash and link and checks every checkpoint signature. --key pins the
checkpoint public key (recommended: the audit key's PEM from the installation record); without it
the key stored with the checkpoints is used and its fingerprint printed for you to compare.`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: { db: { type: "string" }, key: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean" } },
    strict: true,
  });
  if (!sub || values.help) {
    console.log(HELP);
    return sub ? 0 : 2;
  }
  if (sub !== "verify") throw new CliError(`unknown audit subcommand "${sub}"\n${HELP}`);
  if (!values.db) throw new CliError("--db is required");
  let trustedKey: ReturnType<typeof createPublicKey> | undefined;
  if (values.key) {
    try {
      trustedKey = createPublicKey(readFileSync(values.key));
    } catch (e) {
      throw new CliError(`cannot read public key ${values.key}: ${(e as Error).message}`);
    }
  }
  const q = await openReadOnly(values.db);
  try {
    const r = await verifyAuditChain(q, trustedKey ? { trustedKey } : {});
    if (values.json) {
      console.log(
        JSON.stringify(
          { ...r, checkpointKeys: r.checkpointKeys.map((k) => createHash("sha256").update(k).digest("hex")) },
          null,
          2,
        ),
      );
    } else {
      console.log(`entries: ${r.entries}, checkpoints: ${r.checkpoints}, head: ${r.headHash}`);
      console.log(`signed by checkpoints: ${r.signedSize} entries; not yet covered: ${r.unsignedTail}`);
      for (const k of r.checkpointKeys)
        console.log(`checkpoint key (not pinned) SHA-256 of SPKI: ${createHash("sha256").update(k).digest("hex")}`);
      if (r.ok) console.log("audit chain OK");
      else {
        const first = r.problems[0]!;
        console.log(`audit chain BROKEN: first broken ${first.what} ${first.at}: ${first.reason}`);
        for (const p of r.problems.slice(1)) console.log(`  also ${p.what} ${p.at}: ${p.reason}`);
      }
    }
    return r.ok ? 0 : 1;
  } finally {
    await q.close();
  }
}
