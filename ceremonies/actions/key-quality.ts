// Key-quality check on a public key before a CA signs for it or with it, through appliance/ca's
// KeyPolicy (Boulder's goodkey: curves, RSA size and exponent, small primes, ROCA, Fermat).
import type { KeyObject } from "node:crypto";
import { DEFAULT_KEY_POLICY, KeyPolicy } from "../../appliance/ca/goodkey.js";
import type { CheckResult } from "../engine/types.js";
import { check } from "./util.js";

/** CA keys: P-256, P-384, RSA 2048..4096 with e=65537; Fermat with 110 rounds as Boulder's ceremony tool. */
const CA_KEY_POLICY = new KeyPolicy({ ...DEFAULT_KEY_POLICY, fermatRounds: 110 });

export function keyQuality(key: KeyObject, what: string): CheckResult {
  const spki = Buffer.from(key.export({ type: "spki", format: "der" }));
  try {
    const info = CA_KEY_POLICY.check(spki);
    const desc =
      info.type === "rsa" ? `RSA ${info.bits} bits, e=${info.e}` : info.type === "ec" ? `EC ${info.curve}` : info.type;
    return check(
      "key quality",
      true,
      `${what}: ${desc}; passes size, exponent, small-prime, ROCA and Fermat (110 rounds) checks`,
    );
  } catch (e) {
    return check("key quality", false, `${what}: ${(e as Error).message}`);
  }
}
