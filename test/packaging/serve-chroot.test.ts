// The installed package serving ACME with no network at all: in an offline Debian 12 chroot, plantroot
// is installed from the .debs, the HSM token set up with the packaged helper, a CA made with the
// installed CA core (stand-in for the first ceremony), an EAB credential created with the installed
// CLI; then `plantroot serve` runs as the plantroot user with the PIN where systemd's LoadCredential
// puts it, the directory is fetched, lego (Debian's, from the host) gets a certificate through
// http-01 with EAB, openssl verifies it against the CA, and the server stops cleanly.
// Runs once `plantroot serve` (the ACME engineer's issue) is part of this tree.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Artefacts, buildPackages, Chroot, REPO, requireRoot, stageDebs } from "./helpers.js";

const HAS_SERVE = existsSync(join(REPO, "cli/commands/serve.ts"));
const ACME_PORT = 8443;
const HTTP_PORT = 8080;
const HTTP01_PORT = 5002;

let art: Artefacts;
let c: Chroot;

describe.skipIf(!HAS_SERVE)("installed plantroot serves ACME offline", () => {
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
    const ca = JSON.parse(out.trim().split("\n").pop()!);
    // plant IT's configuration: the packaged file with this plant's values (loopback for the test)
    const cfgPath = c.path("etc/plantroot/config.json");
    const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
    cfg.listen = {
      host: "127.0.0.1",
      port: ACME_PORT,
      httpPort: HTTP_PORT,
      metrics: { host: "127.0.0.1", port: 9090 },
    };
    cfg.tlsNames = ["plantroot.plant.example", "127.0.0.1"];
    cfg.publicUrl = `https://127.0.0.1:${ACME_PORT}`; // what this test's client uses
    cfg.validation = {
      allowedNetworks: ["127.0.0.0/8"],
      ports: { http01: HTTP01_PORT, tlsAlpn01: 5001 },
      resolver: { hosts: { "dev1.plant.example": ["127.0.0.1"] } },
    };
    cfg.ca = ca;
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
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
    const root = c.path("var/lib/plantroot/pki/root.pem");
    const out = c.mustSh(
      `
      # the PIN where systemd's LoadCredential puts it for plantroot.service (root-only at its source)
      uid="$(inroot id -u plantroot)"; gid="$(inroot id -g plantroot)"
      install -d -o "$uid" -g "$gid" -m 0500 "$dir/run/credentials/plantroot.service"
      install -o "$uid" -g "$gid" -m 0400 "$dir/etc/plantroot/credentials/hsm-pin" "$dir/run/credentials/plantroot.service/hsm-pin"
      as_plantroot() { inroot setpriv --reuid=plantroot --regid=plantroot --init-groups -- env SOFTHSM2_CONF=/etc/plantroot/softhsm2.conf "$@"; }
      eab="$(as_plantroot plantroot eab create --label chroot-test --config /etc/plantroot/config.json)"
      kid="$(printf '%s\\n' "$eab" | sed -n 's/^kid: //p')"
      hmac="$(printf '%s\\n' "$eab" | sed -n 's/^hmac key: //p')"
      # exec all the way down, so $! is the server process itself
      (exec chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SOFTHSM2_CONF=/etc/plantroot/softhsm2.conf \
        setpriv --reuid=plantroot --regid=plantroot --init-groups -- plantroot serve --config /etc/plantroot/config.json) \
        >"$dir/tmp/serve.log" 2>&1 &
      server=$!
      for i in $(seq 1 120); do
        kill -0 "$server" 2>/dev/null || { echo "plantroot serve exited:"; cat "$dir/tmp/serve.log"; exit 1; }
        node -e 'fetch(process.argv[1]).then(r=>r.ok?process.exit(0):process.exit(1),()=>process.exit(1))' \\
          "https://127.0.0.1:${ACME_PORT}/acme/directory" 2>/dev/null && break
        sleep 0.5
      done
      echo "DIRECTORY $(node -e 'fetch(process.argv[1]).then(r=>r.text()).then(t=>console.log(t))' "https://127.0.0.1:${ACME_PORT}/acme/directory")"
      LEGO_CA_CERTIFICATES="$ROOT_PEM" lego --server "https://127.0.0.1:${ACME_PORT}/acme/directory" --accept-tos \\
        --email it@plant.example --path "$dir/tmp/lego" --eab --kid "$kid" --hmac "$hmac" \\
        --domains dev1.plant.example --http --http.port "127.0.0.1:${HTTP01_PORT}" run >"$dir/tmp/lego.log" 2>&1 ||
        { cat "$dir/tmp/lego.log" "$dir/tmp/serve.log"; exit 1; }
      awk 'BEGIN{n=0} /BEGIN CERTIFICATE/{n++} {print > ("'"$dir"'/tmp/cert" n ".pem")}' "$dir/tmp/lego/certificates/dev1.plant.example.crt"
      openssl verify -CAfile "$ROOT_PEM" -untrusted "$dir/tmp/cert2.pem" "$dir/tmp/cert1.pem"
      openssl x509 -noout -ext subjectAltName -in "$dir/tmp/cert1.pem"
      kill -TERM "$server"
      wait "$server" && rc=0 || rc=$?
      echo "SERVER EXIT $rc"
    `,
      { ROOT_PEM: root, NODE_EXTRA_CA_CERTS: root },
    );
    const dir = JSON.parse(out.match(/^DIRECTORY (.*)$/m)![1]!);
    expect(dir.newAccount).toMatch(new RegExp(`^https://127\\.0\\.0\\.1:${ACME_PORT}/`));
    expect(dir.meta.externalAccountRequired).toBe(true);
    expect(out).toMatch(/cert1\.pem: OK/);
    expect(out).toMatch(/DNS:dev1\.plant\.example/);
    expect(out).toContain("SERVER EXIT 0");
  });
});
