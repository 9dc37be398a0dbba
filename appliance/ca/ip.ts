// IP addresses and CIDR ranges as bytes: parsing canonical text (RFC 5952 for v6), containment,
// and the address+mask form X.509 name constraints use. Pure.
import { formatIpv4Bytes, formatIpv6Bytes, parseIpBytes } from "../ip.js";

export interface IpRange {
  /** network address bytes (4 or 16), host bits cleared */
  address: Buffer;
  /** mask bytes of the same length */
  mask: Buffer;
  prefix: number;
  text: string;
}

/** 4 or 16 bytes of a dotted-quad or RFC 4291 address (no zone id); undefined when it is not one. */
export function ipToBytes(text: string): Buffer | undefined {
  const b = parseIpBytes(text);
  return b ? Buffer.from(b.buffer, b.byteOffset, b.length) : undefined;
}

/** Canonical text: dotted quad for v4, RFC 5952 for v6. */
export function canonicalIp(text: string): string | undefined {
  const b = ipToBytes(text);
  return b ? bytesToIp(b) : undefined;
}

/**
 * RFC 5952 text (../ip.ts): lower-case hex, no leading zeros, dotted tail only for IPv4-mapped
 * addresses. Node's own formatter also writes the deprecated IPv4-compatible form (::a.b.c.d), which
 * the validation authority and ACME clients do not, so the CA does not use it.
 */
export function bytesToIp(b: Buffer): string {
  return b.length === 4 ? formatIpv4Bytes(b) : formatIpv6Bytes(b);
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
