#!/bin/sh
# Offline installer of the Plantroot bundle (for machines that do not take the .deb): installs the
# runtime to /usr/lib/plantroot, /usr/bin/plantroot, the systemd unit, default configuration (never
# overwriting an existing one), the plantroot user and directories; on upgrade stops the service,
# migrates the database (all or nothing) and starts it again. Needs no network.
# Usage: ./install.sh [--root DIR] [--no-enable]     (--root installs into a mounted image/chroot)
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
root=""
enable=1
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --no-enable) enable=0; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
in_root() { if [ -n "$root" ]; then chroot "$root" "$@"; else "$@"; fi; }
say() { echo "install.sh: $*"; }

# --- preflight ---
if in_root dpkg-query -W -f='${Status}' plantroot 2>/dev/null | grep -q "install ok installed"; then
  echo "install.sh: the plantroot Debian package is installed here; upgrade it with the .deb instead" >&2
  exit 1
fi
if [ -r "$root/etc/os-release" ] && ! grep -q '^VERSION_ID="12"' "$root/etc/os-release"; then
  say "warning: this bundle is built and tested for Debian 12"
fi
node=""
if [ -x "$root/usr/lib/plantroot/node/bin/node" ]; then node=/usr/lib/plantroot/node/bin/node
elif in_root sh -c 'command -v node' >/dev/null 2>&1; then node="$(in_root sh -c 'command -v node')"
fi
[ -n "$node" ] || { echo "install.sh: no Node.js: install nodejs (>= 20) or the plantroot-node package first" >&2; exit 1; }
major="$(in_root "$node" -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 20 ] || { echo "install.sh: $node is Node.js $major; Plantroot needs >= 20" >&2; exit 1; }
[ -e "$root/usr/lib/softhsm/libsofthsm2.so" ] ||
  say "warning: SoftHSM2 is not installed: configure a hardware HSM's PKCS#11 module in /etc/plantroot/config.json"

systemd_running=0
if [ -z "$root" ] && [ -d /run/systemd/system ]; then systemd_running=1; fi
was_active=0
if [ "$systemd_running" = 1 ] && systemctl --quiet is-active plantroot.service; then
  was_active=1
  say "stopping plantroot.service for the upgrade"
  systemctl stop plantroot.service
fi

# --- user and directories ---
in_root sh -c 'getent group plantroot >/dev/null || groupadd --system plantroot'
in_root sh -c 'getent passwd plantroot >/dev/null || useradd --system --gid plantroot --home-dir /var/lib/plantroot --no-create-home --shell /usr/sbin/nologin --comment "Plantroot certificate authority" plantroot'
in_root install -d -o root -g plantroot -m 0750 /etc/plantroot
in_root install -d -o root -g root -m 0700 /etc/plantroot/credentials
in_root install -d -o plantroot -g plantroot -m 0750 /var/lib/plantroot
in_root install -d -o plantroot -g plantroot -m 0700 /var/lib/plantroot/softhsm /var/lib/plantroot/softhsm/tokens

# --- runtime: replaced as a whole, keeping a plantroot-node runtime if one is installed ---
new="$root/usr/lib/plantroot.new.$$"
rm -rf "$new"
cp -a "$here/lib/plantroot" "$new"
if [ -d "$root/usr/lib/plantroot/node" ]; then mv "$root/usr/lib/plantroot/node" "$new/node"; fi
chown -R root:root "$new"
if [ -d "$root/usr/lib/plantroot" ]; then mv "$root/usr/lib/plantroot" "$root/usr/lib/plantroot.old.$$"; fi
mv "$new" "$root/usr/lib/plantroot"
rm -rf "$root/usr/lib/plantroot.old.$$"
install -D -m 0755 "$here/bin/plantroot" "$root/usr/bin/plantroot"
install -D -m 0644 "$here/share/first-ceremony.txt" "$root/usr/share/plantroot/first-ceremony.txt"
# an admin-installed unit belongs in /etc/systemd/system (/lib/systemd/system is the package manager's)
install -D -m 0644 "$here/systemd/plantroot.service" "$root/etc/systemd/system/plantroot.service"

# --- configuration: existing files are kept; new defaults land beside them as *.dist ---
for f in config.json softhsm2.conf nftables.conf; do
  if [ -e "$root/etc/plantroot/$f" ]; then
    if ! cmp -s "$here/etc/$f" "$root/etc/plantroot/$f"; then
      install -m 0640 -o root -g "$(in_root getent group plantroot | cut -d: -f3)" "$here/etc/$f" "$root/etc/plantroot/$f.dist"
      say "kept /etc/plantroot/$f; the new default is /etc/plantroot/$f.dist"
    fi
  else
    install -m 0640 -o root -g "$(in_root getent group plantroot | cut -d: -f3)" "$here/etc/$f" "$root/etc/plantroot/$f"
  fi
done

# --- database schema (upgrade) ---
if ! in_root setpriv --reuid=plantroot --regid=plantroot --init-groups -- \
    /usr/bin/plantroot migrate --config /etc/plantroot/config.json --if-exists; then
  echo "install.sh: database migration failed; the database is unchanged. The new runtime is installed;" >&2
  echo "install.sh: reinstall the previous bundle to run the old version against the unchanged database." >&2
  exit 1
fi

# --- systemd ---
if [ "$enable" = 1 ]; then
  if [ "$systemd_running" = 1 ]; then
    systemctl daemon-reload
    systemctl enable plantroot.service
  else
    in_root install -d /etc/systemd/system/multi-user.target.wants
    ln -sf /etc/systemd/system/plantroot.service "$root/etc/systemd/system/multi-user.target.wants/plantroot.service"
  fi
fi
if [ "$was_active" = 1 ]; then
  systemctl start plantroot.service
  say "plantroot.service started again"
fi
say "installed Plantroot $(cat "$here/VERSION") into ${root:-/}"
[ "$was_active" = 1 ] || say "next steps: /usr/share/plantroot/first-ceremony.txt"
