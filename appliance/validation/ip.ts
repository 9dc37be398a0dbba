// Strict IP address and CIDR parsing and formatting for the validation authority (pure, no I/O).
// Owns the byte form the network guard compares, RFC 5952 text, and RFC 8738 reverse names.

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
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    bytes[i] = n;
  }
  return { family: 4, bytes };
}

/** RFC 4291 text forms (with optional embedded IPv4 tail); no zone identifiers, no brackets. */
export function parseIpv6(text: string): IpAddress | undefined {
  if (text.length === 0 || text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const groups = s.split(":");
    const out: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes(".")) {
        const v4 = parseIpv4(g);
        if (!v4) return undefined;
        out.push((v4.bytes[0]! << 8) | v4.bytes[1]!, (v4.bytes[2]! << 8) | v4.bytes[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0]!);
  if (!head) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const tail = parseGroups(halves[1]!);
    if (!tail) return undefined;
    // an embedded IPv4 tail is only allowed at the very end
    if (halves[0]!.includes(".")) return undefined;
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return { family: 6, bytes };
}

/** Parses an IPv4 or IPv6 address in text form; undefined when it is not exactly one. */
export function parseIp(text: string): IpAddress | undefined {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

/** Canonical text: dotted quad, or RFC 5952 for IPv6 (IPv4-mapped shown as ::ffff:a.b.c.d). */
export function formatIp(ip: IpAddress): string {
  const b = ip.bytes;
  if (ip.family === 4) return Array.from(b).join(".");
  const mapped = isV4Mapped(ip);
  const groups: number[] = [];
  for (let i = 0; i < (mapped ? 12 : 16); i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // longest run of two or more zero groups, first one on ties (RFC 5952 §4.2)
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  let text: string;
  if (bestStart >= 0) {
    const left = hex.slice(0, bestStart).join(":");
    const right = hex.slice(bestStart + bestLen).join(":");
    text = `${left}::${right}`;
  } else {
    text = hex.join(":");
  }
  if (mapped) {
    const tail = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
    text = text.endsWith(":") ? text + tail : `${text}:${tail}`;
  }
  return text;
}

/** ::ffff:0:0/96 */
export function isV4Mapped(ip: IpAddress): boolean {
  if (ip.family !== 6) return false;
  for (let i = 0; i < 10; i++) if (ip.bytes[i] !== 0) return false;
  return ip.bytes[10] === 0xff && ip.bytes[11] === 0xff;
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
