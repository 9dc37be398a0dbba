// The console's runtime layering, checked by parsing every import (TypeScript's own pre-processor):
// common imports nothing else; the renderer only common (no Node, no packages); the preload only
// electron + common; only electron-main.ts touches Electron; nothing outside console/ imports it.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const CONSOLE = join(ROOT, "console");

function files(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (n === "dist" || n === "node_modules") continue;
    if (statSync(p).isDirectory()) files(p, out);
    else if (/\.(ts|mts|cts|js|mjs)$/.test(n)) out.push(p);
  }
  return out;
}

interface Import {
  from: string;
  spec: string;
  /** repository-relative path of the target for relative imports */
  target?: string;
}

function importsOf(file: string): Import[] {
  const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  return info.importedFiles.map((f) => {
    const spec = f.fileName;
    const rel = relative(ROOT, file);
    if (!spec.startsWith(".")) return { from: rel, spec };
    return { from: rel, spec, target: relative(ROOT, resolve(dirname(file), spec)) };
  });
}

const inDir = (p: string | undefined, d: string) => p !== undefined && (p === d || p.startsWith(`${d}/`));
const all = files(CONSOLE).flatMap(importsOf);
const layer = (d: string) => all.filter((i) => inDir(i.from, `console/${d}`));

describe("console layering", () => {
  it("finds the console's sources", () => {
    for (const d of ["common", "main", "preload", "renderer", "host"]) expect(layer(d).length, d).toBeGreaterThan(0);
  });

  it("common imports nothing but itself (and zod for the schemas)", () => {
    const bad = layer("common").filter((i) => (i.target ? !inDir(i.target, "console/common") : i.spec !== "zod"));
    expect(bad).toEqual([]);
  });

  it("the renderer imports only console/common and itself: no Node built-ins, no packages", () => {
    const bad = layer("renderer").filter(
      (i) => !i.target || !(inDir(i.target, "console/common") || inDir(i.target, "console/renderer")),
    );
    expect(bad).toEqual([]);
  });

  it("the preload imports only electron and console/common", () => {
    const bad = layer("preload").filter((i) => (i.target ? !inDir(i.target, "console/common") : i.spec !== "electron"));
    expect(bad).toEqual([]);
  });

  it("only console/main/electron-main.ts (and the preload) import Electron", () => {
    const users = all.filter((i) => i.spec === "electron").map((i) => i.from);
    expect([...new Set(users)].sort()).toEqual(["console/main/electron-main.ts", "console/preload/preload.ts"]);
  });

  it("main, host and tools never import renderer or preload code", () => {
    const bad = [...layer("main"), ...layer("host"), ...layer("tools")].filter(
      (i) => inDir(i.target, "console/renderer") || inDir(i.target, "console/preload"),
    );
    expect(bad).toEqual([]);
  });

  it("the console reaches the ceremony engine only through ceremonies/index.js", () => {
    // roleConflict is not exported by the index yet (asked for in NEWS-console-to-ceremonies.md)
    const pending = new Set(["ceremonies/roles.js"]);
    const bad = all.filter(
      (i) => inDir(i.target, "ceremonies") && i.target !== "ceremonies/index.js" && !pending.has(i.target!),
    );
    expect(bad).toEqual([]);
  });

  it("the renderer type-checks as browser code, without Node's types", () => {
    const cfg = ts.getParsedCommandLineOfConfigFile(
      join(CONSOLE, "renderer/tsconfig.json"),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(String(d.messageText));
        },
      },
    )!;
    expect(cfg.options.types).toEqual([]);
    const program = ts.createProgram(cfg.fileNames, cfg.options);
    const problems = ts
      .getPreEmitDiagnostics(program)
      .map(
        (d) =>
          `${d.file ? relative(ROOT, d.file.fileName) : "?"}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`,
      );
    expect(problems).toEqual([]);
    expect(cfg.fileNames.some((f) => f.endsWith("renderer/src/main.ts"))).toBe(true);
  });

  it("main does not depend on the loopback host", () => {
    expect(layer("main").filter((i) => inDir(i.target, "console/host"))).toEqual([]);
  });

  it("nothing outside console/ (and its tests) imports the console", () => {
    const outside = ["appliance", "ceremonies", "hsm", "cli", "packaging"].flatMap((d) => {
      try {
        return files(join(ROOT, d)).flatMap(importsOf);
      } catch {
        return [];
      }
    });
    expect(outside.filter((i) => inDir(i.target, "console"))).toEqual([]);
  });
});
