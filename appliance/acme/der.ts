// A minimal strict DER reader (definite lengths, bounds-checked) for the few structures the ACME
// layer reads on hot paths: the finalize CSR and subjectAltName. Throws RangeError on bad input.

export interface Tlv {
  tag: number;
  /** offset of the first byte of the TLV (the tag) */
  offset: number;
  /** content bounds */
  start: number;
  end: number;
}

export function readTlv(b: Uint8Array, off: number, limit = b.length): Tlv {
  if (off + 2 > limit) throw new RangeError("truncated DER");
  const tag = b[off]!;
  if ((tag & 0x1f) === 0x1f) throw new RangeError("high-tag-number form is not used here");
  let len = b[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || start + n > limit) throw new RangeError("bad DER length");
    if (b[start] === 0) throw new RangeError("non-minimal DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    if (len < 0x80) throw new RangeError("non-minimal DER length");
    start += n;
  }
  if (start + len > limit) throw new RangeError("truncated DER");
  return { tag, offset: off, start, end: start + len };
}

/** The TLVs inside a constructed element, in order. */
export function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let off = parent.start; off < parent.end; ) {
    const t = readTlv(b, off, parent.end);
    out.push(t);
    off = t.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new RangeError(`expected ${what}`);
  return t;
}

/** Hex of an OBJECT IDENTIFIER's content bytes (compare against constants, no decoding needed). */
export function oidHex(b: Uint8Array, t: Tlv): string {
  expectTag(t, 0x06, "OBJECT IDENTIFIER");
  return Buffer.from(b.buffer, b.byteOffset + t.start, t.end - t.start).toString("hex");
}

export function content(b: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(b.buffer, b.byteOffset + t.start, t.end - t.start);
}

export function whole(b: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(b.buffer, b.byteOffset + t.offset, t.end - t.offset);
}
