// Hostile input against the CA's parsers (pure): the PKCS#10 CSR parser and the checks behind it,
// the OCSP request parser and responder. Thousands of random, mutated and structurally edited inputs:
// every one gets a typed refusal (ApplianceError badCSR/badKey, DerError, OCSP malformedRequest), never
// another exception, and nothing that was changed inside the signed part passes the signature check.
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { BasicOCSPResponse, OCSPResponse } from "@peculiar/asn1-ocsp";
import { AsnConvert } from "@peculiar/asn1-schema";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { algorithmIdentifier, verifySignature } from "../../appliance/ca/algorithms.js";
import type { Identifier } from "../../appliance/ca/api.js";
import { type ParsedCsr, parseCsr, verifyCsrSignature } from "../../appliance/ca/csr.js";
import {
  bitString,
  children,
  content,
  ctx,
  DerError,
  int,
  oid,
  oidToString,
  readWhole,
  seq,
  set,
  utf8String,
  whole,
} from "../../appliance/ca/der.js";
import { KeyPolicy } from "../../appliance/ca/goodkey.js";
import { OCSP_STATUS, OcspIssuerHashes, parseOcspRequest } from "../../appliance/ca/ocsp.js";
import { OcspResponder } from "../../appliance/ca/ocsp-responder.js";
import { IssuancePolicy } from "../../appliance/ca/policy.js";
import { ApplianceError } from "../../appliance/errors.js";
import { buildCsr, p256 } from "../helpers/csr.js";
import { certId as buildCertId, ocspRequest } from "../helpers/ocsp-request.js";
import {
  applyByteEdit,
  arbByteEdit,
  arbMutatedDer,
  type DerNode,
  decodeDer,
  encodeDer,
  INTERNALS,
  runs,
} from "../helpers/fuzz.js";

const ids = (...v: string[]): Identifier[] =>
  v.map((value) => ({ type: /^[\d.]+$|:/.test(value) ? "ip" : "dns", value }) as Identifier);

function spkiOf(k: KeyObject): Buffer {
  return Buffer.from(k.export({ type: "spki", format: "der" }));
}

// ---------- valid CSR samples ----------
const ec256 = p256();
const ec384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ed = generateKeyPairSync("ed25519");
const challengePassword = seq(oid("1.2.840.113549.1.9.7"), set(utf8String("secret")));

const CSRS: Array<{ der: Buffer; ids: Identifier[] }> = [
  { ids: ids("plc1.plant.example"), cn: "plc1.plant.example" },
  { ids: ids("a.plant.example", "b.plant.example", "10.20.1.2"), cn: "a.plant.example" },
  { ids: ids("10.20.3.4", "fd00:1::5") },
].map((s, i) => ({
  ids: s.ids,
  der: buildCsr({ privateKey: ec256.privateKey, spki: ec256.spki, sans: s.ids, ...(s.cn ? { cn: s.cn } : {}) }),
  i,
}));
CSRS.push(
  {
    ids: ids("gw.plant.example"),
    der: buildCsr({
      privateKey: ec384.privateKey,
      spki: spkiOf(ec384.publicKey),
      sans: ids("gw.plant.example"),
      alg: "ecdsa-sha384",
    }),
  },
  {
    ids: ids("rsa.plant.example"),
    der: buildCsr({
      privateKey: rsa.privateKey,
      spki: spkiOf(rsa.publicKey),
      sans: ids("rsa.plant.example"),
      cn: "rsa.plant.example",
      alg: "rsa-pkcs1-sha256",
    }),
  },
  {
    ids: ids("ed.plant.example"),
    der: buildCsr({
      privateKey: ed.privateKey,
      spki: spkiOf(ed.publicKey),
      sans: ids("ed.plant.example"),
      alg: "ed25519",
    }),
  },
);
// one with an extra attribute (challengePassword) the parser must skip, and no SAN
{
  const info = seq(int(0), seq(), ec256.spki, ctx(0, true, challengePassword));
  CSRS.push({
    ids: [],
    der: seq(info, algorithmIdentifier("ecdsa-sha256"), bitString(sign("sha256", info, ec256.privateKey))),
  });
}
const SAMPLE_INFOS = new Set(CSRS.map((c) => parseCsr(c.der).info.toString("hex")));

const keyPolicy = new KeyPolicy({
  allowRsa: true,
  minRsaBits: 2048,
  maxRsaBits: 4096,
  requireRsaExponent65537: true,
  allowP256: true,
  allowP384: true,
  allowEd25519: true,
  fermatRounds: 100,
});
const policy = new IssuancePolicy({
  names: {
    permittedDns: ["plant.example"],
    excludedDns: ["bad.plant.example"],
    permittedIp: ["10.20.0.0/16", "fd00:1::/32"],
    excludedIp: [],
  },
  backdateSeconds: 300,
  maxIdentifiers: 20,
});

function expectTyped(e: unknown, kinds: string[]): void {
  if (!(e instanceof ApplianceError)) throw new Error(`untyped error: ${(e as Error)?.stack ?? String(e)}`);
  expect(kinds).toContain(e.kind);
  expect(e.message).not.toMatch(INTERNALS);
  expect(e.message.length).toBeLessThan(1024);
}

/** The whole CSR path of the CA before the HSM: parse, key policy, self-signature, names. */
async function csrPipeline(der: Buffer): Promise<"accepted" | "refused"> {
  let csr: ParsedCsr;
  try {
    csr = parseCsr(der);
  } catch (e) {
    expectTyped(e, ["badCSR"]);
    return "refused";
  }
  expect(der.indexOf(csr.info)).toBeGreaterThanOrEqual(0);
  for (const s of csr.sans) {
    expect(["dns", "ip"]).toContain(s.type);
    expect(typeof s.value).toBe("string");
  }
  try {
    const key = keyPolicy.check(csr.spki);
    await verifyCsrSignature(csr, key);
  } catch (e) {
    expectTyped(e, ["badCSR", "badKey"]);
    return "refused";
  }
  // a signature that still verifies means the signed bytes are exactly a sample's
  expect(SAMPLE_INFOS.has(csr.info.toString("hex"))).toBe(true);
  try {
    policy.matchCsr(csr, csr.sans);
  } catch (e) {
    expectTyped(e, ["badCSR"]);
  }
  return "accepted";
}

describe("CSR parser under hostile input", () => {
  it("the samples themselves are accepted", async () => {
    for (const c of CSRS) expect(await csrPipeline(c.der)).toBe("accepted");
  });

  it("random, mutated and structurally edited CSRs: typed refusal or an unchanged signed part", async () => {
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(arbMutatedDer(CSRS.map((c) => c.der)), async (der) => {
        if ((await csrPipeline(der)) === "refused") refused++;
      }),
      { numRuns: runs(4000) },
    );
    expect(refused).toBeGreaterThan(runs(4000) * 0.8);
  });

  it("a single changed byte in the signed part never passes the self-signature check", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...CSRS), arbByteEdit, async (c, edit) => {
        const info = parseCsr(c.der).info;
        const start = c.der.indexOf(info);
        const mutated = applyByteEdit(c.der, { ...edit, at: start + (edit.at % info.length) } as typeof edit);
        if (mutated.equals(c.der)) return;
        const outcome = await csrPipeline(mutated);
        if (outcome === "accepted") {
          // only possible if the edit did not touch the signed bytes after all (e.g. a truncation past them)
          expect(parseCsr(mutated).info.equals(info)).toBe(true);
        }
      }),
      { numRuns: runs(1500) },
    );
  });

  it("random printable text and base64 (a client sending PEM or base64 instead of DER)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }).map((s) => Buffer.from(s)),
          fc.constantFrom(...CSRS).map((c) => Buffer.from(c.der.toString("base64"))),
          fc
            .constantFrom(...CSRS)
            .map((c) => Buffer.from(`-----BEGIN CERTIFICATE REQUEST-----\n${c.der.toString("base64")}\n`)),
        ),
        async (buf) => {
          expect(await csrPipeline(buf)).toBe("refused");
        },
      ),
      { numRuns: runs(1000) },
    );
  });

  it("deeply nested and huge-length DER is refused quickly without exhausting the stack", async () => {
    let nested = Buffer.from([0x05, 0x00]);
    for (let i = 0; i < 5000; i++) nested = Buffer.concat([Buffer.from([0x30]), lenOf2(nested.length), nested]);
    const t0 = process.hrtime.bigint();
    await csrPipeline(nested);
    await csrPipeline(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00]));
    await csrPipeline(Buffer.from([0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(Number(process.hrtime.bigint() - t0) / 1e6).toBeLessThan(2000); // a hang, not a speed check
  });
});

function lenOf2(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
}

// ---------- OCSP ----------
const issuerKey = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const issuerSubject = seq(set(seq(oid("2.5.4.3"), utf8String("Fuzz Issuing CA"))));
const issuer = new OcspIssuerHashes({
  subject: issuerSubject,
  spki: spkiOf(issuerKey.publicKey),
  signatureAlgorithm: "ecdsa-sha256",
});
const issuerRef = { subject: issuerSubject, spki: spkiOf(issuerKey.publicKey) };
const certId = (hash: "sha1" | "sha256", serial: Buffer, foreign = false) =>
  buildCertId(foreign ? { ...issuerRef, subject: Buffer.from("other") } : issuerRef, serial, hash);
const OCSP_SAMPLES = [
  ocspRequest([certId("sha1", Buffer.from("0102030405", "hex"))]),
  ocspRequest([certId("sha256", Buffer.from("7f00aa", "hex"))], { nonce: Buffer.alloc(16, 7) }),
  ocspRequest([certId("sha1", Buffer.from("11", "hex")), certId("sha256", Buffer.from("22", "hex"))], {
    version: true,
    requestor: true,
  }),
  ocspRequest([certId("sha1", Buffer.from("33", "hex"), true)]),
  ocspRequest([certId("sha256", Buffer.from("44", "hex"))], { signed: true, nonce: Buffer.from("n") }),
];

function statusOf(der: Buffer): number {
  const top = readWhole(der);
  expect(top.tag).toBe(0x30);
  expect(der[top.contentStart]).toBe(0x0a);
  return der[top.contentStart + 2]!;
}

function responder(onError: (e: unknown) => void): OcspResponder {
  return new OcspResponder({
    issuer,
    signer: { sign: async (data) => sign("sha256", data, issuerKey.privateKey) },
    publicKey: issuerKey.publicKey,
    lookup: async (serial) =>
      serial.endsWith("1")
        ? { status: "revoked", revokedAt: new Date(1_700_000_000_000), reason: 1 }
        : serial.length % 2
          ? { status: "unknown" }
          : { status: "good" },
    lifetimeSeconds: 3600,
    now: () => new Date(),
    onError,
  });
}

describe("OCSP request parser and responder under hostile input", () => {
  it("the samples parse", () => {
    for (const s of OCSP_SAMPLES) expect(parseOcspRequest(s).requests.length).toBeGreaterThan(0);
  });

  it("the parser throws only DerError, whatever it is given", () => {
    fc.assert(
      fc.property(arbMutatedDer(OCSP_SAMPLES), (der) => {
        try {
          const r = parseOcspRequest(der);
          expect(r.requests.length).toBeGreaterThan(0);
          expect(r.requests.length).toBeLessThanOrEqual(8);
          for (const q of r.requests) expect(der.indexOf(q.certId)).toBeGreaterThanOrEqual(0);
        } catch (e) {
          if (!(e instanceof DerError)) throw new Error(`not a DerError: ${(e as Error).stack}`);
        }
      }),
      { numRuns: runs(6000) },
    );
  });

  it("the responder answers every input with a well-formed OCSPResponse; internal errors never happen", async () => {
    const errors: unknown[] = [];
    const r = responder((e) => errors.push(e));
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(arbMutatedDer(OCSP_SAMPLES), async (der) => {
        const answer = await r.respond(der);
        const status = statusOf(answer.der);
        seen.add(status);
        expect([OCSP_STATUS.successful, OCSP_STATUS.malformedRequest, OCSP_STATUS.unauthorized]).toContain(status);
        if (status !== OCSP_STATUS.successful) expect(answer.maxAge).toBe(0);
      }),
      { numRuns: runs(3000) },
    );
    expect(errors).toEqual([]);
    expect(seen).toContain(OCSP_STATUS.successful);
    expect(seen).toContain(OCSP_STATUS.malformedRequest);
  });

  it("a successful answer to a mutated request is signed and verifies", async () => {
    const r = responder(() => undefined);
    await fc.assert(
      fc.asyncProperty(arbMutatedDer(OCSP_SAMPLES), async (der) => {
        const answer = await r.respond(der);
        if (statusOf(answer.der) !== 0) return;
        // a standard ASN.1 library parses it, and the signature covers the exact tbsResponseData bytes
        const resp = AsnConvert.parse(answer.der, OCSPResponse);
        const basicDer = Buffer.from(resp.responseBytes!.response.buffer);
        AsnConvert.parse(basicDer, BasicOCSPResponse);
        const [dataT, , sigT] = children(basicDer, readWhole(basicDer));
        const dataDer = whole(basicDer, dataT!);
        const sig = content(basicDer, sigT!).subarray(1);
        expect(verifySignature("ecdsa-sha256", issuerKey.publicKey, dataDer, sig)).toBe(true);
      }),
      { numRuns: runs(500) },
    );
  });
});

describe("DER reader strictness", () => {
  it("object identifiers with a dangling or non-minimal arc are refused", () => {
    const sha1 = Buffer.from("2b0e03021a", "hex"); // 1.3.14.3.2.26
    const req = ocspRequest([certId("sha1", Buffer.from("05", "hex"))]);
    expect(parseOcspRequest(req).requests[0]!.hash).toBe("sha1");
    const withOid = (content: Buffer) => {
      const swap = (n: DerNode): DerNode =>
        "children" in n
          ? { tag: n.tag, children: n.children.map(swap) }
          : n.tag === 0x06 && n.content.equals(sha1)
            ? { tag: 0x06, content }
            : n;
      return encodeDer(swap(decodeDer(req)));
    };
    for (const bad of ["2b0e03021a80", "2b0e0380021a", "2b0e038082"]) {
      expect(() => parseOcspRequest(withOid(Buffer.from(bad, "hex")))).toThrow(DerError);
      expect(() => oidToString(Buffer.from(bad, "hex"))).toThrow(DerError);
    }
    expect(() => oidToString(Buffer.alloc(20, 0x80))).toThrow(DerError);
    expect(oidToString(Buffer.from("2a864886f70d01010b", "hex"))).toBe("1.2.840.113549.1.1.11");
    expect(oidToString(Buffer.from("883703", "hex"))).toBe("2.999.3");
  });
});
