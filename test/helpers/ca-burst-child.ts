// Child process for the crash test: opens (or first creates) a demo CA in DIR and issues certificates
// from many concurrent lanes, printing "ISSUED <serial> <sha256>" only after issue() resolved
// (i.e. the moment a certificate is handed out). Usage: ca-burst-child.ts DIR init|resume COUNT [CRASH_AT_SIGN]
// CRASH_AT_SIGN=k: the process SIGKILLs itself inside the k-th HSM signature of the burst, i.e. with
// that certificate's intent durably recorded and its signature never returned.
import "reflect-metadata";
import { createHash } from "node:crypto";
import { writeSync } from "node:fs";
import { join } from "node:path";
import { bootstrapDemoPki } from "../../appliance/ca/bootstrap.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { HsmKey, HsmToken, useSoftHsm } from "../../hsm/index.js";
import { csrFor } from "./csr.js";

const [dir, mode, countArg, crashArg] = process.argv.slice(2);
if (!dir || (mode !== "init" && mode !== "resume")) throw new Error("usage: DIR init|resume COUNT");
const count = Number(countArg ?? "1000000");
const sh = useSoftHsm(join(dir, "hsm"));
if (mode === "init") sh.createToken("crash", "1234");
const token = HsmToken.open({ label: "crash", pin: { value: "1234" } });
const boot = await bootstrapDemoPki({
  dir: join(dir, "pki"),
  token,
  pkiBaseUrl: "http://127.0.0.1:8080",
  names: { permittedDns: ["plant.example"], excludedDns: [], permittedIp: [], excludedIp: [] },
});
const db = await Db.open(join(dir, "plantroot.db"), { migrations: MIGRATIONS });
const ca = await createCa({ config: boot.config, token, db });
writeSync(1, "READY\n");

if (crashArg) {
  const crashAt = Number(crashArg);
  const sign = HsmKey.prototype.sign;
  let n = 0;
  HsmKey.prototype.sign = function (this: HsmKey, ...args: Parameters<HsmKey["sign"]>) {
    if (++n === crashAt) process.kill(process.pid, "SIGKILL");
    return sign.apply(this, args);
  };
}

// precompute CSRs so the burst is dominated by the CA itself
const csrs = Array.from({ length: 64 }, (_, i) => {
  const ids = [{ type: "dns" as const, value: `d${i}.plant.example` }];
  return { ids, csr: csrFor(ids) };
});
let issued = 0;
let next = 0;
async function lane(): Promise<void> {
  while (next < count) {
    const c = csrs[next++ % csrs.length]!;
    const cert = await ca.issue({ csr: c.csr, identifiers: c.ids, requester: { accountId: "crash" } });
    writeSync(1, `ISSUED ${cert.serial} ${createHash("sha256").update(cert.der).digest("hex")}\n`);
    issued++;
  }
}
await Promise.all(Array.from({ length: 32 }, lane));
await ca.close();
await db.close();
token.close();
writeSync(1, `DONE ${issued}\n`);
