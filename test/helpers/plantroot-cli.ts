// Test helper: runs the plantroot CLI as plant IT would (bin/plantroot.mjs in a separate process,
// the TypeScript sources through tsx) and collects its exit code and output.
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";

const REPO = join(import.meta.dirname, "../..");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `opts.fd3`: a file opened read-only and handed to the command as descriptor 3 (as `3<FILE` in a shell). */
export function plantroot(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  opts: { fd3?: string } = {},
): Promise<CliResult> {
  const fd3 = opts.fd3 === undefined ? undefined : openSync(opts.fd3, "r");
  return new Promise<CliResult>((resolve, reject) => {
    const p = spawn(process.execPath, [join(REPO, "bin/plantroot.mjs"), ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: fd3 === undefined ? ["ignore", "pipe", "pipe"] : ["ignore", "pipe", "pipe", fd3],
    });
    let stdout = "";
    let stderr = "";
    p.stdout?.on("data", (d) => {
      stdout += d;
    });
    p.stderr?.on("data", (d) => {
      stderr += d;
    });
    p.on("error", reject);
    p.on("exit", (code) => resolve({ code, stdout, stderr }));
  }).finally(() => {
    if (fd3 !== undefined) closeSync(fd3);
  });
}
