// The network guard: decides, before any packet is sent, whether validation may connect to an
// address and port. Pure: the allow-list, the appliance's own addresses and listeners are inputs.
import {
  type Cidr,
  type IpAddress,
  cidr,
  cidrContains,
  formatCidr,
  formatIp,
  parseCidr,
  parseIp,
  unmapV4,
} from "./ip.js";

export type GuardRefusal =
  | "invalid" // not an IP address we can reason about
  | "unspecified"
  | "linkLocal"
  | "multicast"
  | "reserved" // broadcast, class E, discard, deprecated or tunnelling prefixes that embed other addresses
  | "self" // the appliance itself
  | "notAllowed"; // outside the networks plant IT allowed

export type GuardVerdict =
  | { allowed: true; address: string }
  | { allowed: false; address: string; refusal: GuardRefusal; reason: string };

export interface Listener {
  /** listening address; 0.0.0.0 or :: means every address of this host */
  address: string;
  port: number;
}

export interface NetworkGuardOptions {
  /** CIDRs (or bare addresses) validation may connect to, IPv4 and IPv6 */
  allowedNetworks: readonly string[];
  /** addresses of the appliance: refused on every port */
  ownAddresses?: readonly string[];
  /** the appliance's own listeners (ACME, CRL/OCSP, metrics): refused on that port */
  ownListeners?: readonly Listener[];
  /** addresses assigned to this host's interfaces (used for wildcard listeners and self-refusal) */
  hostAddresses?: readonly string[];
}

export interface NetworkGuard {
  /** Verdict for connecting to address:port. Never throws. */
  check(address: string, port: number): GuardVerdict;
  /** Verdict for an address regardless of port (used to filter resolution results early). */
  checkAddress(address: string): GuardVerdict;
  readonly allowedNetworks: readonly string[];
}

interface Range {
  cidr: Cidr;
  refusal: GuardRefusal;
  what: string;
}

// Always refused, whatever the allow-list says (an allow-list of 0.0.0.0/0 does not open these).
const FORBIDDEN: readonly Range[] = [
  r("0.0.0.0/8", "unspecified", "'this network' / unspecified (RFC 1122)"),
  r("169.254.0.0/16", "linkLocal", "IPv4 link-local (RFC 3927)"),
  r("224.0.0.0/4", "multicast", "IPv4 multicast"),
  r("240.0.0.0/4", "reserved", "reserved / limited broadcast (RFC 1112, RFC 919)"),
  r("::/128", "unspecified", "IPv6 unspecified address"),
  r("::/96", "reserved", "deprecated IPv4-compatible IPv6 (RFC 4291 §2.5.5.1)"),
  r("100::/64", "reserved", "IPv6 discard prefix (RFC 6666)"),
  r("2001::/32", "reserved", "Teredo tunnelling prefix, embeds another address (RFC 4380)"),
  r("2002::/16", "reserved", "6to4 tunnelling prefix, embeds another address (RFC 3056)"),
  r("fe80::/10", "linkLocal", "IPv6 link-local"),
  r("fec0::/10", "reserved", "deprecated IPv6 site-local (RFC 3879)"),
  r("ff00::/8", "multicast", "IPv6 multicast"),
];
// NAT64 prefixes: the packet reaches the IPv4 address embedded in the last 32 bits.
const NAT64: readonly Cidr[] = [cidr("64:ff9b::/96"), cidr("64:ff9b:1::/48")];
const LOOPBACK: readonly Cidr[] = [cidr("127.0.0.0/8"), cidr("::1/128")];

function r(text: string, refusal: GuardRefusal, what: string): Range {
  return { cidr: cidr(text), refusal, what };
}

/**
 * Normalises an allow-list entry: IPv4-mapped IPv6 entries (::ffff:a.b.c.d/≥96) become IPv4 CIDRs,
 * because the guard always judges a mapped address as the IPv4 address it maps to.
 */
function normaliseAllowed(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(`allowedNetworks: ${parsed.reason}`);
  const c = parsed.cidr;
  if (c.family === 6 && c.prefix >= 96) {
    const ip = unmapV4({ family: 6, bytes: c.bytes });
    if (ip.family === 4) return { family: 4, bytes: ip.bytes, prefix: c.prefix - 96 };
  }
  return c;
}

export function createNetworkGuard(opts: NetworkGuardOptions): NetworkGuard {
  const allowed = opts.allowedNetworks.map(normaliseAllowed);
  const toIp = (label: string, a: string): IpAddress => {
    const ip = parseIp(a);
    if (!ip) throw new Error(`${label}: "${a}" is not an IP address`);
    return unmapV4(ip);
  };
  const own = (opts.ownAddresses ?? []).map((a) => toIp("ownAddresses", a));
  const host = (opts.hostAddresses ?? []).map((a) => toIp("hostAddresses", a));
  const listeners = (opts.ownListeners ?? []).map((l) => ({
    ip: toIp("ownListeners", l.address),
    port: l.port,
  }));

  const sameIp = (a: IpAddress, b: IpAddress) => a.family === b.family && a.bytes.every((x, i) => x === b.bytes[i]);
  const isLoopback = (ip: IpAddress) => LOOPBACK.some((c) => cidrContains(c, ip));
  const isUnspecified = (ip: IpAddress) => ip.bytes.every((x) => x === 0);

  function checkAddress(address: string): GuardVerdict {
    const parsed = parseIp(address);
    if (!parsed) {
      return { allowed: false, address, refusal: "invalid", reason: `"${address}" is not an IP address` };
    }
    const ip = unmapV4(parsed);
    const shown = parsed === ip ? formatIp(ip) : `${formatIp(parsed)} (IPv4-mapped ${formatIp(ip)})`;
    for (const f of FORBIDDEN) {
      // ::1 sits inside the deprecated IPv4-compatible block ::/96 but is the IPv6 loopback
      if (cidrContains(f.cidr, ip) && !cidrContains(LOOPBACK[1]!, ip)) {
        return { allowed: false, address, refusal: f.refusal, reason: `${shown} is ${f.what}; never contacted` };
      }
    }
    for (const n of NAT64) {
      if (cidrContains(n, ip)) {
        const inner = { family: 4 as const, bytes: ip.bytes.slice(12) };
        const f = FORBIDDEN.find((x) => cidrContains(x.cidr, inner));
        if (f) {
          return {
            allowed: false,
            address,
            refusal: f.refusal,
            reason: `${shown} is NAT64 for ${formatIp(inner)}, which is ${f.what}; never contacted`,
          };
        }
      }
    }
    if (own.some((o) => sameIp(o, ip)) || (!isLoopback(ip) && host.some((h) => sameIp(h, ip)))) {
      return { allowed: false, address, refusal: "self", reason: `${shown} is an address of this appliance` };
    }
    if (!allowed.some((c) => cidrContains(c, ip))) {
      return {
        allowed: false,
        address,
        refusal: "notAllowed",
        reason: `${shown} is outside the networks allowed for validation`,
      };
    }
    return { allowed: true, address };
  }

  function check(address: string, port: number): GuardVerdict {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return { allowed: false, address, refusal: "invalid", reason: `port ${port} is not a TCP port` };
    }
    const v = checkAddress(address);
    if (!v.allowed) return v;
    const ip = unmapV4(parseIp(address)!);
    for (const l of listeners) {
      if (l.port !== port) continue;
      const hit = isUnspecified(l.ip) ? isLoopback(ip) || host.some((h) => sameIp(h, ip)) : sameIp(l.ip, ip);
      if (hit) {
        return {
          allowed: false,
          address,
          refusal: "self",
          reason: `${formatIp(ip)} port ${port} is one of this appliance's own listeners`,
        };
      }
    }
    return v;
  }

  return {
    check,
    checkAddress,
    allowedNetworks: allowed.map(formatCidr),
  };
}
