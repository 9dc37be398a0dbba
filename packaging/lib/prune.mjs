// Removes from a production node_modules what only building the native modules needs (node-gyp,
// prebuild-install, node-addon-api headers, tar) and npm/editor clutter: keeps every package
// reachable from the app's dependencies without passing through a native module's build tooling.
// Usage: node prune.mjs APP_DIR   (APP_DIR holds package.json and node_modules)
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";

const app = process.argv[2];
const BUILD_ONLY = { sqlite3: ["node-addon-api", "prebuild-install", "tar", "node-gyp"], pkcs11js: ["node-addon-api"] };
const nm = join(app, "node_modules");
const keep = new Set();

// Node's resolution: look in <dir>/node_modules, then parents up to the app
function resolvePkg(fromDir, name) {
  for (let d = fromDir; d.startsWith(app); d = dirname(d)) {
    const p = join(d, "node_modules", name);
    if (existsSync(join(p, "package.json"))) return p;
    if (d === app) break;
  }
  return undefined;
}
function visit(dir) {
  if (keep.has(dir)) return;
  keep.add(dir);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const skip = new Set(BUILD_ONLY[pkg.name] ?? []);
  for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
    if (skip.has(name)) continue;
    const p = resolvePkg(dir, name);
    if (p) visit(p);
    else if (!(pkg.optionalDependencies && name in pkg.optionalDependencies))
      throw new Error(`${pkg.name} needs ${name}, which is not installed`);
  }
}
const root = JSON.parse(readFileSync(join(app, "package.json"), "utf8"));
keep.add(app);
for (const name of Object.keys(root.dependencies ?? {})) {
  const p = resolvePkg(app, name);
  if (!p) throw new Error(`dependency ${name} is not installed`);
  visit(p);
}
let removed = 0;
function sweep(dir) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name.startsWith("@")) {
      sweep(p);
      if (readdirSync(p).length === 0) rmSync(p, { recursive: true });
    } else if (name === ".bin" || (!keep.has(p) && existsSync(join(p, "package.json")))) {
      rmSync(p, { recursive: true, force: true });
      removed++;
    } else if (keep.has(p)) sweep(join(p, "node_modules"));
  }
}
sweep(nm);
// TypeScript sources, declarations and source maps: the runtime loads JavaScript only
const TYPESCRIPT = /\.([cm]?ts|map)$/;
// npm and editor clutter inside packages
const CLUTTER =
  /^(\.npmignore|\.eslintrc.*|\.eslintignore|\.prettierrc.*|\.editorconfig|\.travis\.yml|\.github|\.nycrc.*|\.jshintrc|\.gitattributes|\.package-lock\.json)$/;
function clean(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (CLUTTER.test(e.name) || (e.isFile() && TYPESCRIPT.test(e.name))) rmSync(p, { recursive: true, force: true });
    else if (e.isDirectory()) clean(p);
  }
}
clean(nm);
console.error(`prune: kept ${keep.size - 1} packages, removed ${removed} build-only packages`);
