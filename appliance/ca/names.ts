// X.501 distinguished names as data (one attribute per RDN, in order) and their DER encoding;
// also a reader that turns a DER Name back into that form (for display and checks). Pure.
import {
  children,
  content,
  DerError,
  ia5String,
  oid,
  oidToString,
  printableString,
  readTlv,
  seq,
  set,
  utf8String,
} from "./der.js";

export type NameAttributeType = "C" | "ST" | "L" | "O" | "OU" | "CN" | "serialNumber" | "DC";

export interface NameAttribute {
  type: NameAttributeType;
  value: string;
}

/** One attribute per RDN, most significant first (e.g. C, O, CN). */
export type DistinguishedName = NameAttribute[];

const ATTR_OID: Record<NameAttributeType, string> = {
  C: "2.5.4.6",
  ST: "2.5.4.8",
  L: "2.5.4.7",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  CN: "2.5.4.3",
  serialNumber: "2.5.4.5",
  DC: "0.9.2342.19200300.100.1.25",
};
const OID_ATTR = new Map(Object.entries(ATTR_OID).map(([k, v]) => [v, k as NameAttributeType]));

function attrValue(a: NameAttribute): Buffer {
  if (a.value.length === 0) throw new DerError(`empty ${a.type} in a name`);
  switch (a.type) {
    case "C":
      if (!/^[A-Z]{2}$/.test(a.value)) throw new DerError(`country "${a.value}" must be two upper-case letters`);
      return printableString(a.value);
    case "serialNumber":
      return printableString(a.value);
    case "DC":
      return ia5String(a.value);
    default:
      if (a.value.length > 64) throw new DerError(`${a.type} longer than 64 characters`);
      return utf8String(a.value);
  }
}

export function encodeName(dn: DistinguishedName): Buffer {
  return seq(...dn.map((a) => set(seq(oid(ATTR_OID[a.type]), attrValue(a)))));
}

/** A DN given as data, or already as DER (e.g. copied byte-for-byte from an existing certificate). */
export function nameDer(n: DistinguishedName | Buffer): Buffer {
  return Buffer.isBuffer(n) ? n : encodeName(n);
}

/** Decodes a DER Name into attributes (unknown attribute types are returned with their OID as type). */
export function decodeName(der: Buffer): Array<{ type: string; value: string }> {
  const top = readTlv(der, 0);
  const out: Array<{ type: string; value: string }> = [];
  for (const rdn of children(der, top)) {
    for (const atv of children(der, rdn)) {
      const [t, v] = children(der, atv);
      if (!t || !v) throw new DerError("bad AttributeTypeAndValue");
      const o = oidToString(content(der, t));
      const value = content(der, v).toString(v.tag === 0x1e ? "utf16le" : "utf8");
      out.push({ type: OID_ATTR.get(o) ?? o, value });
    }
  }
  return out;
}

/** Short text form for logs: "CN=x, O=y" (not a parser input). */
export function nameToString(der: Buffer): string {
  return decodeName(der)
    .map((a) => `${a.type}=${a.value}`)
    .join(", ");
}
