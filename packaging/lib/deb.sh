#!/usr/bin/env bash
# Builds the two Debian packages from a staged runtime tree (stage.sh), with dpkg-deb:
#   plantroot_<version>_amd64.deb            the appliance (runtime, units, config, maintainer scripts)
#   plantroot-node_<node>-1_amd64.deb        the Node.js runtime, private in /usr/lib/plantroot/node
# Usage: deb.sh STAGE_DIR OUT_DIR
source "$(dirname "$0")/common.sh"
STAGE="${1:?usage: deb.sh STAGE_DIR OUT_DIR}"
DEST="${2:?usage: deb.sh STAGE_DIR OUT_DIR}"
mkdir -p "$DEST"
work="$(mktemp -d "${TMPDIR:-/tmp}/plantroot-deb-XXXXXX")"
trap 'rm -rf "$work"' EXIT
deb_date="$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"

shlibs() { # dpkg-shlibdeps needs a debian/control to run from
  mkdir -p "$work/shl/debian"
  printf 'Source: plantroot\n\nPackage: plantroot\nArchitecture: any\n' >"$work/shl/debian/control"
  (cd "$work/shl" && dpkg-shlibdeps -O "${@/#/-e}" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}

# normalise: root-owned (dpkg-deb --root-owner-group), 0755 dirs/executables, 0644 files, fixed mtimes
finish_tree() {
  local root="$1"
  find "$root" -type d -exec chmod 0755 {} +
  find "$root" -type f -exec chmod go-w,u+rw,a+r {} +
  find "$root" -type f -perm /111 -exec chmod 0755 {} +
  find "$root" -type f ! -perm /111 -exec chmod 0644 {} +
  (cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0r md5sum >DEBIAN/md5sums)
  chmod 0644 "$root/DEBIAN/md5sums"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

subst() { # file -> stdout with @VARS@ replaced
  sed -e "s|@VERSION@|$2|g" -e "s|@NODE_VERSION@|$NODE_VERSION|g" -e "s|@DATE@|$deb_date|g" \
    -e "s|@SIZE@|${3:-}|g" -e "s|@SHLIBS@|${4:-}|g" "$1"
}

# ---------- plantroot ----------
r="$work/plantroot"
mkdir -p "$r/DEBIAN" "$r/usr/lib" "$r/usr/bin" "$r/lib/systemd/system" "$r/etc/plantroot" "$r/var/lib/plantroot" \
  "$r/usr/share/plantroot" "$r/usr/share/doc/plantroot" "$r/usr/share/man/man1" "$r/usr/share/lintian/overrides"
cp -a "$STAGE" "$r/usr/lib/plantroot"
# nothing under /usr/lib/plantroot is executed directly except the token helper: node loads the rest
find "$r/usr/lib/plantroot" -type f -exec chmod a-x {} +
mkdir -p "$r/usr/lib/plantroot/scripts"
install -m 0755 "$PKG_DIR/scripts/init-softhsm-token" "$r/usr/lib/plantroot/scripts/init-softhsm-token"
install -m 0644 "$PKG_DIR/scripts/init-token.mjs" "$r/usr/lib/plantroot/scripts/init-token.mjs"
install -m 0755 "$PKG_DIR/share/plantroot.sh" "$r/usr/bin/plantroot"
install -m 0644 "$PKG_DIR/systemd/plantroot.service" "$r/lib/systemd/system/plantroot.service"
install -m 0644 "$PKG_DIR/etc/config.json" "$r/etc/plantroot/config.json"
install -m 0644 "$PKG_DIR/etc/softhsm2.conf" "$r/etc/plantroot/softhsm2.conf"
install -m 0644 "$PKG_DIR/nftables/plantroot.nft" "$r/etc/plantroot/nftables.conf"
install -m 0644 "$PKG_DIR/share/first-ceremony.txt" "$r/usr/share/plantroot/first-ceremony.txt"
install -m 0644 "$PKG_DIR/README.md" "$r/usr/share/doc/plantroot/README.md"
install -m 0644 "$PKG_DIR/debian/plantroot/lintian-overrides" "$r/usr/share/lintian/overrides/plantroot"
gzip -9n <"$PKG_DIR/debian/plantroot/plantroot.1" >"$r/usr/share/man/man1/plantroot.1.gz"
subst "$PKG_DIR/debian/plantroot/changelog.in" "$VERSION" | gzip -9n >"$r/usr/share/doc/plantroot/changelog.gz"
node "$PKG_DIR/lib/copyright.mjs" "$STAGE" >"$r/usr/share/doc/plantroot/copyright" 2>/dev/null
for s in preinst postinst prerm postrm; do install -m 0755 "$PKG_DIR/debian/plantroot/$s" "$r/DEBIAN/$s"; done
install -m 0644 "$PKG_DIR/debian/plantroot/conffiles" "$r/DEBIAN/conffiles"
mapfile -t natives < <(find "$r/usr/lib/plantroot" -name '*.node')
size="$(du -sk --exclude=DEBIAN "$r" | cut -f1)"
subst "$PKG_DIR/debian/plantroot/control.in" "$VERSION" "$size" "$(shlibs "${natives[@]}")" >"$r/DEBIAN/control"
finish_tree "$r"
for s in preinst postinst prerm postrm; do chmod 0755 "$r/DEBIAN/$s"; done
chmod 0644 "$r/DEBIAN/control" "$r/DEBIAN/conffiles"
deb="$DEST/plantroot_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz -z6 --build "$r" "$deb" >/dev/null
log "built $deb ($(du -h "$deb" | cut -f1))"

# ---------- plantroot-node ----------
# (cached by the node binary and this recipe: compressing 90 MB of Node.js takes most of a minute)
NODE_DEB_VERSION="${NODE_VERSION}-1"
ndeb="$DEST/plantroot-node_${NODE_DEB_VERSION}_${ARCH}.deb"
node_key="$( (sha256sum "$NODE_BIN"; cat "$PKG_DIR"/debian/plantroot-node/*; sed -n '/^# ---------- plantroot-node/,$p' "$0") | sha256sum | cut -c1-16)"
node_cached="$CACHE/debs/plantroot-node_${NODE_DEB_VERSION}_${ARCH}-$node_key.deb"
cache_lock "plantroot-node-deb"
if [ -f "$node_cached" ]; then
  cp "$node_cached" "$ndeb"
  log "built $ndeb (from cache)"
  exit 0
fi
n="$work/plantroot-node"
mkdir -p "$n/DEBIAN" "$n/usr/lib/plantroot/node/bin" "$n/usr/share/doc/plantroot-node"
cp "$NODE_BIN" "$n/usr/lib/plantroot/node/bin/node"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$n/usr/lib/plantroot/node/bin/node"
license="$(dirname "$(readlink -f "$NODE_BIN")")/../share/doc/nodejs/LICENSE"
[ -f "$license" ] || license=/usr/share/doc/nodejs/LICENSE
[ -f "$license" ] || die "Node.js LICENSE not found (looked in $license)"
install -m 0644 "$license" "$n/usr/share/doc/plantroot-node/LICENSE"
cat >"$n/usr/share/doc/plantroot-node/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Node.js
Upstream-Contact: https://nodejs.org/
Source: the Node.js $NODE_VERSION binary of the build machine ($NODE_BIN)

Files: *
Copyright: Copyright Node.js contributors. All rights reserved.
 Copyright Joyent, Inc. and other Node contributors.
License: MIT and others
 Node.js is licensed under the MIT license. The binary also contains
 components under their own licenses (V8, libuv, OpenSSL, ICU, zlib, llhttp,
 nghttp2, c-ares and others). Node.js's LICENSE file, which lists every one
 of them with its full license text, is installed as
 /usr/share/doc/plantroot-node/LICENSE.
COPYRIGHT
subst "$PKG_DIR/debian/plantroot-node/changelog.in" "$NODE_DEB_VERSION" | gzip -9n >"$n/usr/share/doc/plantroot-node/changelog.Debian.gz"
size="$(du -sk --exclude=DEBIAN "$n" | cut -f1)"
subst "$PKG_DIR/debian/plantroot-node/control.in" "$NODE_DEB_VERSION" "$size" "$(shlibs "$n/usr/lib/plantroot/node/bin/node")" >"$n/DEBIAN/control"
mkdir -p "$n/usr/share/lintian/overrides"
install -m 0644 "$PKG_DIR/debian/plantroot-node/lintian-overrides" "$n/usr/share/lintian/overrides/plantroot-node"
finish_tree "$n"
chmod 0644 "$n/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz -z6 --build "$n" "$ndeb" >/dev/null
mkdir -p "$CACHE/debs"
cp "$ndeb" "$node_cached.tmp" && mv "$node_cached.tmp" "$node_cached"
log "built $ndeb ($(du -h "$ndeb" | cut -f1))"
