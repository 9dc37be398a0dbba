// Hostile input against the ACME layer's parsers (pure): the flattened-JWS parser, protected-header
// checks and JWK import, the finalize CSR parser and identifier parsing. Every input gets an
// AcmeProblem of the right type (never another exception, never internals), and the ACME layer, the CA
// and the validation authority agree on what an identifier is.
import { generateKeyPairSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCsr as acmeParseCsr } from "../../appliance/acme/csr.js";
import {
  canonicalIp as acmeCanonicalIp,
  parseIdentifier as acmeParseIdentifier,
} from "../../appliance/acme/identifier.js";
import { importAccountJwk, parseFlattenedJws, parseProtectedHeader } from "../../appliance/acme/jws.js";
import { AcmeProblem } from "../../appliance/acme/problems.js";
import { parseCsr as caParseCsr } from "../../appliance/ca/csr.js";
import { canonicalIp as caCanonicalIp } from "../../appliance/ca/ip.js";
import { dnsSyntaxProblem } from "../../appliance/ca/policy.js";
import { parseIdentifier as vaParseIdentifier } from "../../appliance/validation/names.js";
import { buildCsr, p256 } from "../helpers/csr.js";
import { arbMutatedDer, INTERNALS, runs } from "../helpers/fuzz.js";

function expectProblem(e: unknown, types: string[]): void {
  if (!(e instanceof AcmeProblem)) throw new Error(`not an AcmeProblem: ${(e as Error)?.stack ?? String(e)}`);
  expect(types).toContain(e.type);
  expect(e.detail ?? "").not.toMatch(INTERNALS);
  expect((e.detail ?? "").length).toBeLessThan(600);
}

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
const arbJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, "", 0, true, [], {}, "A".repeat(3000), { __proto__: { alg: "ES256" } }, "constructor"),
);
const URL_ = "https://127.0.0.1/acme/new-order";
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });

describe("JWS parsing under hostile input", () => {
  it("flattened JWS bodies: random text, JSON of any shape, members of any type", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          arbJson.map((v) => JSON.stringify(v)),
          fc
            .record(
              { protected: arbJson, payload: arbJson, signature: arbJson, header: arbJson, signatures: arbJson },
              { requiredKeys: [] },
            )
            .map((o) => JSON.stringify(o)),
        ),
        (body) => {
          try {
            parseFlattenedJws(body);
          } catch (e) {
            expectProblem(e, ["malformed"]);
          }
        },
      ),
      { numRuns: runs(5000) },
    );
  });

  it("protected headers: every member of any type, unknown members, crit/b64", () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            alg: fc.oneof(
              fc.constantFrom("ES256", "ES384", "RS256", "PS256", "EdDSA", "none", "HS256", "es256"),
              arbJson,
            ),
            nonce: fc.oneof(fc.constant("nonce"), arbJson),
            url: fc.oneof(fc.constant(URL_), arbJson),
            jwk: fc.oneof(fc.constant(ec), arbJson),
            kid: fc.oneof(fc.constant("https://127.0.0.1/acme/acct/x"), arbJson),
            crit: arbJson,
            b64: arbJson,
            x5c: arbJson,
          },
          { requiredKeys: [] },
        ),
        fc.boolean(),
        (hdr, requireNonce) => {
          try {
            const h = parseProtectedHeader({ protected: b64(hdr), payload: "", signature: "AA" }, URL_, requireNonce);
            expect(typeof h.url).toBe("string");
            expect(Boolean(h.jwk) !== Boolean(h.kid)).toBe(true);
          } catch (e) {
            expectProblem(e, ["malformed", "badSignatureAlgorithm", "unauthorized", "badNonce"]);
          }
        },
      ),
      { numRuns: runs(5000) },
    );
  });

  it("account JWKs: any members of any type; private material never accepted", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.dictionary(fc.constantFrom("kty", "crv", "x", "y", "n", "e", "d", "k", "alg"), arbJson),
          fc.record({
            kty: fc.constantFrom("EC", "RSA", "OKP", "oct"),
            crv: fc.constantFrom("P-256", "P-384", "P-521", "Ed25519", "X25519", "secp256k1"),
            x: fc.uint8Array({ maxLength: 66 }).map((a) => Buffer.from(a).toString("base64url")),
            y: fc.uint8Array({ maxLength: 66 }).map((a) => Buffer.from(a).toString("base64url")),
            n: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a).toString("base64url")),
            e: fc.constantFrom("AQAB", "Aw", "AA", "", "AQABAQAB"),
          }),
          fc.constant({ ...ec, d: "AAAA" }),
        ),
        (jwk) => {
          try {
            const k = importAccountJwk(jwk as Record<string, unknown>);
            expect(k.thumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
            expect((jwk as Record<string, unknown>).d).toBeUndefined();
          } catch (e) {
            expectProblem(e, ["badPublicKey"]);
          }
        },
      ),
      { numRuns: runs(3000) },
    );
  });
});

const k = p256();
const ed = generateKeyPairSync("ed25519");
const CSRS = [
  buildCsr({
    privateKey: k.privateKey,
    spki: k.spki,
    sans: [{ type: "dns", value: "a.localhost" }],
    cn: "a.localhost",
  }),
  buildCsr({
    privateKey: k.privateKey,
    spki: k.spki,
    sans: [
      { type: "dns", value: "b.localhost" },
      { type: "ip", value: "127.0.0.1" },
      { type: "ip", value: "::1" },
    ],
  }),
  buildCsr({
    privateKey: ed.privateKey,
    spki: Buffer.from(ed.publicKey.export({ type: "spki", format: "der" })),
    sans: [{ type: "dns", value: "e.localhost" }],
    alg: "ed25519",
  }),
];

describe("finalize CSR parsing under hostile input", () => {
  it("random, mutated and structurally edited CSRs: badCSR or a parse, never another exception", () => {
    let parsed = 0;
    fc.assert(
      fc.property(arbMutatedDer(CSRS), fc.boolean(), (der, verify) => {
        try {
          const r = acmeParseCsr(der, { verifySignature: verify });
          parsed++;
          for (const id of r.identifiers) expect(["dns", "ip"]).toContain(id.type);
        } catch (e) {
          expectProblem(e, ["badCSR"]);
        }
      }),
      { numRuns: runs(6000) },
    );
    expect(parsed).toBeGreaterThan(0);
  });

  it("when the ACME layer and the CA both accept a CSR they read the same identifiers", () => {
    fc.assert(
      fc.property(arbMutatedDer(CSRS), (der) => {
        let a: ReturnType<typeof acmeParseCsr>;
        let c: ReturnType<typeof caParseCsr>;
        try {
          a = acmeParseCsr(der, { verifySignature: false });
          c = caParseCsr(der);
        } catch {
          return; // a refusal on either side is safe: the CA re-checks before it signs
        }
        const key = (ids: Array<{ type: string; value: string }>) =>
          ids
            .map((i) => `${i.type}:${i.value}`)
            .sort()
            .join(",");
        expect(key(a.identifiers)).toBe(key(c.sans));
      }),
      { numRuns: runs(6000) },
    );
  });
});

const hexGroup = fc.stringMatching(/^[0-9a-fA-F]{1,5}$/);
const nearIp = fc.oneof(
  fc.ipV4(),
  fc.ipV4Extended(),
  fc.ipV6(),
  fc.array(hexGroup, { minLength: 1, maxLength: 9 }).map((g) => g.join(":")),
  fc
    .tuple(fc.array(hexGroup, { maxLength: 4 }), fc.array(hexGroup, { maxLength: 4 }))
    .map(([a, b]) => `${a.join(":")}::${b.join(":")}`),
  fc
    .tuple(fc.ipV4(), fc.constantFrom("::", "::ffff:", "fd00:1::", "1:2:3:4:5:6:", "::FFFF:", "0::ffff:"))
    .map(([v4, p]) => p + v4),
  fc.stringMatching(/^[0-9a-fA-F:.%]{0,50}$/),
);
const label = fc.stringMatching(/^[a-zA-Z0-9-]{1,12}$/);
const nearDns = fc.oneof(
  fc.domain(),
  fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => `${l.join(".")}.plant.example`),
  fc.string({ maxLength: 60 }),
  fc.constantFrom(
    "xn--nxasmq6b.plant.example",
    "xn--zz.x",
    "ab--cd.x",
    "*.x.plant.example",
    "x.",
    "1.2.3.4",
    "0x7f.example",
  ),
);

describe("identifiers: ACME, CA and validation agree", () => {
  it("ACME's canonical IP text is the CA's", () => {
    fc.assert(
      fc.property(nearIp, (s) => {
        expect(acmeCanonicalIp(s)).toBe(caCanonicalIp(s));
      }),
      { numRuns: runs(20_000) },
    );
  });

  it("what ACME accepts, the CA's syntax rules and the validation authority accept under the same name", () => {
    fc.assert(
      fc.property(fc.constantFrom("dns", "ip"), fc.oneof(nearDns, nearIp), (type, value) => {
        const r = acmeParseIdentifier({ type, value });
        if (!r.ok) {
          expect(r.reason.length).toBeLessThan(600);
          return;
        }
        if (r.wildcard) return; // wildcards are refused by the CA's policy, separately
        if (r.identifier.type === "dns") expect(dnsSyntaxProblem(r.identifier.value)).toBeUndefined();
        else expect(caCanonicalIp(r.identifier.value)).toBe(r.identifier.value);
        const v = vaParseIdentifier(r.identifier);
        expect(v.ok).toBe(true);
        if (v.ok && v.target.kind === "ip") expect(v.target.text).toBe(r.identifier.value);
        if (v.ok && v.target.kind === "dns") expect(v.target.name).toBe(r.identifier.value);
      }),
      { numRuns: runs(20_000) },
    );
  });
});
