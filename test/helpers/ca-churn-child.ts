// Child process for the repeated-SIGKILL test: opens (first creates) a demo CA in DIR and runs
// issuing lanes plus revoking lanes until killed. Prints a line only once the CA acknowledged:
// "ISSUED <serial> <sha256>" after issue() resolved, "REVOKED <serial>" after revoke() resolved.
// Usage: ca-churn-child.ts DIR init|resume [crash-in-crl=N | start-only]
// start-only: start the CA (crash recovery, CRL check), close it cleanly, print DONE.
// crash-in-crl=N: SIGKILLs itself in the N-th CRL regeneration that follows a revocation, i.e. with
// the revocation committed and the new CRL not yet signed.
import "reflect-metadata";
import { createHash } from "node:crypto";
import { writeSync } from "node:fs";
import { join } from "node:path";
import { bootstrapDemoPki } from "../../appliance/ca/bootstrap.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import { CrlService } from "../../appliance/ca/crl-service.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { HsmToken, useSoftHsm } from "../../hsm/index.js";
import { csrFor } from "./csr.js";

const [dir, mode, option] = process.argv.slice(2);
if (!dir || (mode !== "init" && mode !== "resume")) throw new Error("usage: DIR init|resume [crash-in-crl=N]");
const sh = useSoftHsm(join(dir, "hsm"));
if (mode === "init") sh.createToken("churn", "1234");
const token = HsmToken.open({ label: "churn", pin: { value: "1234" } });
const boot = await bootstrapDemoPki({
  dir: join(dir, "pki"),
  token,
  pkiBaseUrl: "http://127.0.0.1:8080",
  names: { permittedDns: ["plant.example"], excludedDns: [], permittedIp: [], excludedIp: [] },
});
const db = await Db.open(join(dir, "plantroot.db"), { migrations: MIGRATIONS });
const ca = await createCa({ config: boot.config, token, db });

if (option?.startsWith("crash-in-crl=")) {
  const at = Number(option.split("=")[1]);
  const refresh = CrlService.prototype.refresh;
  let n = 0;
  CrlService.prototype.refresh = function (this: CrlService, reason: string) {
    if (reason.startsWith("revocation of") && ++n === at) process.kill(process.pid, "SIGKILL");
    return refresh.call(this, reason);
  };
}
writeSync(1, "READY\n");
if (option === "start-only") {
  await ca.close();
  await db.close();
  token.close();
  writeSync(1, "DONE\n");
  process.exit(0);
}

const csrs = Array.from({ length: 48 }, (_, i) => {
  const ids = [{ type: "dns" as const, value: `churn${i}.plant.example` }];
  return { ids, csr: csrFor(ids) };
});
const mine: string[] = [];
let next = 0;
async function issueLane(): Promise<void> {
  for (;;) {
    const c = csrs[next++ % csrs.length]!;
    const cert = await ca.issue({ csr: c.csr, identifiers: c.ids, requester: { accountId: "churn" } });
    writeSync(1, `ISSUED ${cert.serial} ${createHash("sha256").update(cert.der).digest("hex")}\n`);
    mine.push(cert.serial);
  }
}
async function revokeLane(): Promise<void> {
  for (let i = 0; ; i++) {
    // alternately one of this run's certificates and one left unrevoked by an earlier run
    let serial = i % 2 ? mine.shift() : undefined;
    serial ??= (
      await db.get<{ serial: string }>(
        "SELECT serial FROM ca_certificates WHERE status = 'issued' AND revoked_at IS NULL ORDER BY random() LIMIT 1",
      )
    )?.serial;
    if (!serial) {
      await new Promise((r) => setTimeout(r, 2));
      continue;
    }
    try {
      await ca.revoke(serial, [0, 1, 4, 5][i % 4]!, { accountId: "churn" });
      writeSync(1, `REVOKED ${serial}\n`);
    } catch (e) {
      // another lane got there first: not acknowledged as a revocation by this request
      if ((e as { kind?: string }).kind !== "alreadyRevoked") throw e;
    }
  }
}
await Promise.all([...Array.from({ length: 16 }, issueLane), revokeLane(), revokeLane()]);
