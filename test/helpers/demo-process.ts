// Test helper: `plantroot demo` and other `plantroot` commands as separate processes, the way a person
// at a terminal runs them (the demo prints its directory line on stdout when ready, progress on stderr).
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { plantroot as runCli } from "./plantroot-cli.js";

export const ROOT = resolve(import.meta.dirname, "../..");

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
export async function plantroot(args: string[], opts: { fd3?: string } = {}): Promise<{ code: number; out: string }> {
  const r = await runCli(args, {}, opts);
  return { code: r.code ?? -1, out: r.stdout + r.stderr };
}
