// Upgrades keep data: install version N in an offline Debian 12 chroot, set up the HSM token and a
// CA, issue certificates, install N+1 (one more schema migration): the database is migrated (and
// copied aside first), every certificate record, every HSM key and the edited configuration are
// still there. Then N+2 whose migration fails: dpkg reports the error and the database is untouched.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Artefacts,
  buildPackages,
  Chroot,
  configureLoopback,
  repackWithMigration,
  requireRoot,
  serveAndEnroll,
  stageDebs,
  tableCounts,
} from "./helpers.js";

let art: Artefacts;
let c: Chroot;
let debs: { node: string; n: string; n1: string; n2: string };
let versions: { n: string; n1: string; n2: string };

// issues certificates with the installed runtime (no TypeScript, no repository code): the CA core
// from /usr/lib/plantroot/dist on the appliance's SoftHSM token, demo PKI made on first run
const ISSUE = `
import "/usr/lib/plantroot/node_modules/reflect-metadata/Reflect.js";
import { readFileSync, readdirSync } from "node:fs";
const d = "/usr/lib/plantroot/dist";
const { HsmToken } = await import(d + "/hsm/index.js");
const { bootstrapDemoPki } = await import(d + "/appliance/ca/bootstrap.js");
const { createCa } = await import(d + "/appliance/ca/create-ca.js");
const { Db } = await import(d + "/appliance/store/db.js");
const { MIGRATIONS } = await import(d + "/appliance/store/migrations/index.js");
const token = HsmToken.open({ label: "plantroot", pin: { file: "/etc/plantroot/credentials/hsm-pin" } });
const boot = await bootstrapDemoPki({ dir: "/var/lib/plantroot/pki", token, pkiBaseUrl: "http://127.0.0.1:8080",
  names: { permittedDns: ["plant.example"], excludedDns: [], permittedIp: ["127.0.0.0/8"], excludedIp: [] } });
const db = await Db.open("/var/lib/plantroot/plantroot.db", { migrations: MIGRATIONS });
const ca = await createCa({ config: boot.config, token, db });
for (const f of readdirSync("/tmp/csr").sort()) {
  const name = f.replace(/\\.der$/, "");
  const cert = await ca.issue({ csr: readFileSync("/tmp/csr/" + f), identifiers: [{ type: "dns", value: name }], requester: { accountId: "upgrade-test" } });
  console.log("issued " + cert.serial);
}
console.log("config " + JSON.stringify(boot.config));
await ca.close(); await db.close(); token.close();
`;

beforeAll(() => {
  requireRoot();
  art = buildPackages();
  versions = { n: art.version, n1: `${art.version}+upgrade1`, n2: `${art.version}+upgrade2` };
  const n1 = repackWithMigration(art.deb, versions.n1, {
    id: "upgradetest-0001-notes",
    sql: "ALTER TABLE ca_certificates ADD COLUMN upgrade_note TEXT; CREATE TABLE upgradetest_probe (x INTEGER);",
  });
  const n2 = repackWithMigration(n1, versions.n2, {
    id: "upgradetest-0002-broken",
    sql: "CREATE TABLE upgradetest_second (y INTEGER); INSERT INTO no_such_table VALUES (1);",
  });
  c = Chroot.create("test");
  const [node, n, d1, d2] = stageDebs(c, [art.nodeDeb, art.deb, n1, n2]);
  debs = { node: node!, n: n!, n1: d1!, n2: d2! };
  writeFileSync(c.path("root/issue.mjs"), ISSUE);
}, 900_000);
afterAll(() => c?.destroy());

const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

describe("upgrade N -> N+1 -> failed N+2", () => {
  const serials: string[] = [];
  let issuedTotal = 0;
  let keysBefore = "";

  it("version N: installs, sets up the token and a CA, issues certificates", () => {
    const out = c.mustSh(`
      inroot dpkg -i ${debs.node} ${debs.n}
      inroot /usr/lib/plantroot/scripts/init-softhsm-token
      mkdir -p "$dir/tmp/csr"
      for i in 1 2 3 4 5; do
        inroot openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \\
          -subj "/CN=dev$i.plant.example" -addext "subjectAltName=DNS:dev$i.plant.example" -outform DER \\
          -out "/tmp/csr/dev$i.plant.example.der" 2>/dev/null
      done
      inroot env SOFTHSM2_CONF=/etc/plantroot/softhsm2.conf /usr/lib/plantroot/node/bin/node /root/issue.mjs
      inroot chown -R plantroot:plantroot /var/lib/plantroot
      inroot plantroot hsm keys --token plantroot --pin file:/etc/plantroot/credentials/hsm-pin
    `);
    serials.push(...[...out.matchAll(/^issued ([0-9a-f]+)$/gm)].map((m) => m[1]!.replace(/^0+/, "")));
    expect(serials).toHaveLength(5);
    keysBefore = out
      .split("\n")
      .filter((l) => /^(private|public)\t/.test(l))
      .sort()
      .join("\n");
    expect(keysBefore).toMatch(/private\tdemo-issuing/);
    expect(keysBefore).toMatch(/private\taudit-checkpoints/);
    // plant IT's configuration: the CA section and the plant's values added to the conffile
    configureLoopback(c, JSON.parse(out.match(/^config (.*)$/m)![1]!), ["acme1.plant.example"]);
    const st = c.mustSh("inroot plantroot status --json || true");
    const status = JSON.parse(st);
    expect(status.ca.initialised).toBe(true);
    expect(status.ca.issued.total).toBe(5);
  });

  it("version N serves ACME: lego enrolls (account, order, authorization, challenge, certificate)", () => {
    const out = serveAndEnroll(c, "acme1.plant.example");
    expect(out).toMatch(/cert1\.pem: OK/);
    expect(out).toContain("SERVER EXIT 0");
    serials.push(out.match(/^SERIAL ([0-9a-f]+)$/m)![1]!.replace(/^0+/, ""));
  });

  it("version N+1: migrates the database (copied aside first); records, keys and configuration survive", () => {
    const cfgBefore = sha(c.path("etc/plantroot/config.json"));
    const countsBefore = tableCounts(c.path("var/lib/plantroot/plantroot.db"));
    // the records the upgrade must keep: CA, audit chain and (once the ACME server ran) ACME state
    for (const t of ["ca_certificates", "ca_crl_state", "audit_log"]) expect(countsBefore[t], t).toBeGreaterThan(0);
    for (const t of ["acme_accounts", "acme_orders", "acme_authorizations", "acme_eab_credentials"])
      expect(countsBefore[t], t).toBeGreaterThan(0);
    issuedTotal = Number(
      c.mustSh(
        `sqlite3 "$dir/var/lib/plantroot/plantroot.db" "SELECT count(*) FROM ca_certificates WHERE status='issued'"`,
      ),
    );
    const out = c.mustSh(`
      inroot dpkg -i ${debs.n1}
      inroot dpkg-query -W -f '\${Version}\\n' plantroot
      inroot plantroot hsm keys --token plantroot --pin file:/etc/plantroot/credentials/hsm-pin
      inroot plantroot status --json > /tmp/status.json || true
      cat /tmp/status.json
      inroot ls /var/lib/plantroot
      inroot plantroot audit verify --db /var/lib/plantroot/plantroot.db
    `);
    expect(out).toContain(`\n${versions.n1}\n`);
    expect(out).toMatch(/plantroot\.db: applied upgradetest-0001-notes \(/);
    const keysAfter = out
      .split("\n")
      .filter((l) => /^(private|public)\t/.test(l))
      .sort()
      .join("\n");
    expect(keysAfter).toBe(keysBefore);
    expect(out).toMatch(/plantroot\.db\.pre-upgradetest-0001-notes\.bak/);
    expect(sha(c.path("etc/plantroot/config.json"))).toBe(cfgBefore);
    const status = JSON.parse(out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1));
    expect(status.version).toBe(versions.n1);
    expect(status.database.migrations.pending).toEqual([]);
    expect(status.ca.issued.total).toBe(issuedTotal);
    const rows = c.mustSh(
      `sqlite3 "$dir/var/lib/plantroot/plantroot.db" "SELECT serial FROM ca_certificates WHERE status='issued' AND der IS NOT NULL ORDER BY serial; SELECT id FROM schema_migrations WHERE id LIKE 'upgradetest%';"`,
    );
    const issuedAfter = rows.trim().split("\n");
    expect(issuedAfter.pop()).toBe("upgradetest-0001-notes");
    for (const serial of serials) expect(issuedAfter.map((x) => x.replace(/^0+/, ""))).toContain(serial);
    // every record of every table the old version had is still there
    const countsAfter = tableCounts(c.path("var/lib/plantroot/plantroot.db"));
    for (const [table, n] of Object.entries(countsBefore))
      expect(countsAfter[table], table).toBe(table === "schema_migrations" ? n + 1 : n);
    expect(countsAfter.upgradetest_probe).toBe(0);
    // the database stays owned by the service user
    expect(c.mustSh("inroot stat -c %U /var/lib/plantroot/plantroot.db").trim()).toBe("plantroot");
  });

  it("version N+2 with a failing migration: dpkg reports it, the database is byte-for-byte untouched", () => {
    const db = c.path("var/lib/plantroot/plantroot.db");
    const before = sha(db);
    const r = c.sh(`inroot dpkg -i ${debs.n2}`);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/migration upgradetest-0002-broken failed, database left unchanged/);
    expect(r.stdout + r.stderr).toMatch(/database migration failed; the database is unchanged/);
    expect(sha(db)).toBe(before);
    const tables = c.mustSh(
      `sqlite3 "$dir/var/lib/plantroot/plantroot.db" "SELECT name FROM sqlite_master WHERE name LIKE 'upgradetest%' ORDER BY name"`,
    );
    expect(tables.trim()).toBe("upgradetest_probe");
    // going back to N+1 works on the untouched data
    const back = c.mustSh(`
      inroot dpkg -i ${debs.n1}
      inroot dpkg-query -W -f '\${Version} \${Status}\\n' plantroot
      inroot plantroot status --json || true
    `);
    expect(back).toContain(`${versions.n1} install ok installed`);
    const status = JSON.parse(back.slice(back.indexOf("{"), back.lastIndexOf("}") + 1));
    expect(status.ca.issued.total).toBe(issuedTotal);
  });
});
