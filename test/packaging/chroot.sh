#!/usr/bin/env bash
# Test helper: a throw-away Debian 12 chroot from the cached debootstrap tarball, and a way to run
# commands in it with no network (a fresh network namespace with only loopback), its own /proc
# (new PID namespace) and a private /tmp. Used by the packaging tests; needs root.
#   chroot.sh create DIR FLAVOR         extract the base (test|appliance) into DIR
#   chroot.sh run DIR CMD...            run CMD (host paths) inside a new net+mount+pid namespace,
#                                       where `inroot CMD...` runs CMD chrooted into DIR
#   chroot.sh destroy DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cmd="${1:?}"
dir="${2:?}"
case "$cmd" in
  create)
    tarball="$(bash "$repo/packaging/image/base.sh" "${3:-test}" | tail -n 1)"
    mkdir -p "$dir"
    tar -C "$dir" --numeric-owner --xattrs --xattrs-include='*' -xzf "$tarball"
    ;;
  run)
    shift 2
    # one private namespace set per call: nothing mounted here is visible outside, no network at all
    exec unshare --mount --net --pid --fork --mount-proc="$dir/proc" -- bash -c '
      set -euo pipefail
      dir="$1"; shift
      ip link set lo up
      mount -t tmpfs -o mode=1777 tmpfs "$dir/tmp"
      mount -t tmpfs -o mode=755 tmpfs "$dir/run"
      inroot() { chroot "$dir" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
      export -f inroot; export dir
      "$@"
    ' bash "$dir" "$@"
    ;;
  destroy)
    for m in proc run tmp; do umount -l "$dir/$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$dir"
    ;;
  *) echo "usage: chroot.sh create|run|destroy DIR ..." >&2; exit 2 ;;
esac
