// Pure policy logic of appliance/ca: RFC 5280 name-constraint semantics (DNS suffixes, leading dot,
// CIDR v4/v6, excluded beats permitted), identifier syntax, CSR/identifier matching, validity window.
import { describe, expect, it } from "vitest";
import type { Identifier } from "../../appliance/ca/api.js";
import type { ParsedCsr } from "../../appliance/ca/csr.js";
import { bytesToIp, canonicalIp, ipToBytes, parseCidr } from "../../appliance/ca/ip.js";
import {
  checkConstraints,
  decodeNameConstraints,
  dnsInSubtree,
  encodeNameConstraints,
  parseConstraints,
} from "../../appliance/ca/name-constraints.js";
import { IssuancePolicy } from "../../appliance/ca/policy.js";

const dns = (value: string): Identifier => ({ type: "dns", value });
const ip = (value: string): Identifier => ({ type: "ip", value });

describe("DNS subtrees (RFC 5280 4.2.1.10)", () => {
  it('"plant.example" permits itself and names below it, not "badplant.example"', () => {
    expect(dnsInSubtree("plant.example", "plant.example")).toBe(true);
    expect(dnsInSubtree("x.plant.example", "plant.example")).toBe(true);
    expect(dnsInSubtree("a.b.plant.example", "plant.example")).toBe(true);
    expect(dnsInSubtree("badplant.example", "plant.example")).toBe(false);
    expect(dnsInSubtree("plant.example.evil", "plant.example")).toBe(false);
  });
  it('a leading "." means subdomains only', () => {
    expect(dnsInSubtree("plant.example", ".plant.example")).toBe(false);
    expect(dnsInSubtree("x.plant.example", ".plant.example")).toBe(true);
    expect(dnsInSubtree("xplant.example", ".plant.example")).toBe(false);
  });
});

describe("name constraints evaluation", () => {
  const c = parseConstraints({
    permittedDns: ["plant.example"],
    excludedDns: ["bad.plant.example"],
    permittedIp: ["10.20.0.0/16", "fd00:1::/32"],
    excludedIp: ["10.20.99.0/24", "fd00:1:99::/48"],
  });
  it("excluded beats permitted, for DNS and IP", () => {
    expect(checkConstraints(c, dns("ok.plant.example")).ok).toBe(true);
    expect(checkConstraints(c, dns("bad.plant.example")).ok).toBe(false);
    expect(checkConstraints(c, dns("x.bad.plant.example")).ok).toBe(false);
    expect(checkConstraints(c, ip("10.20.1.1")).ok).toBe(true);
    expect(checkConstraints(c, ip("10.20.99.1")).ok).toBe(false);
    expect(checkConstraints(c, ip("10.21.0.1")).ok).toBe(false);
    expect(checkConstraints(c, ip("fd00:1::5")).ok).toBe(true);
    expect(checkConstraints(c, ip("fd00:1:99::5")).ok).toBe(false);
    expect(checkConstraints(c, ip("fd00:2::5")).ok).toBe(false);
  });
  it("an IPv4 address is not inside an IPv6 range and vice versa", () => {
    const v6only = parseConstraints({ permittedDns: [], excludedDns: [], permittedIp: ["::/0"], excludedIp: [] });
    expect(checkConstraints(v6only, ip("10.0.0.1")).ok).toBe(false);
    expect(checkConstraints(v6only, ip("2001:db8::1")).ok).toBe(true);
  });
  it("no permitted subtree of a type: unconstrained by RFC 5280", () => {
    const dnsOnly = parseConstraints({
      permittedDns: ["plant.example"],
      excludedDns: [],
      permittedIp: [],
      excludedIp: [],
    });
    expect(checkConstraints(dnsOnly, ip("192.0.2.1")).ok).toBe(true);
  });
  it("encodes and decodes the extension value losslessly", () => {
    const spec = {
      permittedDns: ["plant.example", ".devices.example"],
      excludedDns: ["bad.plant.example"],
      permittedIp: ["10.20.0.0/16", "fd00:1::/32"],
      excludedIp: ["0.0.0.0/0"],
    };
    const back = decodeNameConstraints(encodeNameConstraints(spec));
    expect(back.permittedDns).toEqual(spec.permittedDns);
    expect(back.excludedDns).toEqual(spec.excludedDns);
    expect(back.permittedIp.map((r) => r.text)).toEqual(["10.20.0.0/16", "fd00:1::/32"]);
    expect(back.excludedIp.map((r) => r.text)).toEqual(["0.0.0.0/0"]);
  });
  it("CIDR parsing refuses host bits and junk", () => {
    expect(parseCidr("10.20.0.0/16").prefix).toBe(16);
    expect(() => parseCidr("10.20.0.1/16")).toThrow(/host bits/);
    expect(() => parseCidr("10.20.0.0/33")).toThrow(/longer than 32/);
    expect(() => parseCidr("example/8")).toThrow(/not a CIDR/);
    expect(parseCidr("::1").text).toBe("::1/128");
    expect(canonicalIp("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8::1");
    // RFC 5952 section 5: IPv4-mapped addresses keep the dotted tail; bytes round-trip to the same text
    expect(canonicalIp("::ffff:a00:1")).toBe("::ffff:10.0.0.1");
    for (const t of ["::ffff:10.0.0.1", "2001:db8::1", "fe80::1:2", "::", "10.1.2.3"])
      expect(bytesToIp(ipToBytes(t)!)).toBe(canonicalIp(t));
  });
});

describe("IssuancePolicy", () => {
  const policy = new IssuancePolicy({
    names: { permittedDns: ["plant.example"], excludedDns: [], permittedIp: ["10.0.0.0/8"], excludedIp: [] },
    backdateSeconds: 300,
    maxIdentifiers: 3,
  });
  it("refuses by syntax with a reason", () => {
    const r = (id: Identifier) => policy.checkIdentifier(id);
    expect(r(dns("a.plant.example"))).toEqual({ ok: true });
    expect(r(dns("*.plant.example"))).toMatchObject({ ok: false, reason: expect.stringMatching(/wildcard/) });
    expect(r(dns("a..plant.example"))).toMatchObject({ ok: false, reason: expect.stringMatching(/invalid label/) });
    expect(r(dns("-a.plant.example"))).toMatchObject({ ok: false });
    expect(r(dns("a_b.plant.example"))).toMatchObject({ ok: false });
    expect(r(dns("10.1.2.3"))).toMatchObject({ ok: false, reason: expect.stringMatching(/use an ip identifier/) });
    expect(r(dns("xn--abc.plant.example"))).toMatchObject({ ok: false, reason: expect.stringMatching(/IDNA/) });
    expect(r(dns("xn--mnchen-3ya.plant.example"))).toEqual({ ok: true });
    expect(r(ip("10.0.0.010"))).toMatchObject({ ok: false });
    expect(r(ip("224.0.0.1"))).toMatchObject({ ok: false, reason: expect.stringMatching(/multicast/) });
    expect(r({ type: "email", value: "x" } as unknown as Identifier)).toMatchObject({ ok: false });
  });
  it("a type without permitted subtrees is refused (deny by default)", () => {
    const p = new IssuancePolicy({
      names: { permittedDns: ["plant.example"], excludedDns: [], permittedIp: [], excludedIp: [] },
      backdateSeconds: 0,
      maxIdentifiers: 5,
    });
    expect(p.checkIdentifier(ip("10.0.0.1"))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/allows no IP/),
    });
  });
  it("also applies constraints read from the SubCA certificate", () => {
    const strict = new IssuancePolicy(
      {
        names: { permittedDns: ["example"], excludedDns: [], permittedIp: [], excludedIp: [] },
        backdateSeconds: 0,
        maxIdentifiers: 5,
      },
      [
        decodeNameConstraints(
          encodeNameConstraints({ permittedDns: ["plant.example"], excludedDns: [], permittedIp: [], excludedIp: [] }),
        ),
      ],
    );
    expect(strict.checkIdentifier(dns("a.plant.example")).ok).toBe(true);
    expect(strict.checkIdentifier(dns("other.example"))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/issuing CA certificate's name constraints/),
    });
  });
  it("too many identifiers", () => {
    expect(() =>
      policy.assertIdentifiers([
        dns("a.plant.example"),
        dns("b.plant.example"),
        dns("c.plant.example"),
        dns("d.plant.example"),
      ]),
    ).toThrow(/exceed this CA's maximum of 3/);
  });
  it("matches the CSR to the authorised identifiers; CN must be one of the SANs", () => {
    const csr = (sans: Identifier[], commonName?: string) =>
      ({ sans, ...(commonName ? { commonName } : {}) }) as unknown as ParsedCsr;
    expect(
      policy.matchCsr(csr([dns("a.plant.example"), ip("10.0.0.1")], "10.0.0.1"), [
        ip("10.0.0.1"),
        dns("a.plant.example"),
      ]),
    ).toEqual({
      // an IP CN is checked against the SANs but not carried into the subject
      sans: [ip("10.0.0.1"), dns("a.plant.example")],
    });
    expect(
      policy.matchCsr(csr([dns("a.plant.example"), ip("10.0.0.1")], "a.plant.example"), [
        ip("10.0.0.1"),
        dns("a.plant.example"),
      ]),
    ).toEqual({ sans: [ip("10.0.0.1"), dns("a.plant.example")], commonName: "a.plant.example" });
    expect(() => policy.matchCsr(csr([dns("a.plant.example")], "10.0.0.9"), [dns("a.plant.example")])).toThrow(
      /not one of its subjectAltNames/,
    );
    expect(() => policy.matchCsr(csr([dns("a.plant.example")], "A.plant.example"), [dns("a.plant.example")])).toThrow(
      /not one of its subjectAltNames/,
    );
    expect(() => policy.matchCsr(csr([]), [dns("a.plant.example")])).toThrow(/SAN is required/);
  });
  it("validity: backdated notBefore, inclusive end, profile maximum, issuer end", () => {
    const now = new Date("2026-06-01T12:00:00.500Z");
    const profile = { name: "p", validitySeconds: 86400, maxValiditySeconds: 10 * 86400 };
    const issuerEnd = new Date("2026-12-31T00:00:00Z");
    const v = policy.validity(now, profile, issuerEnd);
    expect(v.notBefore.toISOString()).toBe("2026-06-01T11:55:00.000Z");
    expect(v.notAfter.toISOString()).toBe("2026-06-02T11:54:59.000Z");
    expect(() => policy.validity(now, profile, issuerEnd, { notAfter: new Date("2026-06-20T00:00:00Z") })).toThrow(
      /exceeds profile "p" maximum/,
    );
    expect(() => policy.validity(now, profile, new Date("2026-06-01T20:00:00Z"))).toThrow(
      /after the issuing CA certificate/,
    );
    expect(() => policy.validity(now, profile, issuerEnd, { notBefore: new Date("2026-06-01T11:00:00Z") })).toThrow(
      /more than 300 s in the past/,
    );
  });
});
