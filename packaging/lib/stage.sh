#!/usr/bin/env bash
# Builds the runtime tree installed as /usr/lib/plantroot: compiled JavaScript (tsc, no TypeScript
# runtime), bin/plantroot.mjs, and production node_modules with pkcs11js/sqlite3 built from source.
# Usage: stage.sh DEST   (node_modules are cached under $CACHE/node_modules by lockfile hash)
source "$(dirname "$0")/common.sh"
DEST="${1:?usage: stage.sh DEST}"
rm -rf "$DEST"
mkdir -p "$DEST/bin" "$DEST/dist"

log "compiling TypeScript (tsconfig.build.json) into $DEST/dist"
(cd "$REPO" && npx --no-install tsc -p tsconfig.build.json --outDir "$DEST/dist")
cp "$REPO/bin/plantroot.mjs" "$DEST/bin/plantroot.mjs"

# production manifest: the runtime dependencies only (tsx runs the sources in a development checkout
# and is not needed once compiled, so it is moved to devDependencies here)
node - "$REPO/package.json" "$DEST" "$VERSION" <<'JS'
const fs = require("fs");
const [src, dest, version] = process.argv.slice(2);
const p = JSON.parse(fs.readFileSync(src, "utf8"));
const prod = { ...p.dependencies };
const dev = { ...p.devDependencies };
for (const devOnly of ["tsx"]) if (prod[devOnly]) { dev[devOnly] = prod[devOnly]; delete prod[devOnly]; }
const manifest = {
  name: p.name, version, description: p.description, license: p.license, private: true, type: "module",
  engines: p.engines, dependencies: prod, devDependencies: dev, allowScripts: p.allowScripts,
};
fs.writeFileSync(`${dest}/package.json`, JSON.stringify(manifest, null, 2) + "\n");
// dist/package.json: what cli/main.js reads for --version, and "type": "module" for the compiled files
fs.writeFileSync(`${dest}/dist/package.json`, JSON.stringify({ name: p.name, version, private: true, type: "module" }, null, 2) + "\n");
JS

# node_modules, cached: same lockfile + same Node + same recipe gives the same tree
recipe=6   # 6: npm_config_build_from_source=true (common.sh), object files checked
key="$( (cat "$REPO/package-lock.json" "$DEST/package.json"; echo "node=$NODE_VERSION recipe=$recipe") | sed "s/\"version\": \"$VERSION\"//" | sha256sum | cut -c1-16)"
cached="$CACHE/node_modules/$key.tar"
cache_lock "node_modules"
if [ -f "$cached" ]; then
  log "production node_modules from cache ($cached)"
else
  log "installing production node_modules (npm ci --omit=dev, native modules built from source)"
  work="$(mktemp -d "${TMPDIR:-/tmp}/plantroot-npm-XXXXXX")"
  cp "$DEST/package.json" "$REPO/package-lock.json" "$work/"
  (
    cd "$work"
    # align the lockfile with the production manifest (tsx now a devDependency); versions stay locked
    npm install --package-lock-only --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null
    npm ci --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error --foreground-scripts >npm-ci.log 2>&1 ||
      { tail -n 40 npm-ci.log >&2; exit 1; }
    [ ! -e node_modules/tsx ] || { echo "tsx ended up in production node_modules" >&2; exit 1; }
    # keep only the built addons of native modules: no sources, objects or build files
    for m in node_modules/sqlite3 node_modules/pkcs11js; do
      [ -d "$m/build/Release" ] || { echo "$m was not built" >&2; exit 1; }
      # compiled here: node-gyp leaves object files (a downloaded prebuilt binary has none)
      [ -n "$(find "$m/build" -name '*.o' -print -quit)" ] || { echo "$m was not built from source" >&2; exit 1; }
      find "$m/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
      find "$m/build/Release" -mindepth 1 -maxdepth 1 ! -name '*.node' -exec rm -rf {} +
      rm -rf "$m/src" "$m/deps"
    done
    find node_modules -name '*.node' -exec strip --strip-unneeded {} +
    # drop build-only packages (node-gyp, prebuild-install, headers) and npm/editor clutter
    node "$PKG_DIR/lib/prune.mjs" "$work"
    # nothing in node_modules is run directly: node loads it
    find node_modules -type f -exec chmod a-x {} +
  )
  mkdir -p "$(dirname "$cached")"
  tar -C "$work" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -cf "$cached.tmp" node_modules
  mv "$cached.tmp" "$cached"
  rm -rf "$work"
fi
tar -C "$DEST" -xf "$cached"

# smoke test outside the repository (so nothing resolves from the development node_modules)
probe="$(mktemp -d "${TMPDIR:-/tmp}/plantroot-probe-XXXXXX")"
cp -a "$DEST" "$probe/plantroot"
"$NODE_BIN" "$probe/plantroot/bin/plantroot.mjs" --version >/dev/null || die "staged runtime does not start"
(cd "$probe/plantroot" && "$NODE_BIN" --input-type=module -e 'await import("sqlite3"); await import("pkcs11js"); await import("graphene-pk11");') ||
  die "native modules do not load from the staged node_modules"
rm -rf "$probe"
log "runtime tree ready: $(du -sh "$DEST" | cut -f1) in $DEST"
