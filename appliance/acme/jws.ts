// The JWS rules of RFC 8555 §6.2 as plain functions: strict flattened-JSON parsing, protected-header
// checks (algorithm allow-list, jwk xor kid, url, nonce), JWK import with thumbprint, verification.
import { clip, quoted } from "../clip.js";
import { constants, createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import { problems } from "./problems.js";

/** The account-key algorithms we accept; never `none`, never HMAC (that is for EAB only). */
export const ACCOUNT_ALGORITHMS = ["ES256", "ES384", "RS256", "PS256", "EdDSA"] as const;
export type AccountAlgorithm = (typeof ACCOUNT_ALGORITHMS)[number];

export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

export interface ProtectedHeader {
  alg: AccountAlgorithm;
  nonce?: string;
  url: string;
  jwk?: Record<string, unknown>;
  kid?: string;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function b64urlJson(s: string, what: string): unknown {
  if (!B64URL.test(s)) throw problems.malformed(`${what} is not base64url`);
  try {
    return JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
  } catch {
    throw problems.malformed(`${what} is not base64url-encoded JSON`);
  }
}

/**
 * Parses a request body as a flattened JWS (RFC 7515 §7.2.2) with exactly the members protected,
 * payload and signature — no unprotected header, no general serialization, no compact form.
 */
export function parseFlattenedJws(body: Buffer | string): FlattenedJws {
  let v: unknown;
  try {
    v = JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch {
    throw problems.malformed("the request body is not JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw problems.malformed("the request body must be a JWS in flattened JSON serialization");
  const o = v as Record<string, unknown>;
  if ("signatures" in o) throw problems.malformed("the general JWS serialization is not accepted; use flattened");
  if ("header" in o) throw problems.malformed("unprotected JWS header members are not accepted");
  const keys = Object.keys(o);
  for (const k of keys)
    if (k !== "protected" && k !== "payload" && k !== "signature")
      throw problems.malformed(`unexpected JWS member ${quoted(k)}`);
  for (const k of ["protected", "payload", "signature"] as const) {
    if (typeof o[k] !== "string") throw problems.malformed(`JWS member "${k}" must be a string`);
    if (!B64URL.test(o[k] as string)) throw problems.malformed(`JWS member "${k}" is not base64url`);
  }
  if ((o.protected as string).length === 0) throw problems.malformed("the JWS has no protected header");
  if ((o.signature as string).length === 0) throw problems.malformed("the JWS has no signature");
  return o as unknown as FlattenedJws;
}

const ALLOWED_HEADER_MEMBERS = new Set(["alg", "nonce", "url", "jwk", "kid"]);

/**
 * Decodes and checks the protected header of an account-key JWS. `expectedUrl` is the URL the
 * request was sent to; `requireNonce` is false only for inner JWS objects (keyChange).
 */
export function parseProtectedHeader(jws: FlattenedJws, expectedUrl: string, requireNonce = true): ProtectedHeader {
  const h = b64urlJson(jws.protected, "the protected header");
  if (typeof h !== "object" || h === null || Array.isArray(h))
    throw problems.malformed("the protected header must be a JSON object");
  const hdr = h as Record<string, unknown>;
  const alg = hdr.alg;
  if (typeof alg !== "string") throw problems.malformed("the protected header has no alg");
  if (!(ACCOUNT_ALGORITHMS as readonly string[]).includes(alg))
    throw problems.badSignatureAlgorithm(`algorithm ${quoted(alg)} is not accepted`, {
      algorithms: [...ACCOUNT_ALGORITHMS],
    });
  for (const k of Object.keys(hdr)) {
    if (k === "crit" || k === "b64") throw problems.malformed(`header member "${k}" is not supported`);
    if (!ALLOWED_HEADER_MEMBERS.has(k)) throw problems.malformed(`unexpected protected header member ${quoted(k)}`);
  }
  const hasJwk = hdr.jwk !== undefined;
  const hasKid = hdr.kid !== undefined;
  if (hasJwk === hasKid) throw problems.malformed("the protected header must contain exactly one of jwk and kid");
  if (hasKid && typeof hdr.kid !== "string") throw problems.malformed("kid must be a string");
  if (hasJwk && (typeof hdr.jwk !== "object" || hdr.jwk === null || Array.isArray(hdr.jwk)))
    throw problems.malformed("jwk must be a JSON object");
  if (typeof hdr.url !== "string") throw problems.malformed("the protected header has no url");
  if (hdr.url !== expectedUrl)
    throw problems.unauthorized(`the url in the JWS header does not match the request URL (${clip(expectedUrl, 200)})`);
  if (requireNonce) {
    if (typeof hdr.nonce !== "string" || hdr.nonce.length === 0) throw problems.badNonce("the JWS has no nonce");
  } else if (hdr.nonce !== undefined) {
    throw problems.malformed("the inner JWS must not carry a nonce");
  }
  return {
    alg: alg as AccountAlgorithm,
    url: hdr.url,
    ...(typeof hdr.nonce === "string" ? { nonce: hdr.nonce } : {}),
    ...(hasJwk ? { jwk: hdr.jwk as Record<string, unknown> } : {}),
    ...(hasKid ? { kid: hdr.kid as string } : {}),
  };
}

export interface ImportedKey {
  key: KeyObject;
  /** the public JWK reduced to its RFC 7638 members */
  jwk: Record<string, string>;
  /** RFC 7638 SHA-256 thumbprint, base64url */
  thumbprint: string;
}

const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ["crv", "kty", "x", "y"],
  RSA: ["e", "kty", "n"],
  OKP: ["crv", "kty", "x"],
};
const EC_COORD_BYTES: Record<string, number> = { "P-256": 32, "P-384": 48 };
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** Imports an account JWK: public EC P-256/P-384, RSA 2048–8192 bits, or Ed25519; nothing else. */
export function importAccountJwk(raw: Record<string, unknown>): ImportedKey {
  const kty = raw.kty;
  // own properties only: "constructor" or "__proto__" must not find Object.prototype's members
  if (typeof kty !== "string" || !Object.hasOwn(THUMBPRINT_MEMBERS, kty))
    throw problems.badPublicKey(`key type ${quoted(kty)} is not accepted (EC, RSA or OKP)`);
  for (const m of PRIVATE_MEMBERS)
    if (raw[m] !== undefined) throw problems.badPublicKey("the JWK contains private key material");
  const jwk: Record<string, string> = {};
  for (const m of THUMBPRINT_MEMBERS[kty]!) {
    const v = raw[m];
    if (typeof v !== "string" || (m !== "kty" && m !== "crv" && !(B64URL.test(v) && v.length > 0)))
      throw problems.badPublicKey(`JWK member "${m}" is missing or malformed`);
    jwk[m] = v;
  }
  if (kty === "EC") {
    const n = Object.hasOwn(EC_COORD_BYTES, jwk.crv!) ? EC_COORD_BYTES[jwk.crv!] : undefined;
    if (!n) throw problems.badPublicKey(`curve ${quoted(jwk.crv)} is not accepted (P-256, P-384)`);
    if (Buffer.from(jwk.x!, "base64url").length !== n || Buffer.from(jwk.y!, "base64url").length !== n)
      throw problems.badPublicKey("EC coordinates have the wrong length");
  } else if (kty === "OKP") {
    if (jwk.crv !== "Ed25519") throw problems.badPublicKey(`curve ${quoted(jwk.crv)} is not accepted (Ed25519)`);
    if (Buffer.from(jwk.x!, "base64url").length !== 32) throw problems.badPublicKey("Ed25519 key has the wrong length");
  } else {
    const n = Buffer.from(jwk.n!, "base64url");
    const bits = (n.length - (n[0] === 0 ? 1 : 0)) * 8;
    if (bits < 2048 || bits > 8192)
      throw problems.badPublicKey(`RSA keys need 2048 to 8192 bits, this one has ${bits}`);
    const e = Buffer.from(jwk.e!, "base64url");
    if (e.length > 4 || e.length === 0 || (e[e.length - 1]! & 1) === 0 || (e.length === 1 && e[0]! < 3))
      throw problems.badPublicKey("RSA public exponent is not acceptable");
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk, format: "jwk" });
  } catch {
    throw problems.badPublicKey("the JWK is not a valid public key");
  }
  return { key, jwk, thumbprint: jwkThumbprint(jwk) };
}

/** RFC 7638 thumbprint of a reduced public JWK (members in lexicographic order, no whitespace). */
export function jwkThumbprint(jwk: Record<string, string>): string {
  const members = Object.hasOwn(THUMBPRINT_MEMBERS, jwk.kty!) ? THUMBPRINT_MEMBERS[jwk.kty!] : undefined;
  if (!members) throw new TypeError(`no thumbprint members for kty ${jwk.kty}`);
  const canon = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(",")}}`;
  return createHash("sha256").update(canon).digest("base64url");
}

/** Does the algorithm fit the key? (ES256 ↔ P-256, ES384 ↔ P-384, RS256/PS256 ↔ RSA, EdDSA ↔ Ed25519) */
export function algorithmFitsKey(alg: AccountAlgorithm, jwk: Record<string, string>): boolean {
  switch (alg) {
    case "ES256":
      return jwk.kty === "EC" && jwk.crv === "P-256";
    case "ES384":
      return jwk.kty === "EC" && jwk.crv === "P-384";
    case "RS256":
    case "PS256":
      return jwk.kty === "RSA";
    case "EdDSA":
      return jwk.kty === "OKP" && jwk.crv === "Ed25519";
  }
}

const SIG_BYTES: Partial<Record<AccountAlgorithm, number>> = { ES256: 64, ES384: 96, EdDSA: 64 };

/**
 * Verifies the JWS signature over ASCII(protected || "." || payload) with node:crypto (synchronous;
 * cross-checked against jose in the tests). The key must fit the algorithm (checked here again).
 */
export function verifyJwsSignature(jws: FlattenedJws, alg: AccountAlgorithm, key: ImportedKey): boolean {
  if (!algorithmFitsKey(alg, key.jwk)) return false;
  const sig = Buffer.from(jws.signature, "base64url");
  const want = SIG_BYTES[alg];
  if (want !== undefined && sig.length !== want) return false;
  const data = Buffer.from(`${jws.protected}.${jws.payload}`, "ascii");
  try {
    switch (alg) {
      case "ES256":
        return verify("sha256", data, { key: key.key, dsaEncoding: "ieee-p1363" }, sig);
      case "ES384":
        return verify("sha384", data, { key: key.key, dsaEncoding: "ieee-p1363" }, sig);
      case "RS256":
        return verify("sha256", data, { key: key.key, padding: constants.RSA_PKCS1_PADDING }, sig);
      case "PS256":
        return verify("sha256", data, { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
      case "EdDSA":
        return verify(null, data, key.key, sig);
    }
  } catch {
    return false;
  }
}

/** The decoded payload: undefined for POST-as-GET (empty payload), else a JSON object. */
export function decodePayload(jws: FlattenedJws): Record<string, unknown> | undefined {
  if (jws.payload === "") return undefined;
  const v = b64urlJson(jws.payload, "the JWS payload");
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw problems.malformed("the JWS payload must be a JSON object");
  return v as Record<string, unknown>;
}

/** Two public JWKs name the same key (compared by thumbprint). */
export function sameKey(a: Record<string, string>, b: Record<string, string>): boolean {
  return jwkThumbprint(a) === jwkThumbprint(b);
}
