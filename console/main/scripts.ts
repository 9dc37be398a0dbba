// Reviewed ceremony scripts as packages in the console's data directory (scripts/<id>/: script.json,
// dry-run.json, script-signatures.json, inputs/ pinned files, samples/ dry-run inputs, pin-shares/):
// listing with per-signature verification, the dry run, and author/reviewer signing on their tokens.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { verify } from "node:crypto";
import { z } from "zod";
import {
  canonicalBytes,
  checkScriptSignatures,
  type DryRunReport,
  dryRunHash,
  isCeremonyError,
  type LoadedScript,
  loadScript,
  parseDryRun,
  type Registry,
  type ScriptSignature,
  type ShareSet,
  ShareSetSchema,
  signScript,
} from "../../ceremonies/index.js";

/** Just enough shape to show who signed what; checkScriptSignatures is the authoritative check. */
const SignaturesFile = z.array(
  z.strictObject({
    statement: z.strictObject({
      type: z.literal("plantroot/ceremony-script-signature/v1"),
      signer: z.string(),
      capacity: z.enum(["author", "reviewer"]),
      ceremonyId: z.string(),
      scriptHash: z.string(),
      dryRunHash: z.string(),
      time: z.string(),
    }),
    signature: z.string(),
  }),
);
import type { ScriptPackageView, ScriptSignatureView } from "../common/views.js";
import { dryRunInChild } from "./dry-run-process.js";
import { ConsoleError } from "./errors.js";
import type { ConsoleLog } from "./log.js";
import { withOfficer } from "./tokens.js";
import { tbsView } from "./views.js";

const PACKAGE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Everything CeremonySession.open needs from a package. */
export interface LoadedPackage {
  id: string;
  dir: string;
  raw: unknown;
  loaded: LoadedScript;
  dry: DryRunReport;
  signatures: ScriptSignature[];
  files: Record<string, Buffer>;
  pinShares: Record<string, ShareSet>;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConsoleError("io", `${path}: ${(e as Error).message}`);
  }
}

function filesUnder(root: string, prefix: string): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(pathsUnder(root, prefix)).map(([k, p]) => [k, readFileSync(p)]));
}

/** Files below `root` by `prefix/relative/path` → absolute path. */
function pathsUnder(root: string, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(root)) return out;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[`${prefix}/${relative(root, p).split("\\").join("/")}`] = p;
    }
  };
  walk(root);
  return out;
}

export class ScriptPackages {
  readonly root: string;

  constructor(
    dataDir: string,
    private readonly library: string,
    private readonly log: ConsoleLog,
    /** the `plantroot` command that runs dry runs (default: bin/plantroot.mjs of this checkout) */
    private readonly cli?: string,
  ) {
    this.root = join(dataDir, "scripts");
    mkdirSync(this.root, { recursive: true });
  }

  private dirOf(id: string): string {
    if (!PACKAGE_ID.test(id)) throw new ConsoleError("not-found", `no script package "${id}"`);
    const dir = join(this.root, id);
    if (!existsSync(join(dir, "script.json"))) throw new ConsoleError("not-found", `no script package "${id}"`);
    return dir;
  }

  list(registry: Registry | undefined): ScriptPackageView[] {
    const ids = readdirSync(this.root)
      .filter((n) => PACKAGE_ID.test(n) && existsSync(join(this.root, n, "script.json")))
      .sort();
    return ids.map((id) => this.view(id, registry));
  }

  view(id: string, registry: Registry | undefined): ScriptPackageView {
    const dir = this.dirOf(id);
    const base: ScriptPackageView = {
      id,
      problem: null,
      title: id,
      ceremonyId: "",
      scriptHash: null,
      registryHash: null,
      steps: [],
      signatures: [],
      dryRun: null,
      ready: false,
      missing: [],
    };
    let raw: unknown;
    try {
      raw = readJson(join(dir, "script.json"));
    } catch (e) {
      return { ...base, problem: (e as Error).message };
    }
    const r = raw as { title?: unknown; ceremonyId?: unknown; registryHash?: unknown };
    if (typeof r?.title === "string") base.title = r.title;
    if (typeof r?.ceremonyId === "string") base.ceremonyId = r.ceremonyId;
    if (typeof r?.registryHash === "string") base.registryHash = r.registryHash;
    if (!registry) return { ...base, problem: "no participant registry yet: enroll the participants first" };
    let loaded: LoadedScript;
    try {
      loaded = loadScript(raw, registry);
    } catch (e) {
      return { ...base, problem: isCeremonyError(e) ? e.message : String(e) };
    }
    const s = loaded.script;
    base.scriptHash = loaded.hash;
    base.steps = s.steps.map((st) => ({
      id: st.id,
      title: st.title ?? st.action,
      action: st.action,
      requires: st.requires,
    }));
    let dry: DryRunReport | undefined;
    let dryHash: string | null = null;
    if (existsSync(join(dir, "dry-run.json"))) {
      try {
        dry = parseDryRun(readJson(join(dir, "dry-run.json")));
        dryHash = dryRunHash(dry);
        if (dry.scriptHash !== loaded.hash)
          base.problem = "the dry-run report is for a different version of the script";
        base.dryRun = {
          time: dry.time,
          hash: dryHash,
          steps: dry.steps.map((d) => ({
            id: d.id,
            action: d.action,
            status: d.status,
            note: d.note,
            plan: d.plan,
            checks: [...d.checks, ...d.postChecks],
            tbs: d.tbs ? tbsView(d.tbs) : null,
          })),
        };
      } catch (e) {
        base.problem = `dry-run.json: ${(e as Error).message}`;
      }
    } else base.missing.push("run the dry run (reviewers sign the script together with its dry-run report)");
    const sigs = this.readSignatures(dir);
    const wanted: Array<[string, "author" | "reviewer"]> = [
      [s.author, "author"],
      ...s.reviewers.map((x) => [x, "reviewer"] as [string, "reviewer"]),
    ];
    base.signatures = wanted.map(([person, capacity]): ScriptSignatureView => {
      const name = registry.get(person)?.name ?? person;
      const sig = sigs.find((x) => x.statement.signer === person);
      if (!sig) {
        base.missing.push(`${name} signs as ${capacity}`);
        return { person, name, capacity, status: "missing" };
      }
      const st = sig.statement;
      const p = registry.get(person);
      let detail: string | undefined;
      if (st.capacity !== capacity) detail = `signed as ${st.capacity}, expected ${capacity}`;
      else if (st.scriptHash !== loaded.hash || st.ceremonyId !== s.ceremonyId) detail = "covers a different script";
      else if (dryHash === null || st.dryRunHash !== dryHash) detail = "covers a different dry-run report";
      else if (!p || !verify("sha256", canonicalBytes(st), p.approvalKey, Buffer.from(sig.signature, "base64")))
        detail = "the signature does not verify with the enrolled key";
      if (detail) base.missing.push(`${name} signs again as ${capacity} (${detail})`);
      return {
        person,
        name,
        capacity,
        status: detail ? "invalid" : "signed",
        time: st.time,
        ...(detail ? { detail } : {}),
      };
    });
    if (!base.problem && dry && dryHash) {
      try {
        checkScriptSignatures(loaded, registry, sigs, dryHash);
        base.ready = true;
      } catch (e) {
        if (base.missing.length === 0) base.missing.push(isCeremonyError(e) ? e.message : String(e));
      }
    }
    return base;
  }

  private readSignatures(dir: string): ScriptSignature[] {
    const p = join(dir, "script-signatures.json");
    if (!existsSync(p)) return [];
    const r = SignaturesFile.safeParse(readJson(p));
    if (!r.success) throw new ConsoleError("io", `${p} is not a list of script signatures`);
    return r.data;
  }

  /**
   * Runs the script against throw-away SoftHSM tokens and writes dry-run.json (once). The dry run is
   * its own process (`plantroot ceremony dry-run`) with a temporary SoftHSM token directory: it never
   * makes tokens in the console's token store nor takes slots on a real HSM.
   */
  async dryRun(id: string, registry: Registry): Promise<ScriptPackageView> {
    const dir = this.dirOf(id);
    const out = join(dir, "dry-run.json");
    if (existsSync(out))
      throw new ConsoleError("not-allowed", "this script already has a dry-run report; signatures cover it");
    const scriptPath = join(dir, "script.json");
    const raw = readJson(scriptPath);
    // what can be checked without tokens fails here, with the engine's own error kind
    const loaded = loadScript(raw, registry);
    const report = await dryRunInChild({
      scriptPath,
      registry: registry.document,
      inputs: {
        files: pathsUnder(join(dir, "inputs"), "inputs"),
        samples: Object.fromEntries(
          Object.entries(pathsUnder(join(dir, "samples"), "samples")).map(([k, v]) => [k.slice("samples/".length), v]),
        ),
      },
      cli: this.cli,
    });
    if (report.scriptHash !== loaded.hash || report.ceremonyId !== loaded.script.ceremonyId)
      throw new ConsoleError("dry-run-failed", "the dry run reported on a different script (changed while it ran?)");
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`, { flag: "wx" });
    this.log.append({
      event: "script.dry-run",
      package: id,
      scriptHash: report.scriptHash,
      dryRunHash: dryRunHash(report),
    });
    return this.view(id, registry);
  }

  /** The author or a reviewer signs script + dry-run report with the approval key on their token. */
  async sign(
    id: string,
    registry: Registry,
    a: { person: string; tokenLabel: string; pin: string },
  ): Promise<ScriptPackageView> {
    const dir = this.dirOf(id);
    const loaded = loadScript(readJson(join(dir, "script.json")), registry);
    const capacity =
      loaded.script.author === a.person
        ? "author"
        : loaded.script.reviewers.includes(a.person)
          ? "reviewer"
          : undefined;
    if (!capacity)
      throw new ConsoleError("not-allowed", `${a.person} is neither the author nor a reviewer of this script`);
    if (!existsSync(join(dir, "dry-run.json"))) throw new ConsoleError("not-allowed", "run the dry run before signing");
    const dry = parseDryRun(readJson(join(dir, "dry-run.json")));
    if (dry.scriptHash !== loaded.hash)
      throw new ConsoleError("not-allowed", "the dry run is for another version of the script");
    const sig = await withOfficer(this.library, registry, a.person, a.tokenLabel, a.pin, (officer) =>
      signScript(loaded, dryRunHash(dry), officer, capacity),
    );
    const sigs = this.readSignatures(dir).filter((x) => x.statement.signer !== a.person);
    sigs.push(sig);
    const p = join(dir, "script-signatures.json");
    writeFileSync(`${p}.tmp`, `${JSON.stringify(sigs, null, 2)}\n`);
    renameSync(`${p}.tmp`, p);
    this.log.append({ event: "script.signed", package: id, person: a.person, capacity, scriptHash: loaded.hash });
    return this.view(id, registry);
  }

  /** Loads a ready package for CeremonySession.open. */
  load(id: string, registry: Registry): LoadedPackage {
    const v = this.view(id, registry);
    if (!v.ready)
      throw new ConsoleError(
        "not-allowed",
        `the script is not ready: ${[v.problem, ...v.missing].filter(Boolean).join("; ")}`,
      );
    const dir = this.dirOf(id);
    const raw = readJson(join(dir, "script.json"));
    const pinShares: Record<string, ShareSet> = {};
    const sharesDir = join(dir, "pin-shares");
    if (existsSync(sharesDir))
      for (const f of readdirSync(sharesDir).filter((n) => n.endsWith(".json")))
        pinShares[f.slice(0, -5)] = ShareSetSchema.parse(readJson(join(sharesDir, f)));
    return {
      id,
      dir,
      raw,
      loaded: loadScript(raw, registry),
      dry: parseDryRun(readJson(join(dir, "dry-run.json"))),
      signatures: this.readSignatures(dir),
      files: filesUnder(join(dir, "inputs"), "inputs"),
      pinShares,
    };
  }
}
