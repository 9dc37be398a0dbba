// Hostile identifiers (RFC 8555 dns, RFC 8738 ip) against the CA's issuance policy and the validation
// authority's parser: every input gets a verdict (never an exception), what the CA accepts is
// canonical and inside policy, and the two components agree on what an address or a name is.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Identifier } from "../../appliance/ca/api.js";
import { bytesToIp, canonicalIp, ipToBytes } from "../../appliance/ca/ip.js";
import { dnsInSubtree } from "../../appliance/ca/name-constraints.js";
import { dnsSyntaxProblem, IssuancePolicy, ipSyntaxProblem } from "../../appliance/ca/policy.js";
import { ApplianceError } from "../../appliance/errors.js";
import { formatIp, parseIp } from "../../appliance/validation/ip.js";
import { parseIdentifier } from "../../appliance/validation/names.js";
import { INTERNALS, runs } from "../helpers/fuzz.js";

const PERMITTED_DNS = ["plant.example", "localhost", ".zone-b.example"];
const EXCLUDED_DNS = ["bad.plant.example"];
const policy = new IssuancePolicy({
  names: {
    permittedDns: PERMITTED_DNS,
    excludedDns: EXCLUDED_DNS,
    permittedIp: ["10.20.0.0/16", "127.0.0.0/8", "::1/128", "fd00:1::/32", "::ffff:10.30.0.0/112"],
    excludedIp: ["10.20.99.0/24"],
  },
  backdateSeconds: 300,
  maxIdentifiers: 20,
});

// ---------- generators ----------
const label = fc.stringMatching(/^[a-zA-Z0-9-]{1,12}$/);
const nearDns = fc.oneof(
  fc.domain(),
  fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => `${ls.join(".")}.plant.example`),
  fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => `${ls.join(".")}.zone-b.example`),
  fc.constantFrom(
    "plant.example",
    "zone-b.example",
    "x.bad.plant.example",
    "localhost",
    "a.localhost",
    "*.plant.example",
    "PLC.plant.example",
    "plc.plant.example.",
    "xn--nxasmq6b.plant.example",
    "xn--zz.plant.example",
    "ab--cd.plant.example",
    "-a.plant.example",
    "a-.plant.example",
    "1.2.3.4",
    "a..plant.example",
    "",
    ".",
    "plant.example\u0000",
    "pl\u0430nt.example",
    "plant。example",
  ),
  fc.string({ maxLength: 40, unit: "grapheme" }).map((s) => `${s}.plant.example`),
  fc.string({ maxLength: 300 }),
  fc.nat(300).map((n) => `${"a".repeat(n)}.plant.example`),
);
const hexGroup = fc.stringMatching(/^[0-9a-fA-F]{1,5}$/);
const nearIp = fc.oneof(
  fc.ipV4(),
  fc.ipV4Extended(),
  fc.ipV6(),
  fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `10.20.${a}.${b}`),
  fc.array(hexGroup, { minLength: 1, maxLength: 9 }).map((g) => g.join(":")),
  fc
    .tuple(fc.array(hexGroup, { maxLength: 4 }), fc.array(hexGroup, { maxLength: 4 }))
    .map(([a, b]) => `${a.join(":")}::${b.join(":")}`),
  fc.tuple(fc.ipV4(), fc.constantFrom("::", "::ffff:", "fd00:1::", "1:2:3:4:5:6:")).map(([v4, p]) => p + v4),
  fc.constantFrom(
    "::1",
    "::",
    "0.0.0.0",
    "224.0.0.1",
    "ff02::1",
    "fe80::1%eth0",
    "[::1]",
    "127.1",
    "0x7f.0.0.1",
    "010.20.0.1",
  ),
  fc.stringMatching(/^[0-9a-fA-F:.%[\]]{0,50}$/),
);
const anyValue = fc.oneof(
  { weight: 1, arbitrary: fc.anything() },
  { weight: 4, arbitrary: nearDns },
  { weight: 4, arbitrary: nearIp },
);
const anyIdentifier = fc.oneof(
  { weight: 8, arbitrary: fc.record({ type: fc.constantFrom("dns", "ip"), value: anyValue }) },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.oneof(fc.string(), fc.constantFrom("DNS", "email", "__proto__")),
      value: anyValue,
    }),
  },
  { weight: 1, arbitrary: fc.anything() },
) as fc.Arbitrary<Identifier>;

describe("identifier policy under hostile input", () => {
  it("checkIdentifiers gives every input a verdict; accepted ones are canonical and inside policy", () => {
    let accepted = 0;
    fc.assert(
      fc.property(anyIdentifier, (id) => {
        let verdicts: ReturnType<IssuancePolicy["checkIdentifiers"]>;
        try {
          verdicts = policy.checkIdentifiers([id]);
        } catch (e) {
          // only a non-object "identifier" may fail to be read at all; never with internals leaking
          if (id !== null && typeof id === "object") throw e;
          return;
        }
        const v = verdicts[0]!;
        if (!v.ok) {
          expect(typeof v.reason).toBe("string");
          expect(v.reason!.length).toBeLessThan(600);
          return;
        }
        accepted++;
        const value = id.value;
        expect(typeof value).toBe("string");
        if (id.type === "dns") {
          expect(dnsSyntaxProblem(value)).toBeUndefined();
          expect(value).toBe(value.toLowerCase());
          expect(value.length).toBeLessThanOrEqual(253);
          expect(/^[a-z0-9.-]+$/.test(value)).toBe(true);
          expect(PERMITTED_DNS.some((b) => dnsInSubtree(value, b))).toBe(true);
          expect(EXCLUDED_DNS.some((b) => dnsInSubtree(value, b))).toBe(false);
        } else {
          expect(id.type).toBe("ip");
          expect(canonicalIp(value)).toBe(value);
          expect(ipSyntaxProblem(value)).toBeUndefined();
        }
      }),
      { numRuns: runs(10_000) },
    );
    expect(accepted).toBeGreaterThan(50);
  });

  it("assertIdentifiers refuses with a typed error only, and bounded messages", () => {
    fc.assert(
      fc.property(fc.array(anyIdentifier, { maxLength: 25 }), (ids) => {
        try {
          policy.assertIdentifiers(ids.filter((i) => i !== null && typeof i === "object"));
        } catch (e) {
          if (!(e instanceof ApplianceError)) throw e;
          expect(["rejectedIdentifier", "policyViolation"]).toContain(e.kind);
          expect(e.message).not.toMatch(INTERNALS);
          expect(e.message.length).toBeLessThan(1024);
        }
      }),
      { numRuns: runs(3000) },
    );
  });

  it("the validation authority can validate every identifier the CA accepts, under the same name", () => {
    fc.assert(
      fc.property(anyIdentifier, (id) => {
        if (id === null || typeof id !== "object" || !policy.checkIdentifier(id).ok) return;
        const parsed = parseIdentifier(id);
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) return;
        if (parsed.target.kind === "dns") {
          expect(parsed.target.name).toBe(id.value);
          expect(parsed.target.wildcard).toBe(false);
        } else expect(parsed.target.text).toBe(id.value);
      }),
      { numRuns: runs(10_000) },
    );
  });
});

describe("IP text forms: the CA and the validation authority agree", () => {
  it("same addresses accepted, same bytes, same RFC 5952 text", () => {
    fc.assert(
      fc.property(nearIp, (s) => {
        const a = ipToBytes(s);
        const v = parseIp(s);
        expect(a === undefined).toBe(v === undefined);
        if (!a || !v) return;
        expect(Buffer.from(v.bytes).equals(a)).toBe(true);
        expect(canonicalIp(s)).toBe(formatIp(v));
        // canonical text is a fixed point and round-trips through bytes (the CSR SAN path)
        expect(canonicalIp(canonicalIp(s)!)).toBe(canonicalIp(s));
        expect(bytesToIp(a)).toBe(canonicalIp(s));
      }),
      { numRuns: runs(20_000) },
    );
  });

  it("IPv4-compatible and IPv4-mapped IPv6 addresses are written as RFC 5952 says", () => {
    expect(canonicalIp("::10.0.0.1")).toBe("::a00:1");
    expect(canonicalIp("::a00:1")).toBe("::a00:1");
    expect(canonicalIp("::ffff:10.0.0.1")).toBe("::ffff:10.0.0.1");
    expect(canonicalIp("::ffff:a00:1")).toBe("::ffff:10.0.0.1");
    expect(canonicalIp("0:0:0:0:0:0:0:1")).toBe("::1");
    expect(canonicalIp("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(canonicalIp("2001:0db8::0001")).toBe("2001:db8::1");
    expect(ipSyntaxProblem("::10.0.0.1")).toMatch(/not in canonical form \(::a00:1\)/);
  });
});
