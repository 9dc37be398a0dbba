// npm run bench:hsm — signatures per second through hsm/ vs raw pkcs11js calls vs node:crypto, in one run.
// BENCH_SECONDS (default 2) per measurement. Prints a table and the layer's overhead over raw pkcs11js
// (median of BENCH_ROUNDS alternating rounds).
import "reflect-metadata";
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import { HsmToken, type KeySpec, useSoftHsm } from "../../hsm/index.js";
import { C } from "../../hsm/pkcs11-constants.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
/** RSA lanes: the layer's pool size (signingSessions below) and the raw reference's session count */
const RSA_LANES = 2;
/** layer and raw pkcs11js alternate in this many rounds (BENCH_ROUNDS) */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Calls per second of `fn` from `concurrent` lanes (fn gets its lane's index). */
async function rate(
  fn: (lane: number) => unknown | Promise<unknown>,
  concurrent = 1,
  seconds = SECONDS,
): Promise<number> {
  for (let i = 0; i < 50; i++) await fn(i % concurrent); // warm-up
  const end = performance.now() + seconds * 1000;
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
  // the same work straight on pkcs11js: cached handle, digest computed in Node (ECDSA: one session,
  // synchronous; RSA: as many raw sessions as the layer's pool, asynchronous C_Sign per lane)
  const handle = token.privateKeyHandle(key.id);
  const { lib, control, sessions } = token.withSession("bench", (lib, s) => {
    const slot = lib.C_GetSessionInfo(s).slotID;
    return { lib, control: s, sessions: Array.from({ length: concurrency }, () => lib.C_OpenSession(slot, 4)) };
  });
  const rawSign = spec.startsWith("RSA")
    ? (i: number) =>
        new Promise<Buffer>((resolve, reject) => {
          const s = sessions[i]!;
          lib.C_SignInit(s, { mechanism: C.CKM_SHA256_RSA_PKCS! }, handle);
          lib.C_Sign(s, msg, Buffer.allocUnsafe(384), (err, out) => (err ? reject(err) : resolve(out)));
        })
    : () => {
        const digest = createHash(spec === "P-384" ? "sha384" : "sha256")
          .update(msg)
          .digest();
        lib.C_SignInit(control, { mechanism: C.CKM_ECDSA! }, handle);
        return lib.C_Sign(control, digest, Buffer.alloc(512));
      };
  // layer and raw alternate in ROUNDS short rounds, so load from other processes hits both alike;
  // the overhead is the median of the per-round ratios
  const layerRates: number[] = [];
  const rawRates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    layerRates.push(await rate(() => key.sign(msg), concurrency, SECONDS / ROUNDS));
    rawRates.push(await rate(rawSign, concurrency, SECONDS / ROUNDS));
  }
  for (const s of sessions) lib.C_CloseSession(s);
  const layer = mean(layerRates);
  const raw = mean(rawRates);
  const ratios = rawRates.map((x, i) => x / layerRates[i]!).sort((a, b) => a - b);
  const medianRatio = ratios[Math.floor(ratios.length / 2)]!;
  const nodeKey = spec.startsWith("RSA")
    ? generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey
    : generateKeyPairSync("ec", { namedCurve: spec === "P-256" ? "prime256v1" : "secp384r1" }).privateKey;
  const hash = alg.endsWith("384") ? "sha384" : "sha256";
  const node = await rate(() => sign(hash, msg, nodeKey));
  const overhead = `${((medianRatio - 1) * 100).toFixed(1)}% (rounds ${ratios.map((x) => `${((x - 1) * 100).toFixed(0)}`).join("/")})`;
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
  `\n${SECONDS}s per cell (hsm/ and raw alternate in ${ROUNDS} rounds; overhead = median per-round raw ÷ hsm/ − 1), SoftHSM ${token.tokenInfo().model}, one process. RSA: the layer's async sign() on its` +
    ` ${RSA_LANES} pooled sessions vs raw async C_Sign on ${RSA_LANES} sessions.`,
);
token.close();
sh.cleanup();
