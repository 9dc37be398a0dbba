// The offline install bundle (plantroot-<version>-linux-amd64.tar.gz): checksums, install.sh into a
// Debian 12 chroot with no network (user, ownership, unit enabled, runtime without TypeScript tooling),
// and a second install over it keeps plant IT's configuration (new defaults land as *.dist).
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Artefacts, buildPackages, Chroot, must, requireRoot, stageDebs } from "./helpers.js";

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

  it("installing again keeps the edited configuration and puts the new default beside it", () => {
    const cfgPath = c.path("etc/plantroot/config.json");
    const edited = { ...JSON.parse(readFileSync(cfgPath, "utf8")), dataDir: "/var/lib/plantroot" };
    writeFileSync(cfgPath, `${JSON.stringify(edited, null, 4)}\n`);
    const before = readFileSync(cfgPath, "utf8");
    const out = c.mustSh(`"$dir/root/${dirName()}/install.sh" --root "$dir"`);
    expect(out).toContain("kept /etc/plantroot/config.json; the new default is /etc/plantroot/config.json.dist");
    expect(readFileSync(cfgPath, "utf8")).toBe(before);
    expect(c.exists("etc/plantroot/config.json.dist")).toBe(true);
    expect(c.exists("usr/lib/plantroot/node/bin/node")).toBe(true);
  });
});
