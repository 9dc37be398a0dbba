#!/bin/sh
# /usr/bin/plantroot: runs the installed Plantroot with the Node.js runtime of the plantroot-node
# package when present (the one its native modules were built with), else the system's node (>= 20).
set -e
NODE=/usr/lib/plantroot/node/bin/node
if [ ! -x "$NODE" ]; then
  NODE="$(command -v node || true)"
  if [ -z "$NODE" ]; then
    echo "plantroot: no Node.js runtime: install plantroot-node, or nodejs (>= 20)" >&2
    exit 1
  fi
  major="$("$NODE" --version | sed 's/^v\([0-9]*\).*/\1/')"
  if [ "$major" -lt 20 ]; then
    echo "plantroot: $NODE is Node.js $("$NODE" --version); Plantroot needs >= 20 (install plantroot-node)" >&2
    exit 1
  fi
fi
# SoftHSM reads its configuration from SOFTHSM2_CONF: the appliance's token store, not the system one
if [ -z "${SOFTHSM2_CONF:-}" ] && [ -r /etc/plantroot/softhsm2.conf ]; then
  SOFTHSM2_CONF=/etc/plantroot/softhsm2.conf
  export SOFTHSM2_CONF
fi
exec "$NODE" /usr/lib/plantroot/bin/plantroot.mjs "$@"
