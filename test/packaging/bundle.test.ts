// The offline install bundle (plantroot-<version>-linux-amd64.tar.gz): checksums, install.sh into a
// Debian 12 chroot with no network (user, ownership, unit enabled, runtime without TypeScript tooling),
// and an install of a newer bundle over it (one more schema migration) migrates the database (copy
// aside, records kept, integrity_check) and keeps plant IT's configuration (new defaults as *.dist).
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Artefacts,
  appendMigration,
  buildPackages,
  Chroot,
  must,
  requireRoot,
  setRuntimeVersion,
  stageDebs,
  tableCounts,
} from "./helpers.js";

const MIGRATION = "bundletest-0001-probe";

let art: Artefacts;
let c: Chroot;
let nodeDeb: string;

beforeAll(() => {
  requireRoot();
  art = buildPackages();
  c = Chroot.create("test");
  [nodeDeb] = stageDebs(c, [art.nodeDeb]) as [string];
  must("tar", ["-C", c.path("root"), "-xzf", art.bundle]);
}, 900_000);
afterAll(() => c?.destroy());

const dirName = () => `plantroot-${art.version}-linux-amd64`;

describe("offline install bundle", () => {
  it("ships compiled JavaScript, production modules, units, config and an installer, all checksummed", () => {
    const list = must("tar", ["-tzf", art.bundle]);
    for (const f of [
      "install.sh",
      "lib/plantroot/dist/cli/main.js",
      "lib/plantroot/node_modules/sqlite3/package.json",
      "systemd/plantroot.service",
      "etc/config.json",
      "etc/nftables.conf",
      "bin/plantroot",
      "SHA256SUMS",
    ])
      expect(list).toContain(`${dirName()}/${f}`);
    expect(list).not.toMatch(/node_modules\/(tsx|typescript|esbuild)\//);
    expect(list).not.toMatch(/\.ts$/m);
    const sums = c.mustSh(`cd "$dir/root/${dirName()}" && sha256sum --quiet -c SHA256SUMS && echo checksums-ok`);
    expect(sums).toContain("checksums-ok");
  });

  it("refuses to run without a Node.js >= 20 on the target", () => {
    const r = c.sh(`"$dir/root/${dirName()}/install.sh" --root "$dir"`);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no Node\.js: install nodejs \(>= 20\) or the plantroot-node package first/);
  });

  it("installs offline into a chroot: user, ownership, enabled unit, working runtime", () => {
    const out = c.mustSh(`
      inroot dpkg -i ${nodeDeb} >/dev/null
      "$dir/root/${dirName()}/install.sh" --root "$dir"
      inroot plantroot --version
      inroot stat -c '%n %U:%G %a' /etc/plantroot /etc/plantroot/config.json /etc/plantroot/credentials /var/lib/plantroot
      inroot plantroot config check
    `);
    expect(out).toContain(`installed Plantroot ${art.version}`);
    expect(out).toContain(`\n${art.version}\n`);
    expect(out).toContain("/etc/plantroot root:plantroot 750");
    expect(out).toContain("/etc/plantroot/config.json root:plantroot 640");
    expect(out).toContain("/etc/plantroot/credentials root:root 700");
    expect(out).toContain("/var/lib/plantroot plantroot:plantroot 750");
    expect(out).toContain("config /etc/plantroot/config.json: OK");
    expect(c.exists("etc/systemd/system/plantroot.service")).toBe(true);
    expect(c.exists("etc/systemd/system/multi-user.target.wants/plantroot.service")).toBe(true);
    expect(c.exists("usr/lib/plantroot/node/bin/node")).toBe(true); // plantroot-node's runtime kept
  });

  it("installing a newer bundle over it migrates the database (copied aside first, records kept) and keeps the edited configuration", () => {
    const cfgPath = c.path("etc/plantroot/config.json");
    const edited = { ...JSON.parse(readFileSync(cfgPath, "utf8")), dataDir: "/var/lib/plantroot" };
    writeFileSync(cfgPath, `${JSON.stringify(edited, null, 4)}\n`);
    const before = readFileSync(cfgPath, "utf8");
    // the installed version's database, with records in it (as the plantroot user, as the service)
    const made = c.mustSh(`
      inroot setpriv --reuid=plantroot --regid=plantroot --init-groups -- plantroot migrate
      inroot setpriv --reuid=plantroot --regid=plantroot --init-groups -- plantroot eab create --label bundle-upgrade
    `);
    expect(made).toMatch(/^new database \/var\/lib\/plantroot\/plantroot\.db: applied /m);
    expect(made).toMatch(/^kid: eab-/m);
    const db = c.path("var/lib/plantroot/plantroot.db");
    const countsBefore = tableCounts(db);
    expect(countsBefore.acme_eab_credentials).toBe(1);
    expect(countsBefore.audit_log).toBeGreaterThan(0);

    // version N+1: the same bundle with one more schema migration, under a higher version
    const next = `${art.version}+bundle1`;
    const nextDir = c.path("root/next");
    must("cp", ["-a", c.path(`root/${dirName()}`), nextDir]);
    appendMigration(join(nextDir, "lib/plantroot"), {
      id: MIGRATION,
      sql: "CREATE TABLE bundletest_probe (x INTEGER);",
    });
    setRuntimeVersion(join(nextDir, "lib/plantroot"), next);
    writeFileSync(join(nextDir, "VERSION"), `${next}\n`);
    const sums = `cd "$1" && find . -type f ! -name SHA256SUMS -printf '%P\\0' | sort -z | xargs -0 sha256sum >SHA256SUMS`;
    must("bash", ["-c", sums, "sums", nextDir]); // as lib/bundle.sh writes them
    const out = c.mustSh(`
      cd "$dir/root/next" && sha256sum --quiet -c SHA256SUMS
      "$dir/root/next/install.sh" --root "$dir"
      inroot plantroot --version
    `);
    expect(out).toContain(`database /var/lib/plantroot/plantroot.db: applied ${MIGRATION}`);
    expect(out).toContain(`installed Plantroot ${next}`);
    expect(out).toContain(`\n${next}\n`);
    expect(out).toContain("kept /etc/plantroot/config.json; the new default is /etc/plantroot/config.json.dist");

    // migrated, consistent, every record kept; the old database copied aside untouched
    expect(must("sqlite3", [db, "PRAGMA integrity_check"]).trim()).toBe("ok");
    expect(must("sqlite3", [db, `SELECT count(*) FROM schema_migrations WHERE id = '${MIGRATION}'`]).trim()).toBe("1");
    const countsAfter = tableCounts(db);
    expect(countsAfter).toEqual({
      ...countsBefore,
      bundletest_probe: 0,
      schema_migrations: countsBefore.schema_migrations! + 1,
    });
    const bak = `${db}.pre-${MIGRATION}.bak`;
    expect(must("sqlite3", [bak, "PRAGMA integrity_check"]).trim()).toBe("ok");
    expect(tableCounts(bak)).toEqual(countsBefore);
    expect(statSync(db).uid).toBe(statSync(bak).uid); // still the plantroot user's

    expect(readFileSync(cfgPath, "utf8")).toBe(before);
    expect(c.exists("etc/plantroot/config.json.dist")).toBe(true);
    expect(c.exists("usr/lib/plantroot/node/bin/node")).toBe(true);
  });
});
