// Build of the console's browser and Electron pieces with esbuild (shipped with tsx): the renderer
// bundle (console/renderer/dist/app.js, gitignored), and for Electron the main and preload bundles.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const CONSOLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const RENDERER_DIR = join(CONSOLE_DIR, "renderer");
export const ELECTRON_OUT = join(CONSOLE_DIR, "dist");

/** Bundles the renderer for the browser: ES2022, no Node built-ins reachable (platform browser). */
export async function buildRenderer(): Promise<string> {
  const outfile = join(RENDERER_DIR, "dist", "app.js");
  await build({
    entryPoints: [join(RENDERER_DIR, "src", "main.ts")],
    outfile,
    bundle: true,
    format: "iife",
    platform: "browser",
    target: ["chrome120"],
    sourcemap: false,
    minify: false,
    legalComments: "none",
    logLevel: "warning",
    // the renderer may import console/common only; anything else fails the build
    plugins: [
      {
        name: "renderer-imports",
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === "entry-point") return undefined;
            const from = args.resolveDir;
            if (!args.path.startsWith("."))
              return { errors: [{ text: `renderer may not import package "${args.path}"` }] };
            const target = resolve(from, args.path);
            if (!target.startsWith(RENDERER_DIR) && !target.startsWith(join(CONSOLE_DIR, "common")))
              return { errors: [{ text: `renderer may import only console/common, not ${args.path}` }] };
            return undefined;
          });
        },
      },
    ],
  });
  return outfile;
}

/** Bundles the Electron main process (ESM, packages external) and the sandboxed preload (one CJS file). */
export async function buildElectron(): Promise<{ main: string; preload: string }> {
  const main = join(ELECTRON_OUT, "electron-main.mjs");
  const preload = join(ELECTRON_OUT, "preload.cjs");
  await build({
    entryPoints: [join(CONSOLE_DIR, "main", "electron-main.ts")],
    outfile: main,
    bundle: true,
    format: "esm",
    platform: "node",
    target: ["node20"],
    packages: "external",
    logLevel: "warning",
  });
  await build({
    entryPoints: [join(CONSOLE_DIR, "preload", "preload.ts")],
    outfile: preload,
    bundle: true,
    format: "cjs",
    platform: "node",
    target: ["chrome120"],
    external: ["electron"],
    logLevel: "warning",
  });
  return { main, preload };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await buildRenderer();
  const e = await buildElectron();
  console.log(`built ${r}\nbuilt ${e.main}\nbuilt ${e.preload}`);
}
