// hsm/ against a real SoftHSM2 token: every key type, signatures checked by node:crypto and openssl,
// non-extractability, X.509 via @peculiar/x509, recovery after broken sessions, typed errors.
import { execFileSync, spawnSync } from "node:child_process";
import { constants, createPublicKey, verify } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HsmError,
  type HsmKey,
  HsmToken,
  hashOf,
  hsmCrypto,
  KEY_SPECS,
  type KeySpec,
  type SignatureAlgorithm,
  x509Signing,
} from "../../hsm/index.js";
import { C } from "../../hsm/pkcs11-constants.js";
import { openssl, testSoftHsm } from "../helpers/softhsm.js";
import { removeWhenFileEnds } from "../helpers/temp-dirs.js";

const PIN = "4711-ca";
let token: HsmToken;
let work: string;
const keys = new Map<KeySpec, HsmKey>();

beforeAll(() => {
  const sh = testSoftHsm();
  sh.createToken("plantroot-ca", PIN);
  sh.createToken("officer-1", "1111-o1");
  token = HsmToken.open({ label: "plantroot-ca", pin: { value: PIN } });
  work = removeWhenFileEnds(mkdtempSync(join(tmpdir(), "hsm-test-")));
});
afterAll(() => token?.close());

function nodeVerify(key: HsmKey, alg: SignatureAlgorithm, data: Buffer, sig: Buffer): boolean {
  if (alg.startsWith("rsa-pss-"))
    return verify(
      hashOf(alg),
      data,
      { key: key.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
      sig,
    );
  return verify(hashOf(alg), data, key.publicKey, sig);
}

function opensslVerify(key: HsmKey, alg: SignatureAlgorithm, data: Buffer, sig: Buffer): string {
  const pub = join(work, `${key.label}.pub.pem`);
  writeFileSync(pub, key.publicKey.export({ type: "spki", format: "pem" }));
  const dataFile = join(work, "data.bin");
  const sigFile = join(work, "sig.bin");
  writeFileSync(dataFile, data);
  writeFileSync(sigFile, sig);
  if (alg === "ed25519")
    return openssl(["pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", dataFile, "-sigfile", sigFile]);
  const args = ["dgst", `-${hashOf(alg)}`, "-verify", pub, "-signature", sigFile];
  if (alg.startsWith("rsa-pss-")) args.push("-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1");
  return openssl([...args, dataFile]);
}

const ALGS: Record<KeySpec, SignatureAlgorithm[]> = {
  "P-256": ["ecdsa-sha256", "ecdsa-sha384"],
  "P-384": ["ecdsa-sha384", "ecdsa-sha512"],
  "RSA-2048": ["rsa-pkcs1-sha256", "rsa-pss-sha256"],
  "RSA-3072": [
    "rsa-pkcs1-sha256",
    "rsa-pkcs1-sha384",
    "rsa-pkcs1-sha512",
    "rsa-pss-sha256",
    "rsa-pss-sha384",
    "rsa-pss-sha512",
  ],
  "RSA-4096": ["rsa-pkcs1-sha512", "rsa-pss-sha512"],
  Ed25519: ["ed25519"],
};

describe.each(KEY_SPECS.map((s) => [s]))("%s keys", (spec) => {
  it("generate on the token, sign, verify with node:crypto and openssl", async () => {
    const key = token.generateKeyPair({ label: `key-${spec}`, spec });
    keys.set(spec, key);
    expect(key.spec).toBe(spec);
    for (const alg of ALGS[spec]) {
      const data = Buffer.from(`plantroot ${spec} ${alg}`);
      const sig = await key.sign(data, alg);
      expect(nodeVerify(key, alg, data, sig), alg).toBe(true);
      expect(opensslVerify(key, alg, data, sig)).toMatch(/Verified OK|Signature Verified Successfully/);
      expect(nodeVerify(key, alg, Buffer.from("tampered"), sig)).toBe(false);
    }
  });

  it("has the security attributes of a CA key and cannot be read", () => {
    const key = keys.get(spec)!;
    const a = key.attributes();
    expect(a).toMatchObject({
      token: true,
      private: true,
      sensitive: true,
      alwaysSensitive: true,
      extractable: false,
      neverExtractable: true,
      local: true,
      sign: true,
      decrypt: false,
      unwrap: false,
    });
    const secretAttr = spec.startsWith("RSA") ? C.CKA_PRIVATE_EXPONENT! : C.CKA_VALUE!;
    let err: unknown;
    try {
      token.withSession("read-private", (lib, s) =>
        lib.C_GetAttributeValue(s, token.privateKeyHandle(key.id), [{ type: secretAttr }]),
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HsmError);
    expect((err as HsmError).ckr).toBe("CKR_ATTRIBUTE_SENSITIVE");
  });

  it("is found again by label and by RFC 7512 URI", () => {
    const key = keys.get(spec)!;
    expect(token.findKey(`key-${spec}`).spki.equals(key.spki)).toBe(true);
    expect(token.findKey(key.uri).spki.equals(key.spki)).toBe(true);
    expect(token.findKey(`pkcs11:token=plantroot-ca;object=key-${spec};type=private`).id.equals(key.id)).toBe(true);
  });
});

describe("token objects as other tools see them", () => {
  it("pkcs11-tool lists every private key as never extractable", () => {
    const out = execFileSync(
      "pkcs11-tool",
      [
        "--module",
        "/usr/lib/softhsm/libsofthsm2.so",
        "--token-label",
        "plantroot-ca",
        "--login",
        "--pin",
        PIN,
        "--list-objects",
      ],
      { env: process.env },
    ).toString();
    const privBlocks = out.split(/\n(?=\S)/).filter((b) => b.startsWith("Private Key Object"));
    expect(privBlocks.length).toBe(KEY_SPECS.length);
    for (const b of privBlocks) {
      expect(b).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local/);
      expect(b).not.toMatch(/decrypt|unwrap/);
    }
  });
});

describe("key generation rules", () => {
  it("refuses a label that already exists", () => {
    for (const spec of ["P-256", "P-384"] as const)
      expect(() => token.generateKeyPair({ label: "key-P-256", spec })).toThrow(
        expect.objectContaining({ kind: "key-exists", message: expect.stringMatching(/already exists/) }),
      );
  });

  it("makes a wrappable key only when asked, still sensitive", () => {
    const k = token.generateKeyPair({ label: "backup-able", spec: "P-256", extractable: true });
    expect(k.attributes()).toMatchObject({ sensitive: true, extractable: true, neverExtractable: false });
  });

  it("gives every key a distinct random CKA_ID", () => {
    const ids = new Set([...keys.values()].map((k) => k.id.toString("hex")));
    expect(ids.size).toBe(keys.size);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
  });

  it("refuses unknown key types", () => {
    expect(() => token.generateKeyPair({ label: "x", spec: "RSA-1024" as KeySpec })).toThrow(/unsupported key type/);
  });
});

describe("X.509 through @peculiar/x509 with the HSM as signer", () => {
  it("a self-signed root, a leaf issued from it and a CRL revoking the leaf pass openssl verify / crl -verify", async () => {
    for (const spec of ["P-384", "RSA-3072", "Ed25519"] as const) {
      const caKey = keys.get(spec)!;
      const caPub = new x509.PublicKey(caKey.spki);
      const now = new Date();
      const root = await x509.X509CertificateGenerator.create(
        {
          serialNumber: "01a1",
          subject: `CN=Test Root ${spec}`,
          issuer: `CN=Test Root ${spec}`,
          notBefore: new Date(now.getTime() - 60_000),
          notAfter: new Date(now.getTime() + 365 * 864e5),
          publicKey: caPub,
          ...x509Signing(caKey),
          extensions: [
            new x509.BasicConstraintsExtension(true, 0, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
            await x509.SubjectKeyIdentifierExtension.create(caPub, false, hsmCrypto),
          ],
        },
        hsmCrypto,
      );
      const leafKey = keys.get("P-256")!;
      const leaf = await x509.X509CertificateGenerator.create(
        {
          serialNumber: "02b2",
          subject: "CN=plc-01.plant.test",
          issuer: root.subject,
          notBefore: new Date(now.getTime() - 60_000),
          notAfter: new Date(now.getTime() + 30 * 864e5),
          publicKey: new x509.PublicKey(leafKey.spki),
          ...x509Signing(caKey),
          extensions: [
            new x509.BasicConstraintsExtension(false, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
            new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
            new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "plc-01.plant.test" }]),
            await x509.AuthorityKeyIdentifierExtension.create(caPub, false, hsmCrypto),
          ],
        },
        hsmCrypto,
      );
      const rootFile = join(work, `root-${spec}.pem`);
      const leafFile = join(work, `leaf-${spec}.pem`);
      writeFileSync(rootFile, root.toString("pem"));
      writeFileSync(leafFile, leaf.toString("pem"));
      expect(openssl(["verify", "-x509_strict", "-CAfile", rootFile, rootFile])).toMatch(/OK/);
      expect(openssl(["verify", "-x509_strict", "-CAfile", rootFile, leafFile])).toMatch(/OK/);
      // node agrees
      expect(new (await import("node:crypto")).X509Certificate(Buffer.from(leaf.rawData)).verify(caKey.publicKey)).toBe(
        true,
      );
      // a v2 CRL (AKI + CRL number) revoking the leaf, built by @peculiar/x509 and signed on the token
      const crl = await x509.X509CrlGenerator.create(
        {
          issuer: root.subject,
          thisUpdate: new Date(now.getTime() - 60_000),
          nextUpdate: new Date(now.getTime() + 7 * 864e5),
          entries: [
            {
              serialNumber: "02b2",
              revocationDate: new Date(now.getTime() - 1000),
              reason: x509.X509CrlReason.keyCompromise,
            },
          ],
          extensions: [
            await x509.AuthorityKeyIdentifierExtension.create(caPub, false, hsmCrypto),
            new x509.Extension("2.5.29.20", false, Buffer.from([0x02, 0x01, 0x07])), // cRLNumber 7
          ],
          ...x509Signing(caKey),
        },
        hsmCrypto,
      );
      // DER: @peculiar/x509 writes PEM as "BEGIN CRL", which openssl does not read ("X509 CRL")
      const crlFile = join(work, `crl-${spec}.der`);
      writeFileSync(crlFile, Buffer.from(crl.rawData));
      // openssl crl prints "verify OK" on stderr; a bad signature makes it fail
      const out = execFileSync(
        "openssl",
        ["crl", "-inform", "DER", "-verify", "-noout", "-text", "-CAfile", rootFile, "-in", crlFile],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      ).toString();
      expect(out).toMatch(/X509v3 CRL Number:\s+7/);
      expect(out).toMatch(/Serial Number: 02B2[\s\S]*Key Compromise/);
      const r = spawnSync("openssl", [
        "crl",
        "-inform",
        "DER",
        "-verify",
        "-noout",
        "-CAfile",
        rootFile,
        "-in",
        crlFile,
      ]);
      expect(r.status).toBe(0);
      expect(r.stderr.toString()).toMatch(/verify OK/);
      // the check is real: the same CRL against another CA's certificate fails
      const other = join(work, `root-other-${spec}.pem`);
      writeFileSync(other, leaf.toString("pem"));
      const bad = spawnSync("openssl", [
        "crl",
        "-inform",
        "DER",
        "-verify",
        "-noout",
        "-CAfile",
        other,
        "-in",
        crlFile,
      ]);
      expect(bad.stderr.toString()).not.toMatch(/verify OK/);
    }
  });
});

describe("recovery after the session breaks underneath the layer", () => {
  it("signs again after every session of the token was closed", async () => {
    const key = keys.get("P-256")!;
    const slotHandle = (token as unknown as { slot: { handle: Buffer } }).slot.handle;
    token.withSession("break", (lib) => lib.C_CloseAllSessions(slotHandle));
    const data = Buffer.from("after close");
    expect(verify("sha256", data, key.publicKey, await key.sign(data))).toBe(true);
  });

  it("signs again (RSA, pooled async sessions too) after the module was finalized and re-initialised", async () => {
    const ec = keys.get("P-384")!;
    const rsa = keys.get("RSA-2048")!;
    token.withSession("break", (lib) => {
      lib.C_Finalize();
      lib.C_Initialize({ flags: 2 });
    });
    const data = Buffer.from("after finalize");
    expect(verify("sha384", data, ec.publicKey, await ec.sign(data))).toBe(true);
    token.withSession("break", (lib) => {
      lib.C_Finalize();
      lib.C_Initialize({ flags: 2 });
    });
    expect(verify("sha256", data, rsa.publicKey, await rsa.sign(data))).toBe(true);
  });

  it("signs on the very next call after the module was finalized underneath (no error surfaces)", async () => {
    const key = keys.get("P-256")!;
    token.withSession("break", (lib) => lib.C_Finalize());
    // the layer re-initialises by itself: the very next call succeeds
    const data = Buffer.from("x");
    expect(verify("sha256", data, key.publicKey, await key.sign(data))).toBe(true);
  });
});

describe("concurrency", () => {
  it("many concurrent ECDSA and RSA signatures are all valid", async () => {
    const ec = keys.get("P-256")!;
    const rsa = keys.get("RSA-2048")!;
    const jobs = Array.from({ length: 120 }, (_, i) => {
      const data = Buffer.from(`req ${i}`);
      const k = i % 3 === 0 ? rsa : ec;
      return k.sign(data).then((sig) => verify("sha256", data, k.publicKey, sig));
    });
    const results = await Promise.all(jobs);
    expect(results.every(Boolean)).toBe(true);
  });
});

describe("bad input gets a clear typed error", () => {
  it("unknown token label", () => {
    const e = catchErr(() => HsmToken.open({ label: "no-such-token", pin: { value: "1234" } }));
    expect(e.kind).toBe("token-not-found");
    expect(e.message).toMatch(/no-such-token/);
  });

  it("wrong PIN, and the PIN never appears in the error", () => {
    const e = catchErr(() => HsmToken.open({ label: "officer-1", pin: { value: "9999-wrong" } }));
    expect(e.ckr).toBe("CKR_PIN_INCORRECT");
    expect(e.message).not.toMatch(/9999/);
    expect(JSON.stringify(e)).not.toMatch(/9999/);
  });

  it("a wrong PIN is refused even when the token is already logged in by this process", () => {
    const ok = HsmToken.open({ label: "officer-1", pin: { value: "1111-o1" } });
    const e = catchErr(() => HsmToken.open({ label: "officer-1", pin: { value: "0000-bad" } }));
    expect(e.ckr).toBe("CKR_PIN_INCORRECT");
    // the legitimate holder keeps working
    const k = ok.generateKeyPair({ label: "officer-key", spec: "P-256" });
    expect(ok.findKey("officer-key").id.equals(k.id)).toBe(true);
    ok.close();
  });

  it("PIN from a file and from an environment variable; missing sources are typed errors", () => {
    const pinFile = join(work, "pin");
    writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
    HsmToken.open({ label: "plantroot-ca", pin: { file: pinFile } }).close();
    process.env.TEST_CA_PIN = PIN;
    HsmToken.open({ label: "plantroot-ca", pin: { env: "TEST_CA_PIN" } }).close();
    expect(catchErr(() => HsmToken.open({ label: "plantroot-ca", pin: { env: "NOPE_PIN" } })).kind).toBe(
      "bad-pin-source",
    );
    expect(catchErr(() => HsmToken.open({ label: "plantroot-ca", pin: { file: join(work, "missing") } })).kind).toBe(
      "bad-pin-source",
    );
  });

  it("unknown key by label and by URI", () => {
    expect(catchErr(() => token.findKey("nope")).kind).toBe("key-not-found");
    expect(catchErr(() => token.findKey("pkcs11:token=plantroot-ca;object=nope")).kind).toBe("key-not-found");
    expect(catchErr(() => token.findKey("pkcs11:token=other;object=key-P-256")).kind).toBe("token-not-found");
    expect(catchErr(() => token.findKey("pkcs11:type=cert;object=key-P-256")).kind).toBe("bad-uri");
  });

  it("unsupported mechanism for the key", async () => {
    const rsa = keys.get("RSA-2048")!;
    await expect(rsa.sign(Buffer.from("x"), "ecdsa-sha256")).rejects.toMatchObject({ kind: "unsupported" });
    await expect(keys.get("P-256")!.sign(Buffer.from("x"), "ed25519")).rejects.toThrow(/cannot be used/);
  });

  it("the public key exported matches what openssl derives from the SPKI", () => {
    const key = keys.get("P-384")!;
    const pem = key.publicKey.export({ type: "spki", format: "pem" }) as string;
    expect(createPublicKey(pem).equals(key.publicKey)).toBe(true);
    expect(openssl(["pkey", "-pubin", "-noout", "-text"], pem)).toMatch(/NIST CURVE: P-384/);
  });
});

function catchErr(fn: () => unknown): HsmError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HsmError);
    return e as HsmError;
  }
  throw new Error("expected an HsmError");
}

describe("closing the last holder of a token", () => {
  it("ends the login: a later opener must present the PIN again and a wrong one is refused", () => {
    const sh = testSoftHsm();
    sh.createToken("closing-test", "2468-ct");
    const a = HsmToken.open({ label: "closing-test", pin: { value: "2468-ct" } });
    const b = HsmToken.open({ label: "closing-test", pin: { value: "2468-ct" } });
    a.generateKeyPair({ label: "k", spec: "P-256" });
    a.close();
    // b still holds the token: its session stays logged in
    expect(b.findKey("k").spec).toBe("P-256");
    b.close();
    // nobody holds it: the private key is invisible without a login, and a wrong PIN cannot open it
    expect(catchErr(() => HsmToken.open({ label: "closing-test", pin: { value: "0000-x" } })).ckr).toBe(
      "CKR_PIN_INCORRECT",
    );
    const c = HsmToken.open({ label: "closing-test", pin: { value: "2468-ct" } });
    expect(c.findKey("k").spec).toBe("P-256");
    c.close();
  });
});
