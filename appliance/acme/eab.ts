// External Account Binding (RFC 8555 §7.3.4): the inner HS256 JWS over the account key, and the
// private-trust extension — identifier patterns an EAB credential pre-authorises.
import { quoted } from "../clip.js";
import { flattenedVerify } from "jose";
import type { Identifier } from "./identifier.js";
import { canonicalIp, parseDnsName, parseIpAddress } from "./identifier.js";
import { type FlattenedJws, parseFlattenedJws, sameKey } from "./jws.js";
import { problems } from "./problems.js";

export const EAB_ALGORITHMS = ["HS256"] as const;

export interface EabCredential {
  kid: string;
  /** the MAC key plant IT handed out with the kid (raw bytes) */
  hmacKey: Buffer;
  label: string;
  /** pre-authorised identifier patterns (see parsePattern); empty = every identifier needs a challenge */
  identifiers: string[];
  /** may bind more than one account (a fleet sharing one credential) */
  reusable: boolean;
  createdAt: Date;
  expiresAt?: Date;
  revokedAt?: Date;
  boundAccounts: number;
}

/** Structure and header of the externalAccountBinding member; returns the kid it names. */
export function parseEabJws(raw: unknown, newAccountUrl: string): { kid: string; jws: FlattenedJws } {
  if (typeof raw !== "object" || raw === null) throw problems.malformed("externalAccountBinding must be a JWS object");
  const jws = parseFlattenedJws(JSON.stringify(raw));
  let hdr: Record<string, unknown>;
  try {
    hdr = JSON.parse(Buffer.from(jws.protected, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    throw problems.malformed("the EAB protected header is not JSON");
  }
  if (typeof hdr !== "object" || hdr === null) throw problems.malformed("the EAB protected header is not an object");
  if (!(EAB_ALGORITHMS as readonly unknown[]).includes(hdr.alg))
    throw problems.badSignatureAlgorithm(`EAB must be signed with ${EAB_ALGORITHMS.join(", ")}`, {
      algorithms: [...EAB_ALGORITHMS],
    });
  if (hdr.nonce !== undefined) throw problems.malformed("the EAB JWS must not carry a nonce");
  if (hdr.url !== newAccountUrl) throw problems.unauthorized("the EAB JWS url must be the newAccount URL");
  if (typeof hdr.kid !== "string" || hdr.kid.length === 0) throw problems.malformed("the EAB JWS needs a kid");
  for (const k of Object.keys(hdr))
    if (!["alg", "kid", "url"].includes(k)) throw problems.malformed(`unexpected EAB header member ${quoted(k)}`);
  return { kid: hdr.kid, jws };
}

/** Verifies the MAC and that the payload is exactly the account key of the outer JWS. */
export async function verifyEab(jws: FlattenedJws, cred: EabCredential, accountJwk: Record<string, string>, now: Date) {
  if (cred.revokedAt) throw problems.unauthorized("the EAB credential was revoked");
  if (cred.expiresAt && cred.expiresAt.getTime() <= now.getTime())
    throw problems.unauthorized("the EAB credential expired");
  try {
    await flattenedVerify(jws, new Uint8Array(cred.hmacKey), { algorithms: [...EAB_ALGORITHMS] });
  } catch {
    throw problems.unauthorized("the EAB MAC does not verify");
  }
  let payload: Record<string, string>;
  try {
    payload = JSON.parse(Buffer.from(jws.payload, "base64url").toString("utf8")) as Record<string, string>;
  } catch {
    throw problems.malformed("the EAB payload is not a JWK");
  }
  let same = false;
  try {
    same = sameKey(payload, accountJwk);
  } catch {
    same = false;
  }
  if (!same) throw problems.unauthorized("the EAB payload is not the account key");
  if (!cred.reusable && cred.boundAccounts > 0)
    throw problems.unauthorized("the EAB credential is already bound to an account");
}

export type Pattern =
  | { kind: "dns-exact"; name: string }
  | { kind: "dns-subtree"; suffix: string }
  | { kind: "ip-net"; bytes: Uint8Array; prefix: number };

/**
 * Pre-authorisation patterns: `plc7.line3.plant` (exactly that name), `*.line3.plant` (any name one
 * or more labels below it), `10.20.0.0/16`, `fd00::/8`, or a single address.
 */
export function parsePattern(s: string): Pattern {
  if (s.includes("/")) {
    const [addr, bits] = s.split("/") as [string, string];
    const bytes = parseIpAddress(addr);
    const prefix = Number(bits);
    if (!bytes || !/^[0-9]{1,3}$/.test(bits) || prefix > bytes.length * 8)
      throw new RangeError(`"${s}" is not a valid CIDR pattern`);
    return { kind: "ip-net", bytes, prefix };
  }
  const ip = canonicalIp(s);
  if (ip) {
    const bytes = parseIpAddress(ip)!;
    return { kind: "ip-net", bytes, prefix: bytes.length * 8 };
  }
  const d = parseDnsName(s);
  if (!d.ok) throw new RangeError(`"${s}" is not a valid pattern: ${d.reason}`);
  if (d.wildcard) return { kind: "dns-subtree", suffix: d.name.slice(1) };
  return { kind: "dns-exact", name: d.name };
}

export function patternMatches(p: Pattern, id: Identifier): boolean {
  if (p.kind === "dns-exact") return id.type === "dns" && id.value === p.name;
  if (p.kind === "dns-subtree") {
    if (id.type !== "dns") return false;
    const v = id.value.startsWith("*.") ? id.value.slice(1) : id.value;
    return v.endsWith(p.suffix) && v.length > p.suffix.length;
  }
  if (id.type !== "ip") return false;
  const b = parseIpAddress(id.value);
  if (!b || b.length !== p.bytes.length) return false;
  for (let bit = 0; bit < p.prefix; bit++) {
    const i = bit >> 3;
    const m = 0x80 >> (bit & 7);
    if ((b[i]! & m) !== (p.bytes[i]! & m)) return false;
  }
  return true;
}

/** Is the identifier pre-authorised by any of the credential's patterns? */
export function preAuthorized(patterns: readonly string[], id: Identifier): boolean {
  return patterns.some((s) => patternMatches(parsePattern(s), id));
}
