// hsm/derive.ts and hsm/wrap.ts against real SoftHSM2 tokens: ECDH on a derive-only key agrees with
// node:crypto, the derive key cannot sign, and a wrapped CA key is recovered into a second token.
import { diffieHellman, generateKeyPairSync, verify } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HsmToken } from "../../hsm/index.js";
import { deriveSharedSecret, generateDeriveKeyPair } from "../../hsm/derive.js";
import { generateBackupKek, importKek, unwrapPrivateKey, wrapPrivateKey } from "../../hsm/wrap.js";
import { testSoftHsm } from "../helpers/softhsm.js";

let officer: HsmToken;
let ca: HsmToken;
let spare: HsmToken;

beforeAll(() => {
  const sh = testSoftHsm();
  sh.createToken("officer-a", "1111-a");
  sh.createToken("ca-main", "2222-ca");
  sh.createToken("ca-spare", "3333-sp");
  officer = HsmToken.open({ label: "officer-a", pin: { value: "1111-a" } });
  ca = HsmToken.open({ label: "ca-main", pin: { value: "2222-ca" } });
  spare = HsmToken.open({ label: "ca-spare", pin: { value: "3333-sp" } });
});
afterAll(() => {
  for (const t of [officer, ca, spare]) t?.close();
});

describe("ECDH derive key on a token", () => {
  it("agrees with node's ECDH and cannot sign", async () => {
    const key = generateDeriveKeyPair(officer, { label: "share-key" });
    expect(key.spec).toBe("P-256");
    const attrs = key.attributes();
    expect(attrs).toMatchObject({ derive: true, sign: false, sensitive: true, extractable: false, decrypt: false });
    const eph = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const onToken = deriveSharedSecret(officer, key, eph.publicKey);
    const inNode = diffieHellman({ privateKey: eph.privateKey, publicKey: key.publicKey });
    expect(onToken.equals(inNode)).toBe(true);
    await expect(key.sign(Buffer.from("x"))).rejects.toThrow();
    expect(() => generateDeriveKeyPair(officer, { label: "share-key" })).toThrow(/already exists/);
  });
});

describe("wrap under an HSM-made KEK and recover into a second token", () => {
  for (const spec of ["P-384", "RSA-2048"] as const) {
    it(`round-trips a ${spec} key`, async () => {
      const key = ca.generateKeyPair({ label: `root-${spec}`, spec, extractable: true });
      const { kek, value } = generateBackupKek(ca);
      expect(value.length).toBe(32);
      const blob = wrapPrivateKey(ca, kek, key);
      kek.destroy();
      expect(blob.length).toBeGreaterThan(40);
      const kek2 = importKek(spare, value);
      const recovered = unwrapPrivateKey(spare, kek2, blob, {
        label: `root-${spec}`,
        id: key.id,
        spec,
        spki: key.spki,
      });
      kek2.destroy();
      expect(recovered.spki.equals(key.spki)).toBe(true);
      const msg = Buffer.from("recovery proof");
      const sig = await recovered.sign(msg);
      expect(verify(spec.startsWith("RSA") ? "sha256" : "sha384", msg, key.publicKey, sig)).toBe(true);
      expect(recovered.attributes()).toMatchObject({ sensitive: true, extractable: false, local: false });
    });
  }

  it("refuses to wrap a never-extractable key", () => {
    const key = ca.generateKeyPair({ label: "fixed", spec: "P-256" });
    const { kek, value } = generateBackupKek(ca);
    value.fill(0);
    expect(() => wrapPrivateKey(ca, kek, key)).toThrow(/CKR_KEY_UNEXTRACTABLE|CKR_KEY_NOT_WRAPPABLE/);
    kek.destroy();
  });

  it("a wrong KEK does not unwrap", () => {
    const key = ca.generateKeyPair({ label: "other", spec: "P-256", extractable: true });
    const { kek } = generateBackupKek(ca);
    const blob = wrapPrivateKey(ca, kek, key);
    kek.destroy();
    const wrong = importKek(spare, Buffer.alloc(32, 7));
    expect(() =>
      unwrapPrivateKey(spare, wrong, blob, { label: "other", id: key.id, spec: "P-256", spki: key.spki }),
    ).toThrow();
    wrong.destroy();
    expect(spare.labelExists("other")).toBe(false);
  });
});
