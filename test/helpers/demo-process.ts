// Test helper: `plantroot demo` and other `plantroot` commands as separate processes, the way a person
// at a terminal runs them (the demo prints its directory line on stdout when ready, progress on stderr).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";

export const ROOT = resolve(import.meta.dirname, "../..");
const run = promisify(execFile);

export interface DemoProcess {
  /** the first stdout line (the ACME directory line) */
  line: string;
  stderr(): string;
  child: ChildProcess;
  /** SIGTERM and the exit code */
  stop(): Promise<number | null>;
}

/** Starts the demo on `ports` [acme, http, validation-http, validation-tls] and waits for its ready line. */
export async function startDemo(dataDir: string, ports: number[], timeoutMs = 150_000): Promise<DemoProcess> {
  const child = spawnDemo(dataDir, ports);
  let stderr = "";
  child.stderr!.on("data", (c) => (stderr += c));
  const line = await new Promise<string>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`demo did not get ready: ${stderr}`)), timeoutMs);
    createInterface({ input: child.stdout! }).once("line", (l) => {
      clearTimeout(t);
      res(l);
    });
    child.once("exit", (code) => rej(new Error(`demo exited ${code}: ${stderr}`)));
  });
  return {
    line,
    stderr: () => stderr,
    child,
    stop: () =>
      new Promise<number | null>((res) => {
        child.once("exit", (code) => res(code));
        child.kill("SIGTERM");
      }),
  };
}

export function spawnDemo(dataDir: string, ports: number[]): ChildProcess {
  return spawn(
    process.execPath,
    [
      join(ROOT, "bin/plantroot.mjs"),
      "demo",
      "--data-dir",
      dataDir,
      "--port",
      String(ports[0]),
      "--http-port",
      String(ports[1]),
      "--validation-http-port",
      String(ports[2]),
      "--validation-tls-port",
      String(ports[3]),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
}

/**
 * Runs `plantroot ARGS` to completion: exit code and stdout + stderr. `fd3` is opened read-only and
 * handed to the command as file descriptor 3 (as `3<FILE` in a shell).
 */
export function plantroot(args: string[], opts: { fd3?: string } = {}): Promise<{ code: number; out: string }> {
  if (opts.fd3 !== undefined) {
    const fd = openSync(opts.fd3, "r");
    return new Promise<{ code: number; out: string }>((resolveRun, reject) => {
      const p = spawn(process.execPath, [join(ROOT, "bin/plantroot.mjs"), ...args], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe", fd],
      });
      let out = "";
      p.stdout?.on("data", (d) => {
        out += d;
      });
      p.stderr?.on("data", (d) => {
        out += d;
      });
      p.on("error", reject);
      p.on("exit", (code) => resolveRun({ code: code ?? -1, out }));
    }).finally(() => closeSync(fd));
  }
  return run(process.execPath, [join(ROOT, "bin/plantroot.mjs"), ...args], { cwd: ROOT }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
}
