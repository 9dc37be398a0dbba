// The console's dry run, in a child process (`plantroot ceremony dry-run`) that makes its own temporary
// SoftHSM token directory: it never touches the console's PKCS#11 library or token store, real HSM or not.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { canonicalJson, type DryRunReport, parseDryRun } from "../../ceremonies/index.js";
import { ConsoleError } from "./errors.js";

/**
 * `bin/plantroot.mjs` of this checkout: two levels above this module both as a source file
 * (console/main/) and inside the Electron bundle (console/dist/).
 */
export const PLANTROOT_CLI = resolve(dirname(fileURLToPath(import.meta.url)), "../../bin/plantroot.mjs");

export interface DryRunFiles {
  /** pinned files by bundle path (inputs/…) → file on disk */
  files: Record<string, string>;
  /** sample documents for `{input: name}` refs → file on disk */
  samples: Record<string, string>;
}

/** Runs `plantroot ceremony dry-run` on the script and registry; resolves with its report. */
export async function dryRunInChild(o: {
  scriptPath: string;
  registry: unknown;
  inputs: DryRunFiles;
  cli?: string;
  timeoutMs?: number;
}): Promise<DryRunReport> {
  const cli = o.cli ?? PLANTROOT_CLI;
  if (!existsSync(cli)) throw new ConsoleError("unavailable", `the plantroot command (${cli}) is not installed`);
  for (const name of [...Object.keys(o.inputs.files), ...Object.keys(o.inputs.samples)])
    if (name.includes("=")) throw new ConsoleError("bad-arguments", `file name "${name}" may not contain "="`);
  const scratch = mkdtempSync(join(tmpdir(), "plantroot-console-dry-run-"));
  try {
    const registryPath = join(scratch, "registry.json");
    writeFileSync(registryPath, `${canonicalJson(o.registry)}\n`);
    const out = join(scratch, "dry-run.json");
    const args = [cli, "ceremony", "dry-run", o.scriptPath, "--registry", registryPath, "--out", out];
    for (const [k, p] of Object.entries(o.inputs.files)) args.push("--file", `${k}=${p}`);
    for (const [k, p] of Object.entries(o.inputs.samples)) args.push("--sample", `${k}=${p}`);
    const env: NodeJS.ProcessEnv = { ...process.env };
    // the child picks its own temporary SoftHSM; nothing of the console's PKCS#11 setup may leak in
    delete env.SOFTHSM2_CONF;
    delete env.PLANTROOT_PKCS11_LIBRARY;
    // inside Electron, process.execPath is Electron's binary: run it as plain Node for the CLI
    if (process.versions.electron) env.ELECTRON_RUN_AS_NODE = "1";
    const { code, output } = await new Promise<{ code: number | null; output: string }>((res, rej) => {
      const child = spawn(process.execPath, args, { cwd: scratch, env, stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      const keep = (d: Buffer) => {
        text = (text + d.toString()).slice(-16_384);
      };
      child.stdout.on("data", keep);
      child.stderr.on("data", keep);
      const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 15 * 60_000);
      child.on("error", (e) => {
        clearTimeout(timer);
        rej(new ConsoleError("unavailable", `cannot start the dry run: ${e.message}`));
      });
      child.on("close", (c) => {
        clearTimeout(timer);
        res({ code: c, output: text });
      });
    });
    if (code !== 0 || !existsSync(out)) {
      const why = output
        .split("\n")
        .filter((l) => l.startsWith("plantroot:"))
        .map((l) => l.slice("plantroot:".length).trim())
        .join("; ");
      throw new ConsoleError(
        "dry-run-failed",
        `the dry run failed${code === null ? " (stopped)" : ` (exit ${code})`}: ${why || output.trim().slice(-2000)}`,
      );
    }
    return parseDryRun(JSON.parse(readFileSync(out, "utf8")));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
