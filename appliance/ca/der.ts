// Minimal DER encoder and strict reader used to build and re-check tbsCertificate / tbsCertList /
// OCSP bytes directly (fast, deterministic). Pure; throws DerError on anything not strict DER.

export class DerError extends Error {
  override readonly name = "DerError";
}

// ---------- encoding ----------

export function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  if (n < 0x1000000) return Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.from([0x84, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

/** Tag-length-value with the given (single-byte) tag around the concatenated parts. */
export function tlv(tag: number, ...parts: Buffer[]): Buffer<ArrayBuffer> {
  return tlvOf(tag, parts);
}

/** tlv() for long part lists (no argument spreading: 100,000 CRL entries would overflow the stack). */
export function tlvOf(tag: number, parts: readonly Buffer[]): Buffer<ArrayBuffer> {
  let len = 0;
  for (const p of parts) len += p.length;
  const l = derLength(len);
  const out = Buffer.allocUnsafe(1 + l.length + len);
  out[0] = tag;
  l.copy(out, 1);
  let o = 1 + l.length;
  for (const p of parts) {
    p.copy(out, o);
    o += p.length;
  }
  return out;
}

export const seq = (...parts: Buffer[]): Buffer<ArrayBuffer> => tlv(0x30, ...parts);
export const seqOf = (parts: readonly Buffer[]): Buffer<ArrayBuffer> => tlvOf(0x30, parts);
export const set = (...parts: Buffer[]): Buffer => tlv(0x31, ...parts);
/** SET OF: DER requires the encodings sorted */
export const setOf = (parts: Buffer[]): Buffer => tlvOf(0x31, [...parts].sort(Buffer.compare));
export const octetString = (b: Buffer): Buffer => tlv(0x04, b);
export const bitString = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.from([unused]), b);
export const derNull = (): Buffer => Buffer.from([0x05, 0x00]);
export const bool = (v: boolean): Buffer => Buffer.from([0x01, 0x01, v ? 0xff : 0x00]);
export const utf8String = (s: string): Buffer => tlv(0x0c, Buffer.from(s, "utf8"));
export const printableString = (s: string): Buffer => {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s)) throw new DerError(`"${s}" is not a PrintableString`);
  return tlv(0x13, Buffer.from(s, "latin1"));
};
export const ia5String = (s: string): Buffer => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: IA5 is 7-bit ASCII including controls
  if (!/^[\x00-\x7f]*$/.test(s)) throw new DerError(`"${s}" is not an IA5String`);
  return tlv(0x16, Buffer.from(s, "latin1"));
};
/** context-specific tag [n]; constructed for EXPLICIT / constructed IMPLICIT, primitive otherwise */
export const ctx = (n: number, constructed: boolean, ...parts: Buffer[]): Buffer =>
  tlv(0x80 | (constructed ? 0x20 : 0) | n, ...parts);

/** INTEGER from unsigned big-endian magnitude bytes (adds a 0x00 when the top bit is set). */
export function uintFromBytes(mag: Buffer): Buffer {
  let i = 0;
  while (i < mag.length - 1 && mag[i] === 0) i++;
  let v = mag.subarray(i);
  if (v.length === 0) v = Buffer.from([0]);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(0x02, v);
}

export function int(n: number | bigint): Buffer {
  let v = BigInt(n);
  if (v < 0n) throw new DerError("negative INTEGER not supported");
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  return uintFromBytes(Buffer.from(bytes));
}

const oidCache = new Map<string, Buffer>();
export function oid(dotted: string): Buffer {
  const hit = oidCache.get(dotted);
  if (hit) return hit;
  const arcs = dotted.split(".").map((a) => {
    if (!/^\d+$/.test(a)) throw new DerError(`bad OID ${dotted}`);
    return BigInt(a);
  });
  if (arcs.length < 2) throw new DerError(`bad OID ${dotted}`);
  const body: number[] = [];
  const push = (v: bigint) => {
    const tmp = [Number(v & 0x7fn)];
    v >>= 7n;
    while (v > 0n) {
      tmp.unshift(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    body.push(...tmp);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  const out = tlv(0x06, Buffer.from(body));
  oidCache.set(dotted, out);
  return out;
}

export function oidToString(content: Buffer): string {
  if (content.length === 0) throw new DerError("empty OID");
  // X.690 8.19.2: every arc is complete (last byte has bit 8 clear) and minimal (no leading 0x80)
  if (content[content.length - 1]! & 0x80) throw new DerError("OID ends inside an arc");
  for (let i = 0; i < content.length; i++)
    if (content[i] === 0x80 && (i === 0 || !(content[i - 1]! & 0x80)))
      throw new DerError("OID arc is not minimally encoded");
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    if (v > 2 ** 45) return oidToStringBig(content); // arc beyond exact double range
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  const first = arcs[0]!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join(".");
}

function oidToStringBig(content: Buffer): string {
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    v = (v << 7n) | BigInt(b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0n;
    }
  }
  const first = arcs[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join(".");
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, Zulu. */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  if (!Number.isFinite(d.getTime())) throw new DerError("invalid date");
  const rest =
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds()) +
    "Z";
  if (y >= 1950 && y < 2050) return tlv(0x17, Buffer.from(pad2(y % 100) + rest, "latin1"));
  return generalizedTime(d);
}

export function generalizedTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new DerError("year out of range");
  const s =
    String(y).padStart(4, "0") +
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds()) +
    "Z";
  return tlv(0x18, Buffer.from(s, "latin1"));
}

// ---------- strict reading ----------

export interface Tlv {
  tag: number;
  /** offset of the tag byte */
  start: number;
  /** offset of the first content byte */
  contentStart: number;
  /** offset just past the value */
  end: number;
}

/** Reads one TLV at `pos` (single-byte tags, definite minimal lengths); bounds-checked against `limit`. */
export function readTlv(buf: Buffer, pos: number, limit = buf.length): Tlv {
  if (pos + 2 > limit) throw new DerError("truncated DER");
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  let p = pos + 1;
  let len = buf[p++]!;
  if (len & 0x80) {
    const k = len & 0x7f;
    if (k === 0) throw new DerError("indefinite length is not DER");
    if (k > 4) throw new DerError("length too large");
    if (p + k > limit) throw new DerError("truncated DER length");
    len = 0;
    for (let i = 0; i < k; i++) len = len * 256 + buf[p++]!;
    if (buf[pos + 2] === 0) throw new DerError("non-minimal DER length");
    if (len < 0x80) throw new DerError("non-minimal DER length");
  }
  const end = p + len;
  if (end > limit) throw new DerError("DER value runs past its container");
  return { tag, start: pos, contentStart: p, end };
}

/** The children of a constructed TLV. */
export function children(buf: Buffer, t: Tlv): Tlv[] {
  if (!(t.tag & 0x20)) throw new DerError(`tag 0x${t.tag.toString(16)} is not constructed`);
  const out: Tlv[] = [];
  let p = t.contentStart;
  while (p < t.end) {
    const c = readTlv(buf, p, t.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

/** Reads exactly one top-level TLV spanning the whole buffer. */
export function readWhole(buf: Buffer): Tlv {
  const t = readTlv(buf, 0);
  if (t.end !== buf.length) throw new DerError("trailing bytes after DER value");
  return t;
}

export const content = (buf: Buffer, t: Tlv): Buffer => buf.subarray(t.contentStart, t.end);
export const whole = (buf: Buffer, t: Tlv): Buffer => buf.subarray(t.start, t.end);

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag)
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got ${t ? `0x${t.tag.toString(16)}` : "nothing"}`);
  return t;
}

/**
 * Walks every constructed value recursively (universal SEQUENCE/SET and constructed context tags),
 * proving the whole encoding is well-formed DER framing. Primitive contents are not interpreted.
 */
export function checkFraming(buf: Buffer, t: Tlv = readWhole(buf), depth = 0): void {
  if (depth > 32) throw new DerError("DER nested too deeply");
  if (t.tag & 0x20) for (const c of children(buf, t)) checkFraming(buf, c, depth + 1);
}

/** Unsigned magnitude of a DER INTEGER's content; refuses negative and non-minimal encodings. */
export function readUint(buf: Buffer, t: Tlv): Buffer {
  expectTag(t, 0x02, "INTEGER");
  const c = content(buf, t);
  if (c.length === 0) throw new DerError("empty INTEGER");
  if (c[0]! & 0x80) throw new DerError("negative INTEGER");
  if (c.length > 1 && c[0] === 0 && !(c[1]! & 0x80)) throw new DerError("non-minimal INTEGER");
  return c[0] === 0 && c.length > 1 ? c.subarray(1) : c;
}

/** Parses UTCTime / GeneralizedTime in the strict RFC 5280 form (Zulu, whole seconds). */
export function readTime(buf: Buffer, t: Tlv): Date {
  const s = content(buf, t).toString("latin1");
  let m: RegExpExecArray | null;
  let year: number;
  if (t.tag === 0x17) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) throw new DerError("bad UTCTime");
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (t.tag === 0x18) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) throw new DerError("bad GeneralizedTime");
    year = Number(m[1]);
  } else throw new DerError("expected a time");
  const d = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  if (Number.isNaN(d.getTime()) || d.getUTCDate() !== Number(m[3])) throw new DerError("invalid date");
  return d;
}
