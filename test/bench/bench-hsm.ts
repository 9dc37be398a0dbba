// npm run bench:hsm — signatures per second through hsm/ vs raw pkcs11js calls vs node:crypto, in one run.
// BENCH_SECONDS (default 2) per measurement. Prints a table and the layer's overhead over raw pkcs11js.
import "reflect-metadata";
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { HsmToken, type KeySpec, useSoftHsm } from "../../hsm/index.js";
import { C } from "../../hsm/pkcs11-constants.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);

async function rate(fn: () => unknown | Promise<unknown>, concurrent = 1): Promise<number> {
  for (let i = 0; i < 50; i++) await fn(); // warm-up
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const lane = async () => {
    while (performance.now() < end) {
      await fn();
      n++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrent }, lane));
  return n / ((performance.now() - t0) / 1000);
}

const sh = useSoftHsm();
sh.createToken("bench", "1234");
const token = HsmToken.open({ label: "bench", pin: { value: "1234" }, signingSessions: 2 });
const msg = Buffer.alloc(512, 7); // about the size of a leaf tbsCertificate

const rows: string[][] = [["key", "hsm/ sign", "raw pkcs11js", "layer overhead", "node:crypto", "hsm/ ÷ node"]];
for (const spec of ["P-256", "P-384", "RSA-3072"] as KeySpec[]) {
  const key = token.generateKeyPair({ label: `bench-${spec}`, spec });
  const alg = key.defaultAlgorithm;
  const concurrency = spec.startsWith("RSA") ? 2 : 1;
  const layer = await rate(() => key.sign(msg), concurrency);
  // the same work straight on pkcs11js: one session, cached handle, digest computed in Node
  const handle = token.privateKeyHandle(key.id);
  const raw = await token.withSession("bench", async (lib, s) => {
    const mech = spec.startsWith("RSA")
      ? { mechanism: C.CKM_SHA256_RSA_PKCS! }
      : { mechanism: C.CKM_ECDSA!, parameter: undefined };
    const out = Buffer.alloc(512);
    return rate(() => {
      const input = spec.startsWith("RSA")
        ? msg
        : createHash(spec === "P-384" ? "sha384" : "sha256")
            .update(msg)
            .digest();
      lib.C_SignInit(s, mech, handle);
      return lib.C_Sign(s, input, out);
    });
  });
  const nodeKey = spec.startsWith("RSA")
    ? generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey
    : generateKeyPairSync("ec", { namedCurve: spec === "P-256" ? "prime256v1" : "secp384r1" }).privateKey;
  const hash = alg.endsWith("384") ? "sha384" : "sha256";
  const node = await rate(() => sign(hash, msg, nodeKey));
  const overhead = spec.startsWith("RSA")
    ? "n/a (2 sessions async vs 1 sync)"
    : `${((raw / layer - 1) * 100).toFixed(1)}%`;
  rows.push([
    spec,
    `${layer.toFixed(0)}/s${concurrency > 1 ? ` (${concurrency} sessions)` : ""}`,
    `${raw.toFixed(0)}/s`,
    overhead,
    `${node.toFixed(0)}/s`,
    `${(layer / node).toFixed(2)}×`,
  ]);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  "));
console.log(`\n${SECONDS}s per cell, SoftHSM ${token.tokenInfo().model}, one process.`);
token.close();
sh.cleanup();
