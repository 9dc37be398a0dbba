// Child process for the HSM async-recovery test: 16 lanes sign with an RSA key (asynchronous C_Sign on
// the libuv threadpool) while the SoftHSM token directory disappears and comes back CYCLES times, so
// the layer recovers (re-opens sessions, re-initialises the module) with signatures in flight.
// Prints one JSON line with the outcome; a crash shows as a signal exit. Usage: DIR CYCLES
import { renameSync } from "node:fs";
import { join } from "node:path";
import { verify } from "node:crypto";
import { HsmError, HsmToken, useSoftHsm } from "../../hsm/index.js";

const [dir, cyclesArg] = process.argv.slice(2);
const cycles = Number(cyclesArg ?? 30);
const sh = useSoftHsm(dir!);
sh.createToken("churn", "1234");
const token = HsmToken.open({ label: "churn", pin: { value: "1234" }, signingSessions: 4 });
const key = token.generateKeyPair({ label: "rsa", spec: "RSA-2048" });
const ec = token.generateKeyPair({ label: "ec", spec: "P-256" });
const tokens = join(sh.dir, "tokens");
const out = { ok: 0, bad: 0, typed: 0, untyped: [] as string[], ecOk: 0, ecTyped: 0 };
let stop = false;
const data = Buffer.from("plantroot async recovery");
const rsaLane = async () => {
  while (!stop) {
    try {
      const sig = await key.sign(data, "rsa-pkcs1-sha256");
      if (verify("sha256", data, key.publicKey, sig)) out.ok++;
      else out.bad++;
    } catch (e) {
      if (e instanceof HsmError) out.typed++;
      else out.untyped.push(String(e).slice(0, 120));
      await new Promise((r) => setTimeout(r, 1));
    }
  }
};
// synchronous ECDSA signing on the control session at the same time (recovery from that side too)
const ecLane = async () => {
  while (!stop) {
    try {
      if (verify("sha256", data, ec.publicKey, await ec.sign(data))) out.ecOk++;
    } catch (e) {
      if (e instanceof HsmError) out.ecTyped++;
      else out.untyped.push(String(e).slice(0, 120));
    }
    await new Promise((r) => setTimeout(r, 2));
  }
};
const lanes = [...Array.from({ length: 16 }, rsaLane), ecLane(), ecLane()];
for (let i = 0; i < cycles; i++) {
  await new Promise((r) => setTimeout(r, 40 + Math.random() * 60));
  renameSync(tokens, `${tokens}.gone`);
  await new Promise((r) => setTimeout(r, 20 + Math.random() * 60));
  renameSync(`${tokens}.gone`, tokens);
}
await new Promise((r) => setTimeout(r, 300));
const before = out.ok;
await new Promise((r) => setTimeout(r, 300));
const resumed = out.ok - before; // signatures after the last restore
stop = true;
await Promise.all(lanes);
token.close();
process.stdout.write(`${JSON.stringify({ ...out, resumed })}\n`);
