// Image test: plant IT's edit of /etc/plantroot/config.json after the first ceremony — the CA section,
// names, loopback validation for the test's ACME client. Usage: node configure.mjs CA.json CONFIG
import { readFileSync, writeFileSync } from "node:fs";

const [caFile, path] = process.argv.slice(2);
const cfg = JSON.parse(readFileSync(path, "utf8"));
cfg.ca = JSON.parse(readFileSync(caFile, "utf8"));
cfg.tlsNames = ["plantroot.plant.example", "127.0.0.1"];
cfg.publicUrl = "https://127.0.0.1"; // what the test's client uses (a plant uses the appliance's name)
cfg.listen.metrics = { host: "127.0.0.1", port: 9090 };
cfg.validation = {
  allowedNetworks: ["127.0.0.0/8"],
  ports: { http01: 5002, tlsAlpn01: 5001 },
  resolver: { hosts: { "dev1.plant.example": ["127.0.0.1"] } },
};
writeFileSync(path, JSON.stringify(cfg, null, 2));
