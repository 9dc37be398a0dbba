// IP addresses and CIDR ranges as bytes: parsing canonical text (RFC 5952 for v6), containment,
// and the address+mask form X.509 name constraints use. Pure.
import { isIPv4, isIPv6 } from "node:net";

export interface IpRange {
  /** network address bytes (4 or 16), host bits cleared */
  address: Buffer;
  /** mask bytes of the same length */
  mask: Buffer;
  prefix: number;
  text: string;
}

export function ipToBytes(text: string): Buffer | undefined {
  if (isIPv4(text)) return Buffer.from(text.split(".").map(Number));
  if (!isIPv6(text) || text.includes("%")) return undefined;
  // expand "::" and any embedded IPv4 tail
  let t = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4) {
    const b = v4[1]!.split(".").map(Number);
    t = t.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = t.split("::") as [string, string | undefined];
  const h = head ? head.split(":") : [];
  const tl = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - tl.length).fill("0"), ...tl];
  if (groups.length !== 8) return undefined;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}

/** Canonical text: dotted quad for v4, RFC 5952 for v6. */
export function canonicalIp(text: string): string | undefined {
  const b = ipToBytes(text);
  return b ? bytesToIp(b) : undefined;
}

/**
 * RFC 5952 text: lower-case hex, no leading zeros, the longest run (first on ties) of two or more
 * zero groups as "::", dotted tail only for IPv4-mapped addresses (::ffff:a.b.c.d; §5). Node's own
 * formatter also writes the deprecated IPv4-compatible form (::a.b.c.d), which the validation
 * authority and ACME clients do not, so the CA formats addresses itself.
 */
export function bytesToIp(b: Buffer): string {
  if (b.length === 4) return [...b].join(".");
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  const groups: number[] = [];
  for (let i = 0; i < (mapped ? 12 : 16); i += 2) groups.push(b.readUInt16BE(i));
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
  let text =
    bestStart >= 0
      ? `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`
      : hex.join(":");
  if (mapped) text += `${text.endsWith(":") ? "" : ":"}${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  return text;
}

/** Parses "a.b.c.d/n" or "v6/n"; a bare address is a /32 or /128. Refuses host bits set. */
export function parseCidr(text: string): IpRange {
  const [addr, len, extra] = text.split("/");
  if (extra !== undefined || !addr) throw new Error(`"${text}" is not a CIDR range`);
  const bytes = ipToBytes(addr);
  if (!bytes) throw new Error(`"${text}" is not a CIDR range`);
  const max = bytes.length * 8;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) throw new Error(`"${text}" has a bad prefix length`);
  const prefix = len === undefined ? max : Number(len);
  if (prefix > max) throw new Error(`"${text}" has a prefix longer than ${max}`);
  const mask = Buffer.alloc(bytes.length);
  for (let i = 0; i < prefix; i++) mask[i >> 3]! |= 0x80 >> (i & 7);
  for (let i = 0; i < bytes.length; i++)
    if ((bytes[i]! & ~mask[i]!) !== 0) throw new Error(`"${text}" has host bits set (network address expected)`);
  return { address: bytes, mask, prefix, text: `${bytesToIp(bytes)}/${prefix}` };
}

export function rangeContains(r: IpRange, ip: Buffer): boolean {
  if (ip.length !== r.address.length) return false;
  for (let i = 0; i < ip.length; i++) if ((ip[i]! & r.mask[i]!) !== r.address[i]) return false;
  return true;
}

/** X.509 iPAddress name-constraint form: address bytes followed by mask bytes (8 or 32 octets). */
export function rangeToConstraintBytes(r: IpRange): Buffer {
  return Buffer.concat([r.address, r.mask]);
}
