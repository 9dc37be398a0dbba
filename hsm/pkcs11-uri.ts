// RFC 7512 PKCS#11 URIs: parse and format `pkcs11:token=…;object=…;type=private` key references.
// Pure; no token access.
import { HsmError } from "./errors.js";

export type ObjectType = "private" | "public" | "secret-key" | "cert" | "data";

export interface Pkcs11Uri {
  token?: string;
  manufacturer?: string;
  serial?: string;
  model?: string;
  object?: string;
  type?: ObjectType;
  /** CKA_ID as bytes */
  id?: Buffer;
  slotId?: number;
  /** query attributes */
  pinSource?: string;
  modulePath?: string;
}

const PATH_ATTRS = new Set([
  "token",
  "manufacturer",
  "serial",
  "model",
  "object",
  "type",
  "id",
  "slot-id",
  "slot-description",
  "slot-manufacturer",
  "library-manufacturer",
  "library-description",
  "library-version",
]);
const QUERY_ATTRS = new Set(["pin-source", "pin-value", "module-name", "module-path"]);
const TYPES = new Set<ObjectType>(["private", "public", "secret-key", "cert", "data"]);

function pctDecode(s: string, what: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "%") {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new HsmError("bad-uri", `bad percent-encoding in ${what}`);
      out.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      for (const b of Buffer.from(c, "utf8")) out.push(b);
    }
  }
  return Buffer.from(out);
}

// RFC 7512 pchar minus the separators: unreserved / ":" / "[" / "]" / "@" / "!" / "$" / "'" / "(" / ")" / "*" / "+" / "," / "=" / "&"
const SAFE = /^[A-Za-z0-9\-._~:[\]@!$'()*+,=&]$/;
function pctEncode(bytes: Buffer | string): string {
  const b = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes;
  let out = "";
  for (const byte of b) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE.test(ch) ? ch : `%${byte.toString(16).padStart(2, "0").toUpperCase()}`;
  }
  return out;
}

export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (!uri.startsWith("pkcs11:")) throw new HsmError("bad-uri", "PKCS#11 URI must start with pkcs11:");
  const rest = uri.slice("pkcs11:".length);
  const q = rest.indexOf("?");
  const path = q >= 0 ? rest.slice(0, q) : rest;
  const query = q >= 0 ? rest.slice(q + 1) : "";
  const result: Pkcs11Uri = {};
  const seen = new Set<string>();
  const handle = (attr: string, raw: string, allowed: Set<string>, where: string) => {
    if (!allowed.has(attr)) throw new HsmError("bad-uri", `unknown PKCS#11 URI ${where} attribute "${attr}"`);
    if (seen.has(attr)) throw new HsmError("bad-uri", `duplicate PKCS#11 URI attribute "${attr}"`);
    seen.add(attr);
    const bytes = pctDecode(raw, attr);
    const str = bytes.toString("utf8");
    switch (attr) {
      case "token":
        result.token = str;
        break;
      case "manufacturer":
        result.manufacturer = str;
        break;
      case "serial":
        result.serial = str;
        break;
      case "model":
        result.model = str;
        break;
      case "object":
        result.object = str;
        break;
      case "type":
        if (!TYPES.has(str as ObjectType)) throw new HsmError("bad-uri", `unknown object type "${str}"`);
        result.type = str as ObjectType;
        break;
      case "id":
        result.id = bytes;
        break;
      case "slot-id":
        if (!/^\d+$/.test(str)) throw new HsmError("bad-uri", "slot-id must be a decimal number");
        result.slotId = Number(str);
        break;
      case "pin-source":
        result.pinSource = str;
        break;
      case "pin-value":
        throw new HsmError("bad-uri", "pin-value in a PKCS#11 URI is refused: use pin-source");
      case "module-path":
        result.modulePath = str;
        break;
      default:
        // other standard attributes are accepted and ignored
        break;
    }
  };
  if (path) {
    for (const part of path.split(";")) {
      const eq = part.indexOf("=");
      if (eq <= 0) throw new HsmError("bad-uri", `malformed PKCS#11 URI component "${part}"`);
      handle(part.slice(0, eq), part.slice(eq + 1), PATH_ATTRS, "path");
    }
  }
  if (query) {
    for (const part of query.split("&")) {
      const eq = part.indexOf("=");
      if (eq <= 0) throw new HsmError("bad-uri", `malformed PKCS#11 URI query component "${part}"`);
      handle(part.slice(0, eq), part.slice(eq + 1), QUERY_ATTRS, "query");
    }
  }
  return result;
}

export function formatPkcs11Uri(u: Pkcs11Uri): string {
  const path: string[] = [];
  if (u.token !== undefined) path.push(`token=${pctEncode(u.token)}`);
  if (u.manufacturer !== undefined) path.push(`manufacturer=${pctEncode(u.manufacturer)}`);
  if (u.model !== undefined) path.push(`model=${pctEncode(u.model)}`);
  if (u.serial !== undefined) path.push(`serial=${pctEncode(u.serial)}`);
  if (u.slotId !== undefined) path.push(`slot-id=${u.slotId}`);
  if (u.object !== undefined) path.push(`object=${pctEncode(u.object)}`);
  if (u.type !== undefined) path.push(`type=${u.type}`);
  if (u.id !== undefined) path.push(`id=${[...u.id].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("")}`);
  const query: string[] = [];
  if (u.pinSource !== undefined) query.push(`pin-source=${pctEncode(u.pinSource)}`);
  if (u.modulePath !== undefined) query.push(`module-path=${pctEncode(u.modulePath)}`);
  return `pkcs11:${path.join(";")}${query.length ? `?${query.join("&")}` : ""}`;
}
