// Strict IP address and CIDR parsing and formatting for the validation authority (pure, no I/O).
// Owns the byte form the network guard compares and RFC 8738 reverse names; text <-> bytes is ../ip.ts.
import { formatIpv4Bytes, formatIpv6Bytes, isV4MappedBytes, parseIpv4Bytes, parseIpv6Bytes } from "../ip.js";

export interface IpAddress {
  family: 4 | 6;
  /** 4 bytes for IPv4, 16 for IPv6 */
  bytes: Uint8Array;
}

export interface Cidr {
  family: 4 | 6;
  /** network address (host bits zero) */
  bytes: Uint8Array;
  prefix: number;
}

/** Dotted-quad decimal, exactly four parts, no leading zeros, no octal/hex forms. */
export function parseIpv4(text: string): IpAddress | undefined {
  const bytes = parseIpv4Bytes(text);
  return bytes && { family: 4, bytes };
}

/** RFC 4291 text forms (with optional embedded IPv4 tail); no zone identifiers, no brackets. */
export function parseIpv6(text: string): IpAddress | undefined {
  const bytes = parseIpv6Bytes(text);
  return bytes && { family: 6, bytes };
}

/** Parses an IPv4 or IPv6 address in text form; undefined when it is not exactly one. */
export function parseIp(text: string): IpAddress | undefined {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

/** Canonical text: dotted quad, or RFC 5952 for IPv6 (IPv4-mapped shown as ::ffff:a.b.c.d). */
export function formatIp(ip: IpAddress): string {
  return ip.family === 4 ? formatIpv4Bytes(ip.bytes) : formatIpv6Bytes(ip.bytes);
}

/** ::ffff:0:0/96 */
export function isV4Mapped(ip: IpAddress): boolean {
  return ip.family === 6 && isV4MappedBytes(ip.bytes);
}

/** The IPv4 address inside an IPv4-mapped IPv6 address, else the address itself. */
export function unmapV4(ip: IpAddress): IpAddress {
  return isV4Mapped(ip) ? { family: 4, bytes: ip.bytes.slice(12) } : ip;
}

/**
 * "10.0.0.0/8", "fd00::/8", or a bare address (= /32 or /128). Host bits must be zero so a typo
 * such as 10.1.2.3/16 is refused instead of silently widened or narrowed.
 */
export function parseCidr(text: string): { ok: true; cidr: Cidr } | { ok: false; reason: string } {
  const slash = text.indexOf("/");
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addrText);
  if (!ip) return { ok: false, reason: `"${addrText}" is not an IPv4 or IPv6 address` };
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > max) {
      return { ok: false, reason: `prefix length "${p}" must be 0..${max}` };
    }
    prefix = Number(p);
  }
  const masked = maskBytes(ip.bytes, prefix);
  if (!bytesEqual(masked, ip.bytes)) {
    const fixed = formatIp({ family: ip.family, bytes: masked });
    return { ok: false, reason: `host bits set in ${text}; did you mean ${fixed}/${prefix}?` };
  }
  return { ok: true, cidr: { family: ip.family, bytes: masked, prefix } };
}

export function cidr(text: string): Cidr {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(r.reason);
  return r.cidr;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c)}/${c.prefix}`;
}

export function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] = bytes[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

export function cidrContains(c: Cidr, ip: IpAddress): boolean {
  if (c.family !== ip.family) return false;
  const full = c.prefix >> 3;
  for (let i = 0; i < full; i++) if (c.bytes[i] !== ip.bytes[i]) return false;
  const rest = c.prefix & 7;
  if (rest === 0) return true;
  const m = (0xff << (8 - rest)) & 0xff;
  return (c.bytes[full]! & m) === (ip.bytes[full]! & m);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** RFC 8738 §6 reverse-DNS name used as the TLS SNI for tls-alpn-01 on an IP identifier. */
export function reverseName(ip: IpAddress): string {
  if (ip.family === 4) return `${Array.from(ip.bytes).reverse().join(".")}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (let i = 15; i >= 0; i--) {
    nibbles.push((ip.bytes[i]! & 0x0f).toString(16), (ip.bytes[i]! >> 4).toString(16));
  }
  return `${nibbles.join(".")}.ip6.arpa`;
}
