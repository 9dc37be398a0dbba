#!/usr/bin/env bash
# Builds the offline install bundle plantroot-<version>-linux-amd64.tar.gz: the runtime tree
# (compiled JS + production node_modules), launcher, systemd unit, default configuration, install.sh.
# Usage: bundle.sh STAGE_DIR OUT_DIR
source "$(dirname "$0")/common.sh"
STAGE="${1:?usage: bundle.sh STAGE_DIR OUT_DIR}"
DEST="${2:?usage: bundle.sh STAGE_DIR OUT_DIR}"
name="plantroot-${VERSION}-linux-${ARCH}"
work="$(mktemp -d "${TMPDIR:-/tmp}/plantroot-bundle-XXXXXX")"
trap 'rm -rf "$work"' EXIT
b="$work/$name"
mkdir -p "$b/lib" "$b/bin" "$b/etc" "$b/systemd" "$b/share"
cp -a "$STAGE" "$b/lib/plantroot"
find "$b/lib/plantroot" -type f -exec chmod a-x {} +
mkdir -p "$b/lib/plantroot/scripts"
install -m 0755 "$PKG_DIR/scripts/init-softhsm-token" "$b/lib/plantroot/scripts/"
install -m 0644 "$PKG_DIR/scripts/init-token.mjs" "$b/lib/plantroot/scripts/"
install -m 0755 "$PKG_DIR/share/plantroot.sh" "$b/bin/plantroot"
install -m 0644 "$PKG_DIR/systemd/plantroot.service" "$b/systemd/"
install -m 0644 "$PKG_DIR/etc/config.json" "$PKG_DIR/etc/softhsm2.conf" "$b/etc/"
install -m 0644 "$PKG_DIR/nftables/plantroot.nft" "$b/etc/nftables.conf"
install -m 0644 "$PKG_DIR/share/first-ceremony.txt" "$b/share/"
install -m 0644 "$PKG_DIR/README.md" "$b/README.md"
install -m 0755 "$PKG_DIR/bundle/install.sh" "$b/install.sh"
echo "$VERSION" >"$b/VERSION"
(cd "$b" && find . -type f ! -name SHA256SUMS -printf '%P\0' | sort -z | xargs -0 sha256sum >SHA256SUMS)
mkdir -p "$DEST"
tar -C "$work" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -czf "$DEST/$name.tar.gz" "$name"
log "built $DEST/$name.tar.gz ($(du -h "$DEST/$name.tar.gz" | cut -f1))"
