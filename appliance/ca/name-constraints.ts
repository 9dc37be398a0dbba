// RFC 5280 4.2.1.10 name-constraint semantics for DNS names and IP addresses, used both to check
// identifiers before signing and to encode the SubCA's nameConstraints extension. Pure.
import { clip } from "../clip.js";
import type { Identifier } from "./api.js";
import { children, content, ctx, DerError, readWhole, seq } from "./der.js";
import { bytesToIp, type IpRange, ipToBytes, parseCidr, rangeContains, rangeToConstraintBytes } from "./ip.js";

export interface NameConstraintsSpec {
  /** DNS subtrees: "plant.example" = the name and everything below it; ".plant.example" = below only */
  permittedDns: string[];
  excludedDns: string[];
  /** CIDR ranges, v4 and v6 */
  permittedIp: string[];
  excludedIp: string[];
}

export interface ParsedConstraints {
  permittedDns: string[];
  excludedDns: string[];
  permittedIp: IpRange[];
  excludedIp: IpRange[];
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A DNS subtree base: lower-case LDH labels, optional single leading ".", no trailing dot. */
export function isValidDnsBase(base: string): boolean {
  const b = base.startsWith(".") ? base.slice(1) : base;
  if (b.length === 0 || b.length > 253 || b !== b.toLowerCase()) return false;
  return b.split(".").every((l) => LABEL.test(l));
}

export function parseConstraints(spec: NameConstraintsSpec): ParsedConstraints {
  for (const d of [...spec.permittedDns, ...spec.excludedDns])
    if (!isValidDnsBase(d)) throw new Error(`"${d}" is not a valid DNS name-constraint subtree`);
  return {
    permittedDns: [...spec.permittedDns],
    excludedDns: [...spec.excludedDns],
    permittedIp: spec.permittedIp.map(parseCidr),
    excludedIp: spec.excludedIp.map(parseCidr),
  };
}

/** Does the DNS name fall in the subtree? (case-insensitive; names are canonical lower-case) */
export function dnsInSubtree(name: string, base: string): boolean {
  const n = name.toLowerCase();
  const b = base.toLowerCase();
  if (b.startsWith(".")) return n.length > b.length && n.endsWith(b);
  if (n === b) return true;
  return n.endsWith(`.${b}`);
}

export type ConstraintVerdict = { ok: true } | { ok: false; reason: string };

/**
 * RFC 5280 evaluation: excluded subtrees always win; when permitted subtrees of the identifier's
 * type exist the identifier must be inside one; when none exist for that type, the type is
 * unconstrained (the issuance policy may still refuse it).
 */
export function checkConstraints(c: ParsedConstraints, id: Identifier): ConstraintVerdict {
  if (id.type === "dns") {
    const ex = c.excludedDns.find((b) => dnsInSubtree(id.value, b));
    if (ex) return { ok: false, reason: `${clip(id.value)} is inside the excluded DNS subtree "${ex}"` };
    if (c.permittedDns.length && !c.permittedDns.some((b) => dnsInSubtree(id.value, b)))
      return {
        ok: false,
        reason: `${clip(id.value)} is outside the permitted DNS subtrees (${c.permittedDns.join(", ")})`,
      };
    return { ok: true };
  }
  const bytes = ipToBytes(id.value);
  if (!bytes) return { ok: false, reason: `${clip(id.value)} is not an IP address` };
  const ex = c.excludedIp.find((r) => rangeContains(r, bytes));
  if (ex) return { ok: false, reason: `${clip(id.value)} is inside the excluded IP range ${ex.text}` };
  const sameFamily = c.permittedIp.filter((r) => r.address.length === bytes.length);
  if (c.permittedIp.length && !sameFamily.some((r) => rangeContains(r, bytes)))
    return {
      ok: false,
      reason: `${clip(id.value)} is outside the permitted IP ranges (${c.permittedIp.map((r) => r.text).join(", ") || "none"})`,
    };
  return { ok: true };
}

/** DER of the NameConstraints extension value (SEQUENCE { permittedSubtrees [0], excludedSubtrees [1] }). */
export function encodeNameConstraints(spec: NameConstraintsSpec): Buffer {
  const c = parseConstraints(spec);
  const subtrees = (dns: string[], ips: IpRange[]): Buffer[] => [
    ...dns.map((d) => seq(ctx(2, false, Buffer.from(d, "latin1")))),
    ...ips.map((r) => seq(ctx(7, false, rangeToConstraintBytes(r)))),
  ];
  const permitted = subtrees(c.permittedDns, c.permittedIp);
  const excluded = subtrees(c.excludedDns, c.excludedIp);
  if (!permitted.length && !excluded.length) throw new Error("name constraints with no subtrees");
  const parts: Buffer[] = [];
  if (permitted.length) parts.push(ctx(0, true, ...permitted));
  if (excluded.length) parts.push(ctx(1, true, ...excluded));
  return seq(...parts);
}

/**
 * Reads a nameConstraints extension value (from the installed SubCA certificate) back into subtrees,
 * so the CA also checks against what the certificate really says, not only against its config.
 * Subtrees of other name types are irrelevant to DNS/IP identifiers and skipped.
 */
export function decodeNameConstraints(der: Buffer): ParsedConstraints {
  const out: ParsedConstraints = { permittedDns: [], excludedDns: [], permittedIp: [], excludedIp: [] };
  for (const part of children(der, readWhole(der))) {
    const permitted = part.tag === 0xa0;
    if (!permitted && part.tag !== 0xa1) throw new DerError("bad NameConstraints");
    for (const subtree of children(der, part)) {
      const base = children(der, subtree)[0];
      if (!base) throw new DerError("empty GeneralSubtree");
      const v = content(der, base);
      if (base.tag === 0x82) (permitted ? out.permittedDns : out.excludedDns).push(v.toString("latin1").toLowerCase());
      else if (base.tag === 0x87) {
        if (v.length !== 8 && v.length !== 32) throw new DerError("bad iPAddress constraint");
        const n = v.length / 2;
        const address = Buffer.from(v.subarray(0, n));
        const mask = Buffer.from(v.subarray(n));
        let prefix = 0;
        for (const b of mask) for (let i = 7; i >= 0; i--) if (b & (1 << i)) prefix++;
        for (let i = 0; i < n; i++) address[i]! &= mask[i]!;
        (permitted ? out.permittedIp : out.excludedIp).push({
          address,
          mask,
          prefix,
          text: `${bytesToIp(address)}/${prefix}`,
        });
      }
    }
  }
  return out;
}
