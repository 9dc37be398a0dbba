// npm run bench:hsm — signatures per second through hsm/ vs raw pkcs11js calls vs node:crypto, in one run.
// BENCH_SECONDS (default 2) per measurement. Prints a table and the layer's overhead over raw pkcs11js.
import "reflect-metadata";
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { HsmToken, type KeySpec, useSoftHsm } from "../../hsm/index.js";
import { C } from "../../hsm/pkcs11-constants.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
/** RSA lanes: the layer's pool size (signingSessions below) and the raw reference's session count */
const RSA_LANES = 2;

/** Calls per second of `fn` from `concurrent` lanes (fn gets its lane's index). */
async function rate(fn: (lane: number) => unknown | Promise<unknown>, concurrent = 1): Promise<number> {
  for (let i = 0; i < 50; i++) await fn(i % concurrent); // warm-up
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const lane = async (_: unknown, i: number) => {
    while (performance.now() < end) {
      await fn(i);
      n++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrent }, lane));
  return n / ((performance.now() - t0) / 1000);
}

const sh = useSoftHsm();
sh.createToken("bench", "1234");
const token = HsmToken.open({ label: "bench", pin: { value: "1234" }, signingSessions: RSA_LANES });
const msg = Buffer.alloc(512, 7); // about the size of a leaf tbsCertificate

const rows: string[][] = [["key", "hsm/ sign", "raw pkcs11js", "layer overhead", "node:crypto", "hsm/ ÷ node"]];
for (const spec of ["P-256", "P-384", "RSA-3072"] as KeySpec[]) {
  const key = token.generateKeyPair({ label: `bench-${spec}`, spec });
  const alg = key.defaultAlgorithm;
  const concurrency = spec.startsWith("RSA") ? RSA_LANES : 1;
  const layer = await rate(() => key.sign(msg), concurrency);
  // the same work straight on pkcs11js: one session, cached handle, digest computed in Node
  const handle = token.privateKeyHandle(key.id);
  // RSA: as many raw sessions as the layer's pool, asynchronous C_Sign (libuv threadpool) per lane
  const rawRsa = async (): Promise<number> => {
    const { lib, sessions } = token.withSession("bench", (lib, s) => {
      const slot = lib.C_GetSessionInfo(s).slotID;
      return { lib, sessions: Array.from({ length: concurrency }, () => lib.C_OpenSession(slot, 4 /* SERIAL */)) };
    });
    const mech = { mechanism: C.CKM_SHA256_RSA_PKCS! };
    try {
      return await rate(
        (i) =>
          new Promise<Buffer>((resolve, reject) => {
            const s = sessions[i]!;
            lib.C_SignInit(s, mech, handle);
            lib.C_Sign(s, msg, Buffer.allocUnsafe(384), (err, out) => (err ? reject(err) : resolve(out)));
          }),
        concurrency,
      );
    } finally {
      for (const s of sessions) lib.C_CloseSession(s);
    }
  };
  const raw = spec.startsWith("RSA")
    ? await rawRsa()
    : await token.withSession("bench", async (lib, s) => {
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
  const overhead = `${((raw / layer - 1) * 100).toFixed(1)}%`;
  rows.push([
    spec,
    `${layer.toFixed(0)}/s${concurrency > 1 ? ` (${concurrency} sessions)` : ""}`,
    `${raw.toFixed(0)}/s${concurrency > 1 ? ` (${concurrency} sessions)` : ""}`,
    overhead,
    `${node.toFixed(0)}/s`,
    `${(layer / node).toFixed(2)}×`,
  ]);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  "));
console.log(
  `\n${SECONDS}s per cell, SoftHSM ${token.tokenInfo().model}, one process. RSA: the layer's async sign() on its` +
    ` ${RSA_LANES} pooled sessions vs raw async C_Sign on ${RSA_LANES} sessions; overhead = raw ÷ hsm/ − 1.`,
);
token.close();
sh.cleanup();
