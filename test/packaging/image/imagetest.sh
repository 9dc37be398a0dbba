#!/bin/sh
# Runs inside the booted appliance (test build only): reports its state between markers on the serial
# console, brings the HSM up the way first-ceremony.txt says, runs a probe inside plantroot.service's
# exact sandbox, then powers the machine off.
set -u
section() { printf '\n=== %s\n' "$1"; }
printf '\nIMAGETEST-BEGIN\n'
section failed-units;      systemctl --failed --no-legend --plain
for u in $(systemctl --failed --no-legend --plain | cut -d' ' -f1); do
  section "journal $u";    journalctl -b -u "$u" -o cat --no-pager | tail -n 15
done
section root-password;     passwd --status root | cut -d' ' -f2
section firstboot;         systemctl show -p ActiveState --value plantroot-firstboot.service
section network;           networkctl list --no-legend --no-pager | awk '$2 != "lo" {print $2, $4}' 
section listening;         ss -H -tulnw
section nft;               nft list tables
section plantroot-enabled; systemctl is-enabled plantroot.service
section plantroot-before;  systemctl show -p ActiveState,ConditionResult plantroot.service | tr '\n' ' '
section security;          systemd-analyze security --no-pager plantroot.service | tail -n 1
section verify;            systemd-analyze verify --man=no plantroot.service plantroot-firstboot.service 2>&1; echo "rc=$?"

section token;             /usr/lib/plantroot/scripts/init-softhsm-token 2>&1 | head -n 1
section config-check;      plantroot config check 2>&1 | tail -n 1
# the probe: plantroot.service's unit with only ExecStart/Type replaced, so it runs in the same sandbox
sed -e 's|^ExecStart=.*|ExecStart=/usr/bin/plantroot-node-probe|' -e 's|^Type=simple|Type=oneshot|' -e '/^Restart/d' \
  /lib/systemd/system/plantroot.service >/run/systemd/system/plantroot-probe.service
cat >/usr/bin/plantroot-node-probe <<'SH'
#!/bin/sh
exec /usr/lib/plantroot/node/bin/node /usr/local/lib/plantroot-imagetest/probe.mjs
SH
chmod 0755 /usr/bin/plantroot-node-probe
systemctl daemon-reload
systemctl start plantroot-probe.service
section probe;             journalctl -b -u plantroot-probe.service -o cat --no-pager | grep '^PROBE '
section probe-result;      systemctl show -p Result --value plantroot-probe.service
printf '\nIMAGETEST-END\n'
systemctl poweroff
