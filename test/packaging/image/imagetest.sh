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

# the real plantroot.service under systemd, issuing to lego
t=/usr/local/lib/plantroot-imagetest
SOFTHSM2_CONF=/etc/plantroot/softhsm2.conf /usr/lib/plantroot/node/bin/node $t/demo-ca.mjs \
  http://127.0.0.1 plant.example >/run/ca.json
chown -R plantroot:plantroot /var/lib/plantroot
/usr/lib/plantroot/node/bin/node $t/configure.mjs /run/ca.json /etc/plantroot/config.json
eab="$(runuser -u plantroot -- env SOFTHSM2_CONF=/etc/plantroot/softhsm2.conf plantroot eab create --label image-test --config /etc/plantroot/config.json)"
systemctl start plantroot.service
for i in $(seq 1 120); do
  NODE_EXTRA_CA_CERTS=/var/lib/plantroot/pki/root.pem /usr/lib/plantroot/node/bin/node -e \
    'fetch("https://127.0.0.1/acme/directory").then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' && break
  sleep 1
done
section serve-state;     systemctl show -p ActiveState,SubState --value plantroot.service | tr '\n' ' '
section serve-listening; ss -H -tln | awk '{print $4}' | sort
pid="$(systemctl show -p MainPID --value plantroot.service)"
section serve-process;   grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$pid/status" | tr -s '\t ' ' '
LEGO_CA_CERTIFICATES=/var/lib/plantroot/pki/root.pem /usr/local/bin/lego --server https://127.0.0.1/acme/directory \
  --accept-tos --email it@plant.example --path /run/lego \
  --eab --kid "$(printf '%s\n' "$eab" | sed -n 's/^kid: //p')" --hmac "$(printf '%s\n' "$eab" | sed -n 's/^hmac key: //p')" \
  --domains dev1.plant.example --http --http.port 127.0.0.1:5002 run >/run/lego.log 2>&1
lego_rc=$?
section serve-lego;      echo "rc=$lego_rc"; tail -n 4 /run/lego.log
awk '/BEGIN CERTIFICATE/{n++} {print > ("/run/cert" n ".pem")}' /run/lego/certificates/dev1.plant.example.crt 2>/dev/null
section serve-verify;    openssl verify -CAfile /var/lib/plantroot/pki/root.pem -untrusted /run/cert2.pem /run/cert1.pem 2>&1
section serve-status;    plantroot status --json | /usr/lib/plantroot/node/bin/node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.ca.initialised, j.ca.issued.total, j.hsm.reachable)})'
systemctl stop plantroot.service
section serve-stopped;   echo "$(systemctl show -p ActiveState --value plantroot.service) $(systemctl show -p Result --value plantroot.service)"
section serve-journal;   journalctl -b -u plantroot.service -o cat --no-pager | grep -v '"level":"info"' | tail -n 8
printf '\nIMAGETEST-END\n'
systemctl poweroff
