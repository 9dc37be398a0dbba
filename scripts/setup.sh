#!/usr/bin/env bash
# Installs what Plantroot needs on a fresh Debian 12 machine, then returns quickly on later runs:
# system packages through apt (as root; otherwise prints the exact command) and node_modules (npm ci
# when missing or stale against package-lock.json). Usage: scripts/setup.sh [runtime|test]
set -euo pipefail
profile="${1:-test}"
cd "$(dirname "$0")/.."
export npm_config_nodedir="${npm_config_nodedir:-/usr}"   # native modules build against Node's headers in /usr
export ELECTRON_SKIP_BINARY_DOWNLOAD="${ELECTRON_SKIP_BINARY_DOWNLOAD:-1}"

# what `npm start` needs: the PKCS#11 token software and tools
runtime_pkgs=(softhsm2 opensc openssl ca-certificates python3 make g++)
# what `npm test` needs on top: real ACME clients, Pebble, a DNS server for dns-01, Chromium for the
# console, sqlite3/packaging tools for the appliance tests (.deb, chroot, nftables, UEFI disk image and
# its boot test under qemu)
test_pkgs=(chromium fonts-dejavu-core certbot lego pebble bind9 bind9-utils sqlite3 iproute2 procps
  dpkg-dev lintian debootstrap nftables systemd man-db fdisk dosfstools mtools grub-efi-amd64-bin qemu-system-x86 ovmf)

pkgs=("${runtime_pkgs[@]}")
if [ "$profile" = "test" ]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "setup: installing system packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/plantroot-apt.log 2>&1; then
      apt-get update -q >>/tmp/plantroot-apt.log 2>&1
      apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/plantroot-apt.log 2>&1 || {
        tail -n 30 /tmp/plantroot-apt.log >&2
        echo "setup: apt-get install failed (log: /tmp/plantroot-apt.log)" >&2
        exit 1
      }
    fi
  else
    echo "setup: missing system packages. Run as root:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

# node_modules: npm ci when missing or when package-lock.json changed since the last install
stamp=node_modules/.plantroot-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  if [ -L node_modules ]; then
    # a development worktree sharing another checkout's install: never let npm ci wipe it through the link
    echo "setup: node_modules is a symlink and package-lock.json differs from its install; run npm ci in the checkout it points to" >&2
    exit 1
  fi
  echo "setup: installing node modules (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$want" >"$stamp"
fi
