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

/**
 * Version N+1 of a built package for upgrade tests: the same runtime with one more schema migration
 * appended to the store's MIGRATIONS, repacked under a higher version with dpkg-deb.
 */
export function repackWithMigration(deb: string, version: string, migration: { id: string; sql: string }): string {
  const work = mkdtempSync(join(tmpdir(), "plantroot-repack-"));
  const tree = join(work, "tree");
  must("dpkg-deb", ["-R", deb, tree]);
  const index = join(tree, "usr/lib/plantroot/dist/appliance/store/migrations/index.js");
  const src = readFileSync(index, "utf8");
  const m = /export const MIGRATIONS = \[(.*)\];/.exec(src);
  if (!m) throw new Error(`cannot find MIGRATIONS in ${index}`);
  const items = m[1]!.trim() ? `${m[1]}, ${JSON.stringify(migration)}` : JSON.stringify(migration);
  writeFileSync(index, src.replace(m[0], `export const MIGRATIONS = [${items}];`));
  const control = join(tree, "DEBIAN/control");
  writeFileSync(control, readFileSync(control, "utf8").replace(/^Version: .*$/m, `Version: ${version}`));
  for (const f of ["dist/package.json", "package.json"]) {
    const p = join(tree, "usr/lib/plantroot", f);
    const j = JSON.parse(readFileSync(p, "utf8"));
    j.version = version;
    writeFileSync(p, `${JSON.stringify(j, null, 2)}\n`);
  }
  rmSync(join(tree, "DEBIAN/md5sums"), { force: true });
  const out = join(work, `plantroot_${version}_amd64.deb`);
  must("dpkg-deb", ["--root-owner-group", "-Zxz", "-z1", "--build", tree, out]);
  return out;
}
