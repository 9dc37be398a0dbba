// `npm run console`: starts the Electron console where Electron's binary is installed; where it is
// not (installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1), says so and how to run the loopback host.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { buildElectron, buildRenderer } from "./build.js";

/** The Electron binary's path, or why there is none. */
export function electronBinary(): { path: string } | { missing: string } {
  try {
    const p = createRequire(import.meta.url)("electron") as unknown;
    if (typeof p !== "string") return { missing: "the electron package did not return a binary path" };
    if (!existsSync(p)) return { missing: `the electron package points to ${p}, which does not exist` };
    return { path: p };
  } catch (e) {
    return { missing: (e as Error).message };
  }
}

export const NO_ELECTRON = `The Electron binary is not installed on this machine (the electron package was installed
with ELECTRON_SKIP_BINARY_DOWNLOAD=1, so require("electron") has no executable to point to).

Run the same console in Chromium instead, through the loopback host:

    npm run console:host -- --data-dir var/console

It prints an address (http://127.0.0.1:PORT/#token=...) to open in Chromium on this machine.
To get the Electron app here: install Electron's binary for this platform (unset
ELECTRON_SKIP_BINARY_DOWNLOAD and reinstall the electron package), rebuild the native modules
(pkcs11js, sqlite3) for Electron's Node ABI, then run npm run console again.`;

/** What `npm run console` prints where Electron cannot start: what to do first, Electron's raw error last. */
export function noElectronMessage(raw: string): string {
  return `plantroot console: the Electron app cannot start on this machine.\n\n${NO_ELECTRON}\n\n(Electron's own error, for reference: ${raw})`;
}

async function main(): Promise<number> {
  const bin = electronBinary();
  if ("missing" in bin) {
    console.error(noElectronMessage(bin.missing));
    return 3;
  }
  await buildRenderer();
  const { main } = await buildElectron();
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE; // set, Electron would run as plain Node without any of its protections
  const child = spawn(bin.path, [main], { stdio: "inherit", env });
  return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
}

if (process.argv[1]?.endsWith("launch.ts")) main().then((c) => process.exit(c));
