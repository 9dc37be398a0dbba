// appliance/acme/identifier.ts: dns and ip identifiers are parsed into one canonical form.
import fc from "fast-check";
import { isIPv6 } from "node:net";
import { describe, expect, it } from "vitest";
import {
  authorizationIdentifier,
  canonicalIp,
  formatIpAddress,
  normalizeIdentifiers,
  parseDnsName,
  parseIdentifier,
  parseIpAddress,
  sameIdentifiers,
} from "../../../appliance/acme/identifier.js";

describe("dns identifiers", () => {
  it("accepts and lower-cases valid names, including single labels and A-labels", () => {
    for (const [raw, want] of [
      ["localhost", "localhost"],
      ["PLC7.Line3.Plant.LOCAL", "plc7.line3.plant.local"],
      ["dev-1.localhost", "dev-1.localhost"],
      ["xn--mnchen-3ya.example", "xn--mnchen-3ya.example"],
      ["*.localhost", "*.localhost"],
      [`${"a".repeat(63)}.example`, `${"a".repeat(63)}.example`],
    ])
      expect(parseDnsName(raw!)).toMatchObject({ ok: true, name: want });
  });

  it("refuses what is not a canonical host name", () => {
    for (const bad of [
      "",
      "example.com.",
      "a..b",
      "-a.example",
      "a-.example",
      "a_b.example",
      "münchen.example",
      "*",
      "a.*.example",
      "*a.example",
      "**.example",
      "ab--cd.example",
      "xn--zz.example",
      `${"a".repeat(64)}.example`,
      `${"a.".repeat(127)}com`,
      "127.0.0.1",
      "host.123",
      "a b.example",
    ])
      expect(parseDnsName(bad).ok, bad).toBe(false);
  });

  it("authorises wildcards on the base name", () => {
    expect(authorizationIdentifier({ type: "dns", value: "*.localhost" })).toEqual({
      identifier: { type: "dns", value: "localhost" },
      wildcard: true,
    });
    expect(authorizationIdentifier({ type: "ip", value: "::1" }).wildcard).toBe(false);
  });
});

describe("ip identifiers", () => {
  it("canonicalises IPv4 and IPv6 (RFC 5952)", () => {
    for (const [raw, want] of [
      ["127.0.0.1", "127.0.0.1"],
      ["::1", "::1"],
      ["0:0:0:0:0:0:0:1", "::1"],
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["::ffff:127.0.0.1", "::ffff:127.0.0.1"],
      ["::", "::"],
      ["fe80:0:0:1:0:0:0:0", "fe80:0:0:1::"],
      ["fe80:0:0:0:1:0:0:0", "fe80::1:0:0:0"],
    ])
      expect(canonicalIp(raw!), raw).toBe(want);
  });

  it("refuses ambiguous or invalid literals", () => {
    for (const bad of [
      "127.0.0.01",
      "127.1",
      "256.0.0.1",
      "1.2.3.4.5",
      "::1%eth0",
      "1::2::3",
      "12345::",
      "g::1",
      "1:2:3:4:5:6:7:8:9",
    ])
      expect(canonicalIp(bad), bad).toBeUndefined();
  });

  it("round-trips every 16-byte address and agrees with node:net on validity", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const text = formatIpAddress(bytes);
        expect(isIPv6(text)).toBe(true);
        expect(Buffer.from(parseIpAddress(text)!)).toEqual(Buffer.from(bytes));
        expect(canonicalIp(text)).toBe(text);
      }),
    );
  });
});

describe("parseIdentifier and identifier sets", () => {
  it("parses both types and flags unsupported ones", () => {
    expect(parseIdentifier({ type: "dns", value: "A.localhost" })).toEqual({
      ok: true,
      identifier: { type: "dns", value: "a.localhost" },
      wildcard: false,
    });
    expect(parseIdentifier({ type: "ip", value: "::0001" })).toMatchObject({ identifier: { value: "::1" } });
    // older clients send IP addresses as dns identifiers: taken as the ip identifier
    expect(parseIdentifier({ type: "dns", value: "127.0.0.1" })).toMatchObject({
      identifier: { type: "ip", value: "127.0.0.1" },
    });
    expect(parseIdentifier({ type: "dns", value: "127.0.0.01" })).toMatchObject({ ok: false });
    expect(parseIdentifier({ type: "email", value: "a@b" })).toMatchObject({ ok: false, unsupportedType: true });
    expect(parseIdentifier({ type: "dns" })).toMatchObject({ ok: false });
    expect(parseIdentifier("x")).toMatchObject({ ok: false });
  });

  it("normalises and compares identifier sets", () => {
    const a = [
      { type: "dns" as const, value: "b.localhost" },
      { type: "ip" as const, value: "127.0.0.1" },
      { type: "dns" as const, value: "b.localhost" },
    ];
    expect(normalizeIdentifiers(a)).toEqual([
      { type: "dns", value: "b.localhost" },
      { type: "ip", value: "127.0.0.1" },
    ]);
    expect(sameIdentifiers(a, [...a].reverse())).toBe(true);
    expect(sameIdentifiers(a, [{ type: "dns", value: "b.localhost" }])).toBe(false);
    expect(sameIdentifiers([{ type: "dns", value: "127.0.0.1" }], [{ type: "ip", value: "127.0.0.1" }])).toBe(false);
  });
});
