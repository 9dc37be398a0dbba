// Canonical JSON (RFC 8785, JSON Canonicalization Scheme) for everything that is hashed or signed in
// a ceremony, and the SHA-256 helpers that go with it. Pure.
import { createHash } from "node:crypto";

/** Values JCS is defined over here: no undefined, no NaN/Infinity, no class instances. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

function serialize(v: unknown, path: string): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      // RFC 8785 §3.2.2.3: ECMAScript Number.prototype.toString, which JSON.stringify uses
      if (!Number.isFinite(v)) throw new TypeError(`canonical JSON: ${path} is not a finite number`);
      return JSON.stringify(v);
    case "string":
      // RFC 8785 §3.2.2.2: JSON.stringify's escaping (ES2019 well-formed) is the JCS escaping
      return JSON.stringify(v);
    case "object": {
      if (Array.isArray(v)) return `[${v.map((x, i) => serialize(x, `${path}[${i}]`)).join(",")}]`;
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null)
        throw new TypeError(`canonical JSON: ${path} is not a plain object`);
      // RFC 8785 §3.2.3: sort by UTF-16 code units, which is JS's default string comparison
      const keys = Object.keys(v as object).sort();
      const parts: string[] = [];
      for (const k of keys) {
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined) throw new TypeError(`canonical JSON: ${path}.${k} is undefined`);
        parts.push(`${JSON.stringify(k)}:${serialize(x, `${path}.${k}`)}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      throw new TypeError(`canonical JSON: ${path} has type ${typeof v}`);
  }
}

/** RFC 8785 canonical form of `value` as a string. */
export function canonicalJson(value: unknown): string {
  return serialize(value, "$");
}

/** RFC 8785 canonical form of `value` as UTF-8 bytes (what gets hashed and signed). */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), "utf8");
}

/** Lower-case hex SHA-256. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Lower-case hex SHA-256 of the canonical JSON of `value`. */
export function jcsHash(value: unknown): string {
  return sha256Hex(canonicalBytes(value));
}

export const HEX64 = /^[0-9a-f]{64}$/;
