// The plantroot .deb, built by packaging/build.sh, installed with dpkg into a Debian 12 chroot with no
// network: lintian-clean, system user and ownership, unit enabled but nothing started, the installed
// plantroot runs without TypeScript tooling, talks to SoftHSM, and serves ACME to a real client.
import { readFileSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Artefacts, buildPackages, Chroot, must, requireRoot, run, stageDebs } from "./helpers.js";

let art: Artefacts;
let c: Chroot;
let debs: string[];

beforeAll(() => {
  requireRoot();
  art = buildPackages();
  c = Chroot.create("test");
  debs = stageDebs(c, [art.nodeDeb, art.deb]);
}, 900_000);
afterAll(() => c?.destroy());

describe("plantroot .deb", () => {
  it("lintian finds no errors in either package", () => {
    const r = run("lintian", ["--tag-display-limit", "0", art.deb, art.nodeDeb]);
    const errors = r.stdout.split("\n").filter((l) => /^E: /.test(l));
    expect(errors).toEqual([]);
    expect(r.status).toBe(0);
  }, 120_000);

  it("declares what it needs: Node >= 20 (bundled runtime or nodejs), SoftHSM, shared libraries", () => {
    const control = must("dpkg-deb", ["-f", art.deb, "Depends"]);
    expect(control).toMatch(/plantroot-node \(>= 20\) \| nodejs \(>= 20\)/);
    expect(control).toMatch(/softhsm2/);
    expect(control).toMatch(/libc6/);
    const files = must("dpkg-deb", ["-c", art.deb]);
    expect(files).toMatch(/\.\/usr\/lib\/plantroot\/dist\/cli\/main\.js/);
    expect(files).not.toMatch(/node_modules\/(tsx|typescript|vitest|esbuild|node-gyp)\//);
    expect(files).not.toMatch(/\.(ts|mts|cts|map)$/m); // no TypeScript (not even declarations), no source maps
    expect(must("dpkg-deb", ["-c", art.nodeDeb])).toMatch(/\.\/usr\/lib\/plantroot\/node\/bin\/node/);
  });

  it("installs offline with dpkg: plantroot user, ownership, unit enabled, nothing running", () => {
    const out = c.mustSh(`
      ip -o link | grep -v ' lo:' && { echo "network present"; exit 1; } || true
      inroot dpkg -i ${debs.join(" ")}
      inroot plantroot --version
      inroot dpkg -S /etc/plantroot /var/lib/plantroot /usr/lib/plantroot
      inroot getent passwd plantroot
      inroot stat -c '%n %U:%G %a' /etc/plantroot /etc/plantroot/config.json /etc/plantroot/credentials /var/lib/plantroot /var/lib/plantroot/softhsm
      # this PID namespace's /proc (mounted in the chroot): only this script's own processes may exist
      cat "$dir"/proc/[0-9]*/comm | grep -E '^(node|plantroot)$' && { echo "something was started"; exit 1; } || true
    `);
    expect(out).toContain(`\n${art.version}\n`);
    // the package owns its three directories (plantroot-node shares /usr/lib/plantroot)
    for (const d of ["/etc/plantroot", "/var/lib/plantroot", "/usr/lib/plantroot"])
      expect(out).toMatch(new RegExp(`^(plantroot-node, )?plantroot(, plantroot-node)?: ${d}$`, "m"));
    expect(out).toMatch(
      /^plantroot:x:\d+:\d+:Plantroot certificate authority:\/var\/lib\/plantroot:\/usr\/sbin\/nologin$/m,
    );
    expect(out).toContain("/etc/plantroot root:plantroot 750");
    expect(out).toContain("/etc/plantroot/config.json root:plantroot 640");
    expect(out).toContain("/etc/plantroot/credentials root:root 700");
    expect(out).toContain("/var/lib/plantroot plantroot:plantroot 750");
    expect(out).toContain("/var/lib/plantroot/softhsm plantroot:plantroot 700");
    expect(c.exists("etc/systemd/system/multi-user.target.wants/plantroot.service")).toBe(true);
    // the runtime is compiled JavaScript with production modules only
    expect(c.exists("usr/lib/plantroot/node_modules/tsx")).toBe(false);
    expect(c.exists("usr/lib/plantroot/node_modules/sqlite3/build/Release/node_sqlite3.node")).toBe(true);
  });

  it("systemd-analyze verify accepts the installed unit; its man page renders", () => {
    const r = run("systemd-analyze", ["verify", `--root=${c.dir}`, "--man=no", "plantroot.service"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const man = run("man", ["--warnings", "-l", c.path("usr/share/man/man1/plantroot.1.gz")], {
      env: { MANWIDTH: "80" },
    });
    expect(man.stderr).toBe("");
    expect(man.stdout).toMatch(/plantroot - air-gapped ACME certificate authority/);
  });

  it("sets up a SoftHSM token as the plantroot user; config check, status, migrate, backup work", () => {
    const out = c.mustSh(`
      inroot /usr/lib/plantroot/scripts/init-softhsm-token
      inroot stat -c '%n %U:%G %a' /etc/plantroot/credentials/hsm-pin
      inroot find /var/lib/plantroot/softhsm/tokens -mindepth 1 ! -user plantroot
      inroot plantroot config check
      inroot setpriv --reuid=plantroot --regid=plantroot --init-groups -- plantroot migrate
      inroot plantroot status --json > /tmp/status.json || true
      cat /tmp/status.json
      inroot plantroot backup --out /root
    `);
    expect(out).toContain("/etc/plantroot/credentials/hsm-pin root:root 600");
    expect(out).toContain("config /etc/plantroot/config.json: OK");
    const status = JSON.parse(out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1));
    expect(status.hsm.reachable).toBe(true);
    expect(status.hsm.model).toBe("SoftHSM v2");
    expect(status.database.exists).toBe(true);
    expect(out).toMatch(/\/root\/plantroot-backup-\d{8}T\d{6}Z/);
    // the PIN never lands in the backup
    const pin = readFileSync(c.path("etc/plantroot/credentials/hsm-pin"), "utf8");
    const backup = out.match(/\/root\/plantroot-backup-\d{8}T\d{6}Z/)![0];
    expect(run("grep", ["-r", "-l", pin, c.path(backup)]).stdout).toBe("");
    expect(statSync(c.path(backup)).mode & 0o777).toBe(0o700);
  });

  it("remove keeps the CA's data; purge removes configuration but still keeps data, token and PIN", () => {
    const out = c.mustSh(`
      inroot dpkg --remove plantroot
      test -d /proc/1 # namespace alive
      inroot test -f /etc/plantroot/config.json && echo "config kept after remove"
      inroot dpkg --purge plantroot
      inroot test ! -e /etc/plantroot/config.json && echo "config gone after purge"
      inroot test -f /etc/plantroot/credentials/hsm-pin && echo "pin kept"
      inroot test -f /var/lib/plantroot/plantroot.db && echo "db kept"
      inroot test ! -e /usr/lib/plantroot/dist && echo "runtime gone"
    `);
    for (const s of ["config kept after remove", "config gone after purge", "pin kept", "db kept", "runtime gone"])
      expect(out).toContain(s);
  });
});
