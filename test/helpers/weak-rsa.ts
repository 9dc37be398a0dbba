// Test helper: real RSA key pairs that break one key rule each (ROCA fingerprint, Fermat-close
// primes), built from chosen primes so their CSRs can be properly signed.
import {
  checkPrimeSync,
  createPrivateKey,
  createPublicKey,
  generatePrimeSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";

const b64u = (n: bigint) => {
  let h = n.toString(16);
  if (h.length % 2) h = `0${h}`;
  return Buffer.from(h, "hex").toString("base64url");
};

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

function modInv(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a, m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

export function rsaFromPrimes(p: bigint, q: bigint, e = 65537n): { privateKey: KeyObject; spki: Buffer; n: bigint } {
  const n = p * q;
  const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
  const d = modInv(e, lambda);
  const privateKey = createPrivateKey({
    format: "jwk",
    key: {
      kty: "RSA",
      n: b64u(n),
      e: b64u(e),
      d: b64u(d),
      p: b64u(p),
      q: b64u(q),
      dp: b64u(d % (p - 1n)),
      dq: b64u(d % (q - 1n)),
      qi: b64u(modInv(q, p)),
    },
  });
  const spki = Buffer.from(createPublicKey(privateKey).export({ type: "spki", format: "der" }));
  return { privateKey, spki, n };
}

const isPrime = (n: bigint) => checkPrimeSync(n, { checks: 20 });

/** Primes 1024 bits apart by less than 2^20: Fermat's method finds them in one round. */
export function fermatWeakKey() {
  const p = generatePrimeSync(1024, { bigint: true }) as bigint;
  let q = p + 2n;
  while (!isPrime(q)) q += 2n;
  return rsaFromPrimes(p, q);
}

// the small primes the ROCA fingerprint is tested on; Infineon primes are k*M + (65537^a mod M)
const ROCA_M = [
  3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113,
  127, 131, 137, 139, 149, 151, 157, 163, 167,
].reduce((a, b) => a * BigInt(b), 2n);

function rocaPrime(bits: number): bigint {
  for (;;) {
    const a = BigInt(`0x${randomBytes(8).toString("hex")}`);
    const base = modPow(65537n, a, ROCA_M);
    const kBits = bits - ROCA_M.toString(2).length;
    const k = BigInt(`0x${randomBytes(Math.ceil(kBits / 8)).toString("hex")}`) | (1n << BigInt(kBits - 1));
    const p = k * ROCA_M + base;
    if (p.toString(2).length === bits && isPrime(p)) return p;
  }
}

/** An RSA-2048 key whose modulus carries the ROCA fingerprint (both primes of the Infineon form). */
export function rocaWeakKey() {
  for (;;) {
    const p = rocaPrime(1024);
    const q = rocaPrime(1024);
    const k = rsaFromPrimes(p, q);
    if (k.n.toString(2).length === 2048) return k;
  }
}
