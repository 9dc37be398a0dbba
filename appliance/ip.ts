// IP address text <-> bytes, shared by ca, validation and acme: strict dotted-quad and RFC 4291 parsing,
// RFC 5952 canonical text. Pure; each component wraps these in its own result shapes (Buffer, {family}).

/** Dotted-quad decimal, exactly four parts 0..255, no leading zeros ("010" is octal to some parsers). */
export function parseIpv4Bytes(text: string): Uint8Array | undefined {
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
  return bytes;
}

/**
 * RFC 4291 text forms: hex groups of 1-4 digits in either case, "::" for one or more zero groups,
 * an optional dotted IPv4 tail as the last 32 bits. No zone identifiers, no brackets.
 */
export function parseIpv6Bytes(text: string): Uint8Array | undefined {
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
        const v4 = parseIpv4Bytes(g);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
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
  return bytes;
}

/** IPv6 when the text has a colon, else IPv4: 4 or 16 bytes, undefined when it is not exactly one address. */
export function parseIpBytes(text: string): Uint8Array | undefined {
  return text.includes(":") ? parseIpv6Bytes(text) : parseIpv4Bytes(text);
}

/** ::ffff:0:0/96 (16 bytes). */
export function isV4MappedBytes(b: Uint8Array): boolean {
  if (b.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

export function formatIpv4Bytes(b: Uint8Array): string {
  return Array.from(b).join(".");
}

/**
 * RFC 5952 text of 16 bytes: lower-case hex, no leading zeros, the longest run (first on ties) of two
 * or more zero groups as "::", a dotted tail only for IPv4-mapped addresses (::ffff:a.b.c.d; §5).
 * The deprecated IPv4-compatible form (::a.b.c.d) is written in hex (::a00:1), unlike Node's formatter.
 */
export function formatIpv6Bytes(b: Uint8Array): string {
  if (b.length !== 16) throw new RangeError("an IPv6 address has 16 bytes");
  const mapped = isV4MappedBytes(b);
  const groups: number[] = [];
  for (let i = 0; i < (mapped ? 12 : 16); i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
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

/** Canonical text of a 4- or 16-byte address; RangeError for any other length. */
export function formatIpBytes(b: Uint8Array): string {
  if (b.length === 4) return formatIpv4Bytes(b);
  if (b.length !== 16) throw new RangeError("an IP address has 4 or 16 bytes");
  return formatIpv6Bytes(b);
}
