// Server process for the PKI benchmarks: a demo CA (SoftHSM, sqlite) with COUNT certificates, every
// tenth revoked, serving the PKI HTTP app (CA certificates, CRL, OCSP) on a loopback port.
// Usage: pki-server.ts DIR COUNT — prints "READY <port>" once listening; DIR/serials.json lists the
// serials (revoked ones flagged), DIR/pki/issuing.pem is the issuer.
import "reflect-metadata";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootstrapDemoPki } from "../../appliance/ca/bootstrap.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import { createPkiHttpApp } from "../../appliance/ca/http.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { HsmToken, useSoftHsm } from "../../hsm/index.js";
import { csrFor } from "../helpers/csr.js";

const [dir, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 1000);
const sh = useSoftHsm(join(dir!, "hsm"));
sh.createToken("bench-pki", "1234");
const token = HsmToken.open({ label: "bench-pki", pin: { value: "1234" } });
const boot = await bootstrapDemoPki({
  dir: join(dir!, "pki"),
  token,
  pkiBaseUrl: "http://127.0.0.1:8080",
  names: { permittedDns: ["plant.example"], excludedDns: [], permittedIp: [], excludedIp: [] },
});
const db = await Db.open(join(dir!, "plantroot.db"), { migrations: MIGRATIONS });
const ca = await createCa({ config: boot.config, token, db });
const csrs = Array.from({ length: 64 }, (_, i) => {
  const ids = [{ type: "dns" as const, value: `dev${i}.plant.example` }];
  return { ids, csr: csrFor(ids) };
});
const serials: Array<{ serial: string; revoked: boolean }> = [];
let next = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (next < count) {
      const i = next++;
      const c = csrs[i % csrs.length]!;
      const cert = await ca.issue({ csr: c.csr, identifiers: c.ids, requester: { accountId: "bench" } });
      serials.push({ serial: cert.serial, revoked: false });
    }
  }),
);
for (let i = 0; i < serials.length; i += 10) {
  await ca.revoke(serials[i]!.serial, 1, { actor: "operator:bench" });
  serials[i]!.revoked = true;
}
writeFileSync(join(dir!, "serials.json"), JSON.stringify(serials));
const server = createPkiHttpApp(ca).listen(0, "127.0.0.1", () => {
  process.stdout.write(`READY ${(server.address() as { port: number }).port}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  void ca.close().then(() => db.close().then(() => process.exit(0)));
});
