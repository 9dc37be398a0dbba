// Shared by the packaging tests: build the artefacts (packaging/build.sh) into a throw-away output
// directory, and throw-away Debian 12 chroots (chroot.sh) where commands run with no network.
import { execFileSync, spawnSync } from "node:child_process";
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "../..");
const CHROOT_SH = join(REPO, "test/packaging/chroot.sh");

/** The packaging tests install packages into chroots and load firewall rules: they need root. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0)
    throw new Error("the packaging tests need root (debootstrap, chroot, namespaces); CI runs them as root");
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; returns its status and output (never throws for a non-zero exit). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): RunResult {
  const r = spawnSync(cmd, args, {
    cwd: REPO,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Like run, but throws with the output when the command fails. */
export function must(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): string {
  const r = run(cmd, args, opts);
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}

export interface Artefacts {
  dir: string;
  version: string;
  deb: string;
  nodeDeb: string;
  bundle: string;
}

/** Builds the .debs and the bundle (no image) into a fresh directory; `version` overrides package.json's. */
export function buildPackages(version?: string): Artefacts {
  const dir = mkdtempSync(join(tmpdir(), "plantroot-pkg-"));
  const env: NodeJS.ProcessEnv = { PLANTROOT_OUT: dir };
  if (version) env.PLANTROOT_VERSION = version;
  must("bash", [join(REPO, "packaging/build.sh"), "--no-image"], { env });
  const files = readdirSync(dir);
  const find = (re: RegExp) => {
    const f = files.find((x) => re.test(x));
    if (!f) throw new Error(`build produced no ${re} in ${dir}: ${files.join(", ")}`);
    return join(dir, f);
  };
  const deb = find(/^plantroot_.*_amd64\.deb$/);
  return {
    dir,
    version: deb.replace(/^.*plantroot_(.*)_amd64\.deb$/, "$1"),
    deb,
    nodeDeb: find(/^plantroot-node_.*_amd64\.deb$/),
    bundle: find(/^plantroot-.*-linux-amd64\.tar\.gz$/),
  };
}

/** A throw-away Debian 12 root filesystem (from the cached debootstrap base). */
export class Chroot {
  readonly dir: string;
  private constructor(dir: string) {
    this.dir = dir;
  }

  static create(flavor: "test" | "appliance" = "test"): Chroot {
    const dir = join(mkdtempSync(join(tmpdir(), "plantroot-chroot-")), "root");
    must("bash", [CHROOT_SH, "create", dir, flavor]);
    return new Chroot(dir);
  }

  /**
   * Runs a bash script in a fresh mount+net+pid namespace with only loopback (no network at all);
   * inside, `inroot CMD…` runs CMD chrooted. Host paths stay usable around it (e.g. host tools).
   */
  sh(script: string, env: NodeJS.ProcessEnv = {}): RunResult {
    return run("bash", [CHROOT_SH, "run", this.dir, "bash", "-c", `set -euo pipefail\n${script}`], { env });
  }

  mustSh(script: string, env: NodeJS.ProcessEnv = {}): string {
    const r = this.sh(script, env);
    if (r.status !== 0)
      throw new Error(
        `chroot script exited ${r.status}\n--- script\n${script}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
      );
    return r.stdout;
  }

  path(p: string): string {
    return join(this.dir, p);
  }

  /** whether p exists inside the chroot (a symlink counts, even if its absolute target is not on the host) */
  exists(p: string): boolean {
    try {
      lstatSync(this.path(p));
      return true;
    } catch {
      return false;
    }
  }

  destroy(): void {
    run("bash", [CHROOT_SH, "destroy", this.dir]);
  }
}

/** Copies files into the chroot's /debs (host → chroot). */
export function stageDebs(c: Chroot, files: string[]): string[] {
  execFileSync("mkdir", ["-p", c.path("debs")]);
  execFileSync("cp", [...files, c.path("debs")]);
  return files.map((f) => `/debs/${f.split("/").pop()}`);
}

/** Appends one schema migration to the store's MIGRATIONS of an installed runtime tree (compiled JS). */
export function appendMigration(runtime: string, migration: { id: string; sql: string }): void {
  const index = join(runtime, "dist/appliance/store/migrations/index.js");
  const src = readFileSync(index, "utf8");
  const m = /export const MIGRATIONS = \[(.*)\];/.exec(src);
  if (!m) throw new Error(`cannot find MIGRATIONS in ${index}`);
  const items = m[1]!.trim() ? `${m[1]}, ${JSON.stringify(migration)}` : JSON.stringify(migration);
  writeFileSync(index, src.replace(m[0], `export const MIGRATIONS = [${items}];`));
}

/** The version a runtime tree reports (`plantroot --version` reads dist/package.json). */
export function setRuntimeVersion(runtime: string, version: string): void {
  for (const f of ["dist/package.json", "package.json"]) {
    const p = join(runtime, f);
    const j = JSON.parse(readFileSync(p, "utf8"));
    j.version = version;
    writeFileSync(p, `${JSON.stringify(j, null, 2)}\n`);
  }
}

/**
 * Version N+1 of a built package for upgrade tests: the same runtime with one more schema migration
 * appended to the store's MIGRATIONS, repacked under a higher version with dpkg-deb.
 */
export function repackWithMigration(deb: string, version: string, migration: { id: string; sql: string }): string {
  const work = mkdtempSync(join(tmpdir(), "plantroot-repack-"));
  const tree = join(work, "tree");
  must("dpkg-deb", ["-R", deb, tree]);
  appendMigration(join(tree, "usr/lib/plantroot"), migration);
  const control = join(tree, "DEBIAN/control");
  writeFileSync(control, readFileSync(control, "utf8").replace(/^Version: .*$/m, `Version: ${version}`));
  setRuntimeVersion(join(tree, "usr/lib/plantroot"), version);
  rmSync(join(tree, "DEBIAN/md5sums"), { force: true });
  const out = join(work, `plantroot_${version}_amd64.deb`);
  must("dpkg-deb", ["--root-owner-group", "-Zxz", "-z1", "--build", tree, out]);
  return out;
}

export const LOOPBACK = { acmePort: 8443, httpPort: 8080, http01Port: 5002 };

/** Plant IT's edit of the packaged config for a test on loopback: the CA section, names, validation. */
export function configureLoopback(c: Chroot, ca: unknown, domains: string[]): void {
  const cfgPath = c.path("etc/plantroot/config.json");
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
  cfg.listen = {
    host: "127.0.0.1",
    port: LOOPBACK.acmePort,
    httpPort: LOOPBACK.httpPort,
    metrics: { host: "127.0.0.1", port: 9090 },
  };
  cfg.publicUrl = `https://127.0.0.1:${LOOPBACK.acmePort}`; // what the test's client uses
  cfg.tlsNames = ["plantroot.plant.example", "127.0.0.1"];
  cfg.validation = {
    allowedNetworks: ["127.0.0.0/8"],
    ports: { http01: LOOPBACK.http01Port, tlsAlpn01: 5001 },
    resolver: { hosts: Object.fromEntries(domains.map((d) => [d, ["127.0.0.1"]])) },
  };
  cfg.ca = ca;
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
}

/**
 * Inside the chroot's offline namespace: creates an EAB credential with the installed CLI and checks
 * `plantroot eab list` shows it active, runs `plantroot serve` as the plantroot user with the PIN
 * where systemd's LoadCredential would put it, waits for the directory, has lego (the host's, same
 * namespace) get a certificate for `domain` through http-01 with EAB, verifies it with openssl; then,
 * with the server running, `plantroot eab revoke` revokes that credential and a second, unused one,
 * `eab list` shows both revoked, and lego's new account with the second is refused; stops the server.
 * Prints KID <kid>, EAB-LIST-BEFORE/AFTER <line>, DIRECTORY <json>, openssl's verdict, the SAN,
 * SERIAL <hex>, REVOKED-REFUSED <lego's error> and SERVER EXIT <code>.
 */
export function serveAndEnroll(c: Chroot, domain: string): string {
  const { acmePort, http01Port } = LOOPBACK;
  const root = c.path("var/lib/plantroot/pki/root.pem");
  return c.mustSh(
    `
    uid="$(inroot id -u plantroot)"; gid="$(inroot id -g plantroot)"
    install -d -o "$uid" -g "$gid" -m 0500 "$dir/run/credentials/plantroot.service"
    install -o "$uid" -g "$gid" -m 0400 "$dir/etc/plantroot/credentials/hsm-pin" "$dir/run/credentials/plantroot.service/hsm-pin"
    # plant IT's EAB commands, run as the service user (as first-ceremony.txt says)
    eabcli() {
      inroot setpriv --reuid=plantroot --regid=plantroot --init-groups -- env SOFTHSM2_CONF=/etc/plantroot/softhsm2.conf \\
        plantroot eab "$@" --config /etc/plantroot/config.json
    }
    state() { eabcli list | awk -F '\\t' -v k="$1" '$1 == k { print $2 }'; }
    eab="$(eabcli create --label chroot-test)"
    kid="$(printf '%s\\n' "$eab" | sed -n 's/^kid: //p')"
    hmac="$(printf '%s\\n' "$eab" | sed -n 's/^hmac key: //p')"
    spare_eab="$(eabcli create --label chroot-spare)"
    spare="$(printf '%s\\n' "$spare_eab" | sed -n 's/^kid: //p')"
    spare_hmac="$(printf '%s\\n' "$spare_eab" | sed -n 's/^hmac key: //p')"
    echo "KID $kid"
    eabcli list | sed 's/^/EAB-LIST-BEFORE /'
    [ "$(state "$kid")" = active ] || { echo "eab list does not show $kid active"; eabcli list; exit 1; }
    listed="$(eabcli list; eabcli list --json)"
    case "$listed" in *"$hmac"* | *"$spare_hmac"*) echo "eab list shows an HMAC key"; exit 1;; esac
    # the environment plantroot.service gets (its credential directory as systemd sets it);
    # exec all the way down, so $! is the server process itself
    (exec chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SOFTHSM2_CONF=/etc/plantroot/softhsm2.conf \\
      NODE_ENV=production CREDENTIALS_DIRECTORY=/run/credentials/plantroot.service \\
      setpriv --reuid=plantroot --regid=plantroot --init-groups -- plantroot serve --config /etc/plantroot/config.json) \\
      >"$dir/tmp/serve.log" 2>&1 &
    server=$!
    for i in $(seq 1 120); do
      kill -0 "$server" 2>/dev/null || { echo "plantroot serve exited:"; cat "$dir/tmp/serve.log"; exit 1; }
      node -e 'fetch(process.argv[1]).then(r=>r.ok?process.exit(0):process.exit(1),()=>process.exit(1))' \\
        "https://127.0.0.1:${acmePort}/acme/directory" 2>/dev/null && break
      sleep 0.5
    done
    echo "DIRECTORY $(node -e 'fetch(process.argv[1]).then(r=>r.text()).then(t=>console.log(t))' "https://127.0.0.1:${acmePort}/acme/directory")"
    LEGO_CA_CERTIFICATES="$ROOT_PEM" lego --server "https://127.0.0.1:${acmePort}/acme/directory" --accept-tos \\
      --email it@plant.example --path "$dir/tmp/lego" --eab --kid "$kid" --hmac "$hmac" \\
      --domains ${domain} --http --http.port "127.0.0.1:${http01Port}" run >"$dir/tmp/lego.log" 2>&1 ||
      { cat "$dir/tmp/lego.log" "$dir/tmp/serve.log"; exit 1; }
    awk '/BEGIN CERTIFICATE/{n++} {print > ("'"$dir"'/tmp/cert" n ".pem")}' "$dir/tmp/lego/certificates/${domain}.crt"
    openssl verify -CAfile "$ROOT_PEM" -untrusted "$dir/tmp/cert2.pem" "$dir/tmp/cert1.pem"
    openssl x509 -noout -ext subjectAltName -in "$dir/tmp/cert1.pem"
    echo "SERIAL $(openssl x509 -noout -serial -in "$dir/tmp/cert1.pem" | cut -d= -f2 | tr 'A-F' 'a-f')"
    # revocation while the appliance runs: the used credential and an unused one
    eabcli revoke "$kid"
    eabcli revoke "$spare"
    eabcli list | sed 's/^/EAB-LIST-AFTER /'
    [ "$(state "$kid")" = revoked ] || { echo "eab list does not show $kid revoked"; exit 1; }
    [ "$(state "$spare")" = revoked ] || { echo "eab list does not show $spare revoked"; exit 1; }
    # a new account with the revoked, never used credential: the running server refuses it
    if LEGO_CA_CERTIFICATES="$ROOT_PEM" lego --server "https://127.0.0.1:${acmePort}/acme/directory" --accept-tos \\
      --email it@plant.example --path "$dir/tmp/lego-revoked" --eab --kid "$spare" --hmac "$spare_hmac" \\
      --domains ${domain} --http --http.port "127.0.0.1:${http01Port}" run >"$dir/tmp/lego-revoked.log" 2>&1; then
      echo "lego got a certificate with a revoked EAB credential"; exit 1
    fi
    echo "REVOKED-REFUSED $(grep -o 'the EAB credential was revoked' "$dir/tmp/lego-revoked.log" | head -n 1)"
    kill -TERM "$server"
    wait "$server" && rc=0 || rc=$?
    echo "SERVER EXIT $rc"
    `,
    { ROOT_PEM: root, NODE_EXTRA_CA_CERTS: root },
  );
}

/** Row count of every table of a database file (host sqlite3). */
export function tableCounts(db: string): Record<string, number> {
  const tables = must("sqlite3", [db, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"])
    .trim()
    .split("\n")
    .filter(Boolean);
  return Object.fromEntries(
    tables.map((t) => [t, Number(must("sqlite3", [db, `SELECT count(*) FROM "${t}"`]).trim())]),
  );
}
