#!/usr/bin/env bash
# `npm run package`: builds every appliance artefact into packaging/out/ from a clean checkout:
#   plantroot_<version>_amd64.deb, plantroot-node_<node>-1_amd64.deb   (dpkg-deb)
#   plantroot-<version>-linux-amd64.tar.gz                            (offline install bundle)
#   plantroot-appliance-<version>.rootfs.tar.gz and .img              (debootstrap Debian 12 image)
# Usage: packaging/build.sh [--no-image]      (needs root for the image: debootstrap, chroot, loop)
source "$(dirname "$0")/lib/common.sh"
image=1
for a in "$@"; do
  case "$a" in
    --no-image) image=0 ;;
    *) die "unknown option $a (use --no-image)" ;;
  esac
done
mkdir -p "$OUT"
stage="$OUT/stage/plantroot"
bash "$PKG_DIR/lib/stage.sh" "$stage"
bash "$PKG_DIR/lib/deb.sh" "$stage" "$OUT"
bash "$PKG_DIR/lib/bundle.sh" "$stage" "$OUT"
if [ "$image" = 1 ]; then
  bash "$PKG_DIR/image/build-image.sh" "$OUT"
fi
log "artefacts in $OUT:"
find "$OUT" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.tar.gz' -o -name '*.img' -o -name '*.qcow2' \) -printf '  %s\t%f\n' | sort -k2 >&2
