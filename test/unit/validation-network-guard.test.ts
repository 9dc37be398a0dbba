// appliance/validation/network-guard.ts and ip.ts: strict parsing, the always-forbidden ranges,
// IPv4-mapped/NAT64 handling, self-refusal, and property tests against node:net's BlockList.
import { BlockList, isIPv4, isIPv6 } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatIp, parseCidr, parseIp, reverseName } from "../../appliance/validation/ip.js";
import { createNetworkGuard } from "../../appliance/validation/network-guard.js";

// Independent oracle of the ranges that must never be contacted (written out again on purpose).
const NEVER: [string, number, "ipv4" | "ipv6"][] = [
  ["0.0.0.0", 8, "ipv4"],
  ["169.254.0.0", 16, "ipv4"],
  ["224.0.0.0", 4, "ipv4"],
  ["240.0.0.0", 4, "ipv4"],
  ["::", 96, "ipv6"],
  ["100::", 64, "ipv6"],
  ["2001::", 32, "ipv6"],
  ["2002::", 16, "ipv6"],
  ["fe80::", 10, "ipv6"],
  ["fec0::", 10, "ipv6"],
  ["ff00::", 8, "ipv6"],
];
const neverList = new BlockList();
for (const [a, p, t] of NEVER) neverList.addSubnet(a, p, t);
// ::1 is inside ::/96 (IPv4-compatible) but is the IPv6 loopback, governed by the allow-list
const never = { check: (a: string, t: "ipv4" | "ipv6") => neverList.check(a, t) && formatIp(parseIp(a)!) !== "::1" };

const v4Cidr = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => {
  const c = parseCidr(`${a}/32`);
  if (!c.ok) throw new Error("unreachable");
  // mask to a valid network address
  const bytes = c.cidr.bytes.map((b, i) => b & ((0xff << (8 - Math.max(0, Math.min(8, p - 8 * i)))) & 0xff));
  return `${formatIp({ family: 4, bytes })}/${p}`;
});
const v6Cidr = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, p]) => {
  const ip = parseIp(a)!;
  const bytes = ip.bytes.map((b, i) => b & ((0xff << (8 - Math.max(0, Math.min(8, p - 8 * i)))) & 0xff));
  return `${formatIp({ family: 6, bytes })}/${p}`;
});

describe("ip parsing", () => {
  it("accepts every address fast-check generates and round-trips through the canonical form", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (a) => {
        const ip = parseIp(a);
        expect(ip).toBeDefined();
        const again = parseIp(formatIp(ip!));
        expect(again).toEqual(ip);
      }),
      { numRuns: 2000 },
    );
  });

  it("formats IPv6 like the WHATWG URL serializer (RFC 5952) except for IPv4-mapped", () => {
    fc.assert(
      fc.property(fc.ipV6(), (a) => {
        const ip = parseIp(a)!;
        fc.pre(!(ip.bytes.slice(0, 10).every((b) => b === 0) && ip.bytes[10] === 0xff && ip.bytes[11] === 0xff));
        expect(formatIp(ip)).toBe(new URL(`http://[${a}]/`).hostname.slice(1, -1));
      }),
      { numRuns: 2000 },
    );
    expect(formatIp(parseIp("::FFFF:10.0.0.1")!)).toBe("::ffff:10.0.0.1");
    expect(formatIp(parseIp("2001:db8:0:0:1:0:0:1")!)).toBe("2001:db8::1:0:0:1");
  });

  it("refuses anything that is not exactly one plain address", () => {
    for (const s of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.4",
      "0x7f.0.0.1",
      "127.1",
      "256.0.0.1",
      "1.2.3.4 ",
      "fe80::1%eth0",
      "[::1]",
      ":::1",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1.2.3.4::",
      "::1.2.3.4.5",
      "12345::",
      "localhost",
    ]) {
      expect(parseIp(s), s).toBeUndefined();
    }
  });

  it("agrees with node:net on extended IPv4 forms: only plain dotted decimal is an address", () => {
    fc.assert(
      fc.property(fc.ipV4Extended(), (a) => {
        expect(parseIp(a) !== undefined).toBe(isIPv4(a) && /^(0|[1-9]\d*)(\.(0|[1-9]\d*)){3}$/.test(a));
      }),
    );
    fc.assert(
      fc.property(fc.ipV6(), (a) => {
        expect(isIPv6(a)).toBe(true);
      }),
    );
  });

  it("parses CIDRs strictly and explains mistakes", () => {
    expect(parseCidr("10.0.0.0/8")).toMatchObject({ ok: true, cidr: { family: 4, prefix: 8 } });
    expect(parseCidr("fd00::/8")).toMatchObject({ ok: true, cidr: { family: 6, prefix: 8 } });
    expect(parseCidr("192.0.2.7")).toMatchObject({ ok: true, cidr: { prefix: 32 } });
    expect(parseCidr("10.1.2.3/16")).toEqual({
      ok: false,
      reason: "host bits set in 10.1.2.3/16; did you mean 10.1.0.0/16?",
    });
    expect(parseCidr("10.0.0.0/33")).toMatchObject({ ok: false, reason: expect.stringMatching(/0\.\.32/) });
    expect(parseCidr("10.0.0.0/08")).toMatchObject({ ok: false });
    expect(parseCidr("fe80::1%lo/64")).toMatchObject({ ok: false });
  });

  it("builds RFC 8738 reverse names", () => {
    expect(reverseName(parseIp("192.0.2.1")!)).toBe("1.2.0.192.in-addr.arpa");
    expect(reverseName(parseIp("2001:db8::567:89ab")!)).toBe(
      "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
    );
  });
});

describe("network guard", () => {
  const everything = createNetworkGuard({ allowedNetworks: ["0.0.0.0/0", "::/0"] });

  it("refuses link-local, multicast, unspecified, reserved and tunnelling ranges even when everything is allowed", () => {
    const cases: [string, string][] = [
      ["169.254.169.254", "linkLocal"],
      ["::ffff:169.254.169.254", "linkLocal"],
      ["64:ff9b::a9fe:a9fe", "linkLocal"],
      ["fe80::1", "linkLocal"],
      ["febf:ffff::1", "linkLocal"],
      ["224.0.0.1", "multicast"],
      ["239.255.255.250", "multicast"],
      ["ff02::1", "multicast"],
      ["0.0.0.0", "unspecified"],
      ["0.1.2.3", "unspecified"],
      ["::", "unspecified"],
      ["::ffff:0.0.0.0", "unspecified"],
      ["255.255.255.255", "reserved"],
      ["240.0.0.1", "reserved"],
      ["::10.0.0.1", "reserved"],
      ["2002:a00:1::1", "reserved"],
      ["2001:0:4136:e378::1", "reserved"],
      ["fec0::1", "reserved"],
      ["100::1", "reserved"],
      ["not-an-ip", "invalid"],
      ["fe80::1%eth0", "invalid"],
    ];
    for (const [a, refusal] of cases) {
      const v = everything.check(a, 80);
      expect(v, a).toMatchObject({ allowed: false, refusal });
      if (!v.allowed) expect(v.reason.length).toBeGreaterThan(10);
    }
    expect(everything.check("10.0.0.1", 80).allowed).toBe(true);
    expect(everything.check("2001:db8::1", 443).allowed).toBe(true);
    expect(everything.check("10.0.0.1", 0)).toMatchObject({ allowed: false, refusal: "invalid" });
    expect(everything.check("10.0.0.1", 70000)).toMatchObject({ allowed: false, refusal: "invalid" });
  });

  it("allows only the configured networks and says why not", () => {
    const g = createNetworkGuard({ allowedNetworks: ["10.20.0.0/16", "fd00:1::/64"] });
    expect(g.check("10.20.3.4", 80).allowed).toBe(true);
    expect(g.check("fd00:1::5", 80).allowed).toBe(true);
    expect(g.check("10.21.0.1", 80)).toEqual({
      allowed: false,
      address: "10.21.0.1",
      refusal: "notAllowed",
      reason: "10.21.0.1 is outside the networks allowed for validation",
    });
    expect(g.check("127.0.0.1", 80)).toMatchObject({ allowed: false, refusal: "notAllowed" });
    expect(g.check("::1", 80)).toMatchObject({ allowed: false, refusal: "notAllowed" });
    expect(g.check("198.18.0.1", 80)).toMatchObject({ allowed: false, refusal: "notAllowed" });
    expect(g.check("fd00:2::1", 80)).toMatchObject({ allowed: false, refusal: "notAllowed" });
  });

  it("judges IPv4-mapped IPv6 as the IPv4 address; IPv6 ranges never open IPv4", () => {
    const g = createNetworkGuard({ allowedNetworks: ["10.0.0.0/8", "::/0"] });
    expect(g.check("::ffff:10.1.2.3", 80).allowed).toBe(true);
    expect(g.check("::ffff:a01:203", 80).allowed).toBe(true);
    const v = g.check("::ffff:192.168.1.1", 80);
    expect(v).toMatchObject({ allowed: false, refusal: "notAllowed" });
    if (!v.allowed) expect(v.reason).toContain("IPv4-mapped 192.168.1.1");
    const mappedEntry = createNetworkGuard({ allowedNetworks: ["::ffff:10.0.0.0/104"] });
    expect(mappedEntry.check("10.9.9.9", 80).allowed).toBe(true);
    expect(mappedEntry.check("::ffff:10.9.9.9", 80).allowed).toBe(true);
    expect(mappedEntry.check("11.0.0.1", 80).allowed).toBe(false);
    expect(mappedEntry.allowedNetworks).toEqual(["10.0.0.0/8"]);
  });

  it("refuses the appliance itself: own addresses, host interface addresses, own listeners", () => {
    const g = createNetworkGuard({
      allowedNetworks: ["127.0.0.0/8", "::1/128", "10.0.0.0/8"],
      ownAddresses: ["10.0.0.5"],
      hostAddresses: ["10.0.0.6", "127.0.0.1"],
      ownListeners: [
        { address: "127.0.0.1", port: 8443 },
        { address: "0.0.0.0", port: 9100 },
      ],
    });
    expect(g.check("10.0.0.5", 80)).toMatchObject({ allowed: false, refusal: "self" });
    expect(g.check("::ffff:10.0.0.5", 80)).toMatchObject({ allowed: false, refusal: "self" });
    expect(g.check("10.0.0.6", 443)).toMatchObject({ allowed: false, refusal: "self" });
    expect(g.check("10.0.0.7", 443).allowed).toBe(true);
    // loopback is governed by the allow-list and the listener ports, not refused as a host address
    expect(g.check("127.0.0.1", 80).allowed).toBe(true);
    expect(g.check("127.0.0.1", 8443)).toMatchObject({ allowed: false, refusal: "self" });
    expect(g.check("127.0.0.2", 8443).allowed).toBe(true);
    // a wildcard listener is reachable on loopback and every host address
    expect(g.check("127.0.0.9", 9100)).toMatchObject({ allowed: false, refusal: "self" });
    expect(g.check("::1", 9100)).toMatchObject({ allowed: false, refusal: "self" });
    expect(g.check("10.0.0.6", 9100)).toMatchObject({ allowed: false, refusal: "self" });
    expect(g.check("10.0.0.7", 9100).allowed).toBe(true);
  });

  it("rejects a malformed allow-list at construction", () => {
    expect(() => createNetworkGuard({ allowedNetworks: ["10.1.2.3/8"] })).toThrow(/host bits/);
    expect(() => createNetworkGuard({ allowedNetworks: ["10.0.0.0/8"], ownAddresses: ["x"] })).toThrow(/ownAddresses/);
  });

  it("property: a v4 address is allowed exactly when the allow-list contains it and it is not in a forbidden range", () => {
    fc.assert(
      fc.property(
        fc.array(v4Cidr, { maxLength: 6 }),
        fc.ipV4(),
        fc.integer({ min: 1, max: 65535 }),
        (nets, a, port) => {
          const g = createNetworkGuard({ allowedNetworks: nets });
          const oracle = new BlockList();
          for (const n of nets) {
            const [addr, p] = n.split("/");
            oracle.addSubnet(addr!, Number(p), "ipv4");
          }
          const expected = oracle.check(a, "ipv4") && !never.check(a, "ipv4");
          expect(g.check(a, port).allowed).toBe(expected);
          // the IPv4-mapped form gets the same verdict
          expect(g.check(`::ffff:${a}`, port).allowed).toBe(expected);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("property: a v6 address is allowed exactly when the allow-list contains it and it is not in a forbidden range", () => {
    fc.assert(
      fc.property(fc.array(v6Cidr, { maxLength: 6 }), fc.ipV6(), (nets, a) => {
        const ip = parseIp(a)!;
        const mapped = ip.bytes.slice(0, 10).every((b) => b === 0) && ip.bytes[10] === 0xff && ip.bytes[11] === 0xff;
        const nat64 = a.toLowerCase().startsWith("64:ff9b:");
        fc.pre(!mapped && !nat64);
        const g = createNetworkGuard({ allowedNetworks: nets });
        const oracle = new BlockList();
        for (const n of nets) {
          const [addr, p] = n.split("/");
          if (Number(p) >= 96 && parseIp(addr!)!.bytes[10] === 0xff) continue; // mapped entries become v4
          oracle.addSubnet(addr!, Number(p), "ipv6");
        }
        fc.pre(nets.every((n) => !(Number(n.split("/")[1]) >= 96 && parseIp(n.split("/")[0]!)!.bytes[10] === 0xff)));
        const expected = oracle.check(a, "ipv6") && !never.check(a, "ipv6");
        expect(g.check(a, 443).allowed).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it("property: with everything allowed, every forbidden-range address is still refused", () => {
    const inRange = fc
      .constantFrom(...NEVER)
      .chain(([base, prefix, t]) =>
        (t === "ipv4" ? fc.ipV4() : fc.ipV6()).map((random) => {
          const b = parseIp(base)!.bytes;
          const r = parseIp(random)!.bytes;
          const out = b.map((x, i) => {
            const bits = Math.max(0, Math.min(8, prefix - 8 * i));
            const m = (0xff << (8 - bits)) & 0xff;
            return (x & m) | (r[i]! & ~m & 0xff);
          });
          return formatIp({ family: t === "ipv4" ? 4 : 6, bytes: out });
        }),
      )
      .filter((a) => a !== "::1");
    fc.assert(
      fc.property(inRange, (a) => {
        expect(everything.check(a, 80).allowed).toBe(false);
        if (!a.includes(":")) expect(everything.check(`::ffff:${a}`, 80).allowed).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });
});
