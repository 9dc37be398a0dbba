// ACME identifiers: parsing and canonicalisation of `dns` (A-labels, lower case, no trailing dot,
// label rules, leftmost wildcard) and `ip` (RFC 8738; canonical IPv4 and RFC 5952 IPv6 text).
import { quoted } from "../clip.js";
import { formatIpBytes, parseIpBytes } from "../ip.js";
import { domainToASCII, domainToUnicode } from "node:url";
import type { Identifier } from "../ca/api.js";

export type { Identifier };

/** Why an identifier value was refused; the service turns it into rejectedIdentifier/malformed. */
export type IdentifierResult =
  | { ok: true; identifier: Identifier; wildcard: boolean }
  | { ok: false; reason: string; unsupportedType?: boolean };

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Canonical dns identifier value, or the reason it is not one. Accepts upper case (folds it). */
export function parseDnsName(
  raw: string,
): { ok: true; name: string; wildcard: boolean } | { ok: false; reason: string } {
  if (raw.length === 0) return { ok: false, reason: "empty domain name" };
  if (/[^\x21-\x7e]/.test(raw)) return { ok: false, reason: "domain names must be ASCII (A-labels)" };
  const name = raw.toLowerCase();
  if (name.endsWith(".")) return { ok: false, reason: "domain name ends in a dot" };
  if (name.length > 253) return { ok: false, reason: "domain name is longer than 253 characters" };
  const labels = name.split(".");
  let wildcard = false;
  if (labels[0] === "*") {
    wildcard = true;
    labels.shift();
    if (labels.length === 0) return { ok: false, reason: "a wildcard needs a base domain" };
  }
  for (const label of labels) {
    if (label.length === 0) return { ok: false, reason: "domain name has an empty label" };
    if (label.includes("*")) return { ok: false, reason: "a wildcard is only allowed as the whole leftmost label" };
    if (!LABEL.test(label)) return { ok: false, reason: `invalid label ${quoted(label)}` };
    if (label.length >= 4 && label[2] === "-" && label[3] === "-") {
      if (!label.startsWith("xn--")) return { ok: false, reason: `label ${quoted(label)} uses a reserved form` };
      const u = domainToUnicode(label);
      if (!u || domainToASCII(u) !== label)
        return { ok: false, reason: `label ${quoted(label)} is not a valid A-label` };
    }
  }
  const base = labels.join(".");
  if (/^[0-9]+$/.test(labels[labels.length - 1]!) || parseIpAddress(base) !== undefined)
    return { ok: false, reason: "an IP address must be requested as an ip identifier" };
  return { ok: true, name: wildcard ? `*.${base}` : base, wildcard };
}

/** Parses an IPv4 or IPv6 literal to its 4 or 16 bytes; undefined when it is not one. */
export function parseIpAddress(s: string): Uint8Array | undefined {
  return parseIpBytes(s);
}

/** Canonical text of a 4- or 16-byte address: dotted quad, or RFC 5952 §4 for IPv6. */
export function formatIpAddress(bytes: Uint8Array): string {
  return formatIpBytes(bytes);
}

/** Canonical ip identifier value, or undefined when `raw` is not an IP literal. */
export function canonicalIp(raw: string): string | undefined {
  const b = parseIpAddress(raw);
  return b ? formatIpAddress(b) : undefined;
}

/** Parses one identifier from a client (newOrder, newAuthz) into its canonical form. */
export function parseIdentifier(raw: unknown): IdentifierResult {
  if (typeof raw !== "object" || raw === null) return { ok: false, reason: "identifier must be an object" };
  const { type, value } = raw as { type?: unknown; value?: unknown };
  if (typeof type !== "string" || typeof value !== "string")
    return { ok: false, reason: "identifier needs string fields type and value" };
  if (type === "dns") {
    // some deployed clients (lego before RFC 8738 support, as in Debian) send IP addresses as dns
    // identifiers; they are taken as the ip identifier they name (docs/acme-divergences.md)
    const asIp = canonicalIp(value);
    if (asIp) return { ok: true, identifier: { type: "ip", value: asIp }, wildcard: false };
    const r = parseDnsName(value);
    if (!r.ok) return { ok: false, reason: `${quoted(value)}: ${r.reason}` };
    return { ok: true, identifier: { type: "dns", value: r.name }, wildcard: r.wildcard };
  }
  if (type === "ip") {
    const v = canonicalIp(value);
    if (!v) return { ok: false, reason: `${quoted(value)} is not an IPv4 or IPv6 address` };
    return { ok: true, identifier: { type: "ip", value: v }, wildcard: false };
  }
  return { ok: false, reason: `identifier type ${quoted(type)} is not supported`, unsupportedType: true };
}

/** Stable key for sets and maps of identifiers. */
export function identifierKey(id: Identifier): string {
  return `${id.type}:${id.value}`;
}

/** Sorted, de-duplicated copy (orders keep identifiers in this order). */
export function normalizeIdentifiers(ids: readonly Identifier[]): Identifier[] {
  const m = new Map<string, Identifier>();
  for (const id of ids) m.set(identifierKey(id), id);
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/** True when both lists name exactly the same identifiers (order and duplicates ignored). */
export function sameIdentifiers(a: readonly Identifier[], b: readonly Identifier[]): boolean {
  const ka = new Set(a.map(identifierKey));
  const kb = new Set(b.map(identifierKey));
  if (ka.size !== kb.size) return false;
  for (const k of ka) if (!kb.has(k)) return false;
  return true;
}

/** The authorization's identifier for an order identifier: wildcards are authorised on the base name. */
export function authorizationIdentifier(id: Identifier): { identifier: Identifier; wildcard: boolean } {
  if (id.type === "dns" && id.value.startsWith("*."))
    return { identifier: { type: "dns", value: id.value.slice(2) }, wildcard: true };
  return { identifier: id, wildcard: false };
}
