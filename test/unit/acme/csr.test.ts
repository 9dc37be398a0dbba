// appliance/acme/csr.ts: the DER walk of finalize CSRs — identifiers, CN rule, signature, and refusal
// of malformed input — on CSRs made by openssl and by the appliance's own builder.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCsr } from "../../../appliance/acme/csr.js";
import { isAcmeProblem } from "../../../appliance/acme/problems.js";
import { buildCsr } from "../../../appliance/csr-builder.js";

const dir = mkdtempSync(join(tmpdir(), "csr-"));

function opensslCsr(keyArgs: string[], subj: string, san?: string): Buffer {
  const key = join(dir, `k${Math.random()}.pem`);
  const out = join(dir, `c${Math.random()}.der`);
  execFileSync("openssl", ["genpkey", ...keyArgs, "-out", key], { stdio: "pipe" });
  execFileSync(
    "openssl",
    [
      "req",
      "-new",
      "-key",
      key,
      "-subj",
      subj,
      "-outform",
      "DER",
      "-out",
      out,
      ...(san ? ["-addext", `subjectAltName=${san}`] : []),
    ],
    { stdio: "pipe" },
  );
  return readFileSync(out);
}

function problem(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isAcmeProblem(e)) return `${e.type}: ${e.detail}`;
    throw e;
  }
  return undefined;
}

describe("parseCsr", () => {
  it("reads identifiers from openssl CSRs with EC, RSA and Ed25519 keys", () => {
    const cases: Array<[string[], string]> = [
      [["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "ECDSA P-256"],
      [["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], "ECDSA P-384"],
      [["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "RSA"],
      [["-algorithm", "ED25519"], "Ed25519"],
    ];
    for (const [args, what] of cases) {
      const csr = opensslCsr(
        args,
        "/CN=plc7.localhost/O=Plant",
        "DNS:plc7.localhost,IP:127.0.0.1,IP:::1,DNS:b.localhost",
      );
      const p = parseCsr(csr);
      expect(p.identifiers, what).toEqual([
        { type: "dns", value: "plc7.localhost" },
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" },
        { type: "dns", value: "b.localhost" },
      ]);
      expect(p.publicKey).toBeDefined();
    }
  });

  it("reads CSRs of the appliance's builder, with and without CN", async () => {
    const k = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const ids = [
      { type: "dns" as const, value: "a.localhost" },
      { type: "ip" as const, value: "fd00::7" },
    ];
    expect(parseCsr(await buildCsr(ids, k)).identifiers).toEqual(ids);
    expect(parseCsr(await buildCsr(ids, k, { commonName: false }), { verifySignature: false }).identifiers).toEqual(
      ids,
    );
  });

  it("takes an IP literal written as a dNSName (Debian 12's lego) as that IP identifier", () => {
    const csr = parseCsr(opensslCsr(["-algorithm", "ED25519"], "/CN=127.0.0.1", "DNS:127.0.0.1,DNS:plc.localhost"));
    expect(csr.identifiers).toEqual([
      { type: "ip", value: "127.0.0.1" },
      { type: "dns", value: "plc.localhost" },
    ]);
  });

  it("refuses a CN that is not a SAN, a bad signature, other SAN types and garbage", async () => {
    expect(
      problem(() => parseCsr(opensslCsr(["-algorithm", "ED25519"], "/CN=other.localhost", "DNS:a.localhost"))),
    ).toMatch(/badCSR: .*common name/);
    expect(problem(() => parseCsr(opensslCsr(["-algorithm", "ED25519"], "/CN=a.localhost")))).toMatch(
      /badCSR: .*common name/,
    );
    expect(problem(() => parseCsr(opensslCsr(["-algorithm", "ED25519"], "/O=x")))).toMatch(/badCSR: .*no identifiers/);
    expect(problem(() => parseCsr(opensslCsr(["-algorithm", "ED25519"], "/O=x", "email:a@b.localhost")))).toMatch(
      /badCSR/,
    );
    expect(problem(() => parseCsr(opensslCsr(["-algorithm", "ED25519"], "/O=x", "DNS:A.localhost")))).toMatch(
      /invalid DNS name/,
    );
    const good = opensslCsr(
      ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
      "/CN=a.localhost",
      "DNS:a.localhost",
    );
    const bad = Buffer.from(good);
    bad[bad.length - 5] = bad[bad.length - 5]! ^ 0xff;
    expect(problem(() => parseCsr(bad))).toMatch(/badCSR: .*signature/);
    expect(problem(() => parseCsr(bad, { verifySignature: false }))).toBeUndefined();
    expect(problem(() => parseCsr(Buffer.concat([good, Buffer.from([0])])))).toMatch(/badCSR/);
    expect(problem(() => parseCsr(good.subarray(0, good.length - 3)))).toMatch(/badCSR/);
  });

  it("never throws anything but a badCSR problem on mutated input", () => {
    const good = opensslCsr(
      ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
      "/CN=a.localhost",
      "DNS:a.localhost,IP:10.0.0.1",
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
        const m = Buffer.from(good);
        m[i] = v;
        try {
          parseCsr(m);
        } catch (e) {
          expect(isAcmeProblem(e, "badCSR")).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });
});
