# Shared settings for the packaging scripts (sourced, not run): paths, versions, the build cache.
# Every output goes under packaging/out/; slow, reusable inputs under $PLANTROOT_CACHE.
set -euo pipefail

PKG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"   # packaging/
REPO="$(cd "$PKG_DIR/.." && pwd)"
OUT="${PLANTROOT_OUT:-$PKG_DIR/out}"
# debootstrap tarballs and built node_modules, reused between builds and CI runs
CACHE="${PLANTROOT_CACHE:-/var/cache/plantroot-ci}"
SUITE=bookworm
ARCH=amd64
# the Debian mirror this machine's apt uses (the first deb.debian.org-style URI of the main suite)
MIRROR="${PLANTROOT_MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

# package version: package.json's, unless overridden (release builds, upgrade tests)
VERSION="${PLANTROOT_VERSION:-$(node -p 'require(process.argv[1]).version' "$REPO/package.json")}"
# the Node.js runtime the appliance ships (this machine's, which the native modules are built against)
NODE_BIN="${PLANTROOT_NODE_BIN:-$(command -v node)}"
NODE_VERSION="$("$NODE_BIN" -p 'process.versions.node')"

export npm_config_nodedir="${npm_config_nodedir:-/usr}"   # node-gyp uses /usr/include/node, no download
# native modules (sqlite3, pkcs11js) are compiled here, never fetched as prebuilt binaries: with
# network access, prebuild-install would otherwise download sqlite3's binary from GitHub
export npm_config_build_from_source=true
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)}"

log() { printf '[package] %s\n' "$*" >&2; }
die() { printf '[package] error: %s\n' "$*" >&2; exit 1; }

# Serialises builders of one cache entry (parallel test files, CI jobs): the second waits, then
# finds the entry made. Held until the calling script exits.
cache_lock() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock-$1"
  flock 9
}
