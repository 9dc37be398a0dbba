#!/usr/bin/env bash
# A Debian 12 base root filesystem from debootstrap, cached as a tarball under $CACHE/debootstrap
# (debootstrap takes minutes; CI and later builds reuse the tarball). Prints the tarball's path.
# Usage: base.sh test|appliance
#   test       minbase + softhsm2 + systemd: what the .deb needs (and units to verify against), for chroot tests
#   appliance  minbase + systemd, kernel, softhsm2, nftables: the appliance image (boot loader added by build-image.sh)
source "$(dirname "$0")/../lib/common.sh"
flavor="${1:?usage: base.sh test|appliance}"
case "$flavor" in
  test) include="softhsm2,ca-certificates,systemd" ;;
  appliance) include="softhsm2,ca-certificates,netbase,systemd,systemd-sysv,systemd-timesyncd,udev,dbus,kmod,iproute2,procps,less,nano,openssl,nftables,linux-image-amd64,initramfs-tools,zstd" ;;
  *) die "unknown flavor $flavor" ;;
esac
recipe=1
key="$(printf '%s\n' "$flavor" "$SUITE" "$ARCH" "$MIRROR" "$include" "$recipe" | sha256sum | cut -c1-16)"
tarball="$CACHE/debootstrap/$SUITE-$flavor-$key.tar.gz"
cache_lock "debootstrap-$flavor"
if [ -f "$tarball" ]; then
  echo "$tarball"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (scripts/setup.sh installs it)"
mkdir -p "$CACHE/debootstrap"
work="$(mktemp -d "$CACHE/debootstrap/build-XXXXXX")"
cleanup() {
  for m in proc sys dev/pts dev; do umount -l "$work/root/$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
log "debootstrap $SUITE ($flavor) from $MIRROR — cached afterwards as $tarball"
export DEBIAN_FRONTEND=noninteractive
if ! debootstrap --variant=minbase --arch="$ARCH" --include="$include" "$SUITE" "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  [ -f "$work/root/debootstrap/debootstrap.log" ] && tail -n 30 "$work/root/debootstrap/debootstrap.log" >&2
  die "debootstrap failed"
fi
# the same apt sources the build machine uses, for later updates by plant IT from their own mirror
printf 'deb %s %s main\n' "$MIRROR" "$SUITE" >"$work/root/etc/apt/sources.list"
chroot "$work/root" apt-get clean
rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/log/"*.log "$work/root/var/cache/debconf/"*-old
tar -C "$work/root" --numeric-owner --xattrs --xattrs-include='*' -czf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
log "cached $tarball ($(du -h "$tarball" | cut -f1))"
echo "$tarball"
