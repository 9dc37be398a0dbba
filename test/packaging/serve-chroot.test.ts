// The installed package serving ACME with no network at all: in an offline Debian 12 chroot, plantroot
// is installed from the .debs, the HSM token set up with the packaged helper, a CA made with the
// installed CA core (stand-in for the first ceremony), an EAB credential created with the installed
// CLI; then `plantroot serve` runs as the plantroot user with the PIN where systemd's LoadCredential
// puts it, the directory is fetched, lego (Debian's, from the host) gets a certificate through
// http-01 with EAB, openssl verifies it against the CA, and the server stops cleanly.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Artefacts,
  buildPackages,
  Chroot,
  configureLoopback,
  LOOPBACK,
  REPO,
  requireRoot,
  serveAndEnroll,
  stageDebs,
} from "./helpers.js";

const { acmePort: ACME_PORT, httpPort: HTTP_PORT } = LOOPBACK;

let art: Artefacts;
let c: Chroot;

describe("installed plantroot serves ACME offline", () => {
  beforeAll(() => {
    requireRoot();
    art = buildPackages();
    c = Chroot.create("test");
    const debs = stageDebs(c, [art.nodeDeb, art.deb]);
    writeFileSync(c.path("root/demo-ca.mjs"), readFileSync(join(REPO, "test/packaging/fixtures/demo-ca.mjs")));
    const out = c.mustSh(`
      inroot dpkg -i ${debs.join(" ")} >/dev/null
      inroot /usr/lib/plantroot/scripts/init-softhsm-token >/dev/null
      inroot env SOFTHSM2_CONF=/etc/plantroot/softhsm2.conf /usr/lib/plantroot/node/bin/node /root/demo-ca.mjs \\
        http://127.0.0.1:${HTTP_PORT} plant.example
      inroot chown -R plantroot:plantroot /var/lib/plantroot
    `);
    configureLoopback(c, JSON.parse(out.trim().split("\n").pop()!), ["dev1.plant.example"]);
  }, 900_000);
  afterAll(() => c?.destroy());

  it("validates its configuration with the installed CLI", () => {
    const out = c.mustSh(`
      inroot plantroot config check
      inroot plantroot serve --config /etc/plantroot/config.json --check
    `);
    expect(out).toContain("config /etc/plantroot/config.json: OK");
    expect(out).toMatch(/configuration is valid/);
  });

  it("serves the directory and issues a certificate to lego (http-01, EAB), then stops", () => {
    const out = serveAndEnroll(c, "dev1.plant.example");
    const dir = JSON.parse(out.match(/^DIRECTORY (.*)$/m)![1]!);
    expect(dir.newAccount).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:${ACME_PORT}/`));
    expect(dir.meta.externalAccountRequired).toBe(true);
    expect(out).toMatch(/cert1\.pem: OK/);
    expect(out).toMatch(/DNS:dev1\.plant\.example/);
    // plant IT's EAB commands through the installed CLI: the credential listed active, then revoked
    // (with the server running), a revoked one refused to a new account, HMAC keys never listed
    const kid = out.match(/^KID (eab-\S+)$/m)![1]!;
    const row = (phase: string) =>
      out
        .split("\n")
        .find((l) => l.startsWith(`EAB-LIST-${phase} ${kid}\t`))
        ?.split("\t");
    expect(row("BEFORE")?.slice(1, 4)).toEqual(["active", "accounts=0/1", '"chroot-test"']);
    expect(row("AFTER")?.slice(1, 4)).toEqual(["revoked", "accounts=1/1", '"chroot-test"']);
    expect(out.match(/^EAB-LIST-AFTER /gm)).toHaveLength(2);
    expect(out).toMatch(/^REVOKED-REFUSED the EAB credential was revoked$/m);
    expect(out).toContain("SERVER EXIT 0");
  });
});
