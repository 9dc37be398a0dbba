// Key-quality checks on a public key before a CA signs for it or with it (after Boulder's GoodKey):
// allowed curves, RSA size and exponent, and Fermat factorisation of close primes. Pure.
import type { KeyObject } from "node:crypto";
import type { CheckResult } from "../engine/types.js";
import { check } from "./util.js";

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(2) ** BigInt(Math.ceil(n.toString(2).length / 2));
  while (true) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** True if n = p*q with |p - q| small enough for `rounds` Fermat steps to find. */
export function fermatFactorable(n: bigint, rounds = 110): boolean {
  let a = isqrt(n);
  if (a * a < n) a++;
  for (let i = 0; i < rounds; i++, a++) {
    const b2 = a * a - n;
    const b = isqrt(b2);
    if (b * b === b2) return true;
  }
  return false;
}

export function keyQuality(key: KeyObject, what: string): CheckResult {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "ec") {
    const ok = d.namedCurve === "prime256v1" || d.namedCurve === "secp384r1";
    return check(
      "key quality",
      ok,
      `${what}: EC ${d.namedCurve}${ok ? "" : " is not an allowed curve (P-256, P-384)"}`,
    );
  }
  if (key.asymmetricKeyType === "rsa") {
    const bits = d.modulusLength ?? 0;
    const e = d.publicExponent ?? 0n;
    if (![2048, 3072, 4096].includes(bits))
      return check("key quality", false, `${what}: RSA ${bits} bits is not allowed`);
    if (e !== 65537n) return check("key quality", false, `${what}: RSA exponent ${e} is not 65537`);
    const n = BigInt(`0x${Buffer.from(key.export({ format: "jwk" }).n!, "base64url").toString("hex")}`);
    if (fermatFactorable(n)) return check("key quality", false, `${what}: RSA modulus factors by Fermat's method`);
    return check("key quality", true, `${what}: RSA ${bits} bits, e=65537, not Fermat-factorable in 110 rounds`);
  }
  return check("key quality", false, `${what}: ${key.asymmetricKeyType} keys are not allowed for CAs`);
}
