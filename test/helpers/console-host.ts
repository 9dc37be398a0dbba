// Test helper for the console: starts the loopback host (`console/host/cli.ts`) as its own process on a
// given SoftHSM directory, and a headless Chromium (Debian's) with a fresh profile, for Playwright.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface ConsoleHost {
  url: string;
  origin: string;
  token: string;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, "../..");

/** Starts `npm run console:host` (without npm) and waits for the address line. */
export async function startConsoleHost(o: {
  softhsmConf: string;
  args: string[];
  env?: Record<string, string>;
}): Promise<ConsoleHost> {
  const proc = spawn(process.execPath, ["--import", "tsx", join(ROOT, "console/host/cli.ts"), ...o.args], {
    cwd: ROOT,
    env: { ...process.env, SOFTHSM2_CONF: o.softhsmConf, ...o.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const url = await new Promise<string>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`console host did not start:\n${out}`)), 60_000);
    const check = () => {
      const m = /Console: (http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]+)/.exec(out);
      if (m) {
        clearTimeout(t);
        res(m[1]!);
      }
    };
    proc.stdout!.on("data", check);
    proc.on("exit", (code) => {
      clearTimeout(t);
      rej(new Error(`console host exited with ${code}:\n${out}`));
    });
  });
  const u = new URL(url);
  return {
    url,
    origin: u.origin,
    token: u.hash.slice("#token=".length),
    proc,
    output: () => out,
    stop: () =>
      new Promise<void>((res) => {
        if (proc.exitCode !== null) return res();
        proc.once("exit", () => res());
        proc.kill("SIGTERM");
      }),
  };
}

/** Headless Chromium with a fresh user-data-dir. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), "console-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 1000 },
    locale: "en-GB",
    timezoneId: "UTC",
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
