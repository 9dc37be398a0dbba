// Runs as plantroot.service would (same user, sandbox, credential): what the appliance needs must
// work (HSM login with the credential PIN, signing, sqlite writes in the data dir, binding :443), and
// what the hardening forbids must fail (writing /etc, reading the PIN file directly, raw sockets).
import "/usr/lib/plantroot/node_modules/reflect-metadata/Reflect.js";
import { createVerify } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { networkInterfaces } from "node:os";

const d = "/usr/lib/plantroot/dist";
const { HsmToken, parsePinSource } = await import(`${d}/hsm/index.js`);
const { Db } = await import(`${d}/appliance/store/db.js`);
const out = {};
const check = async (name, fn) => {
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = `ERROR ${e.code ?? ""} ${e.message}`;
  }
};
await check("user", () => `${process.getuid()}:${process.getgid()} ${process.env.USER ?? ""}`.trim());
await check("hsmSign", () => {
  const token = HsmToken.open({ label: "plantroot", pin: parsePinSource("credential:hsm-pin") });
  const key = token.generateKeyPair({ label: "probe-key", spec: "P-256" });
  const sig = key.signSync(Buffer.from("probe"), "ecdsa-sha256");
  const ok = createVerify("sha256").update("probe").verify(key.publicKey, sig);
  token.close();
  return ok ? "ok" : "bad signature";
});
await check("sqliteWrite", async () => {
  const db = await Db.open("/var/lib/plantroot/probe.db", {
    migrations: [{ id: "probe-0001", sql: "CREATE TABLE p (x)" }],
  });
  await db.write((tx) => tx.run("INSERT INTO p VALUES (1)"));
  const r = await db.get("SELECT count(*) AS n FROM p");
  await db.close();
  return r.n === 1 ? "ok" : "bad count";
});
await check(
  "bind443",
  () =>
    new Promise((resolve, reject) => {
      const s = createServer().listen(443, "127.0.0.1", () => s.close(() => resolve("ok")));
      s.on("error", reject);
    }),
);
await check("writeEtc", () => {
  writeFileSync("/etc/plantroot/probe", "x");
  return "WRITABLE";
});
await check("readPinFile", () => {
  readFileSync("/etc/plantroot/credentials/hsm-pin");
  return "READABLE";
});
await check("writeUsr", () => {
  writeFileSync("/usr/lib/plantroot/probe", "x");
  return "WRITABLE";
});
await check(
  "udp",
  () =>
    new Promise((resolve) => {
      const s = createSocket("udp4");
      s.bind(0, "127.0.0.1", () => s.close(() => resolve("ok")));
    }),
);
// the validation network guard reads this host's addresses (getifaddrs: netlink)
await check("interfaces", () => (Object.keys(networkInterfaces()).includes("lo") ? "ok" : "no lo"));
console.log(`PROBE ${JSON.stringify(out)}`);
