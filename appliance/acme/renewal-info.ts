// ACME Renewal Information (RFC 9773): certificate IDs, and the suggested renewal window — spread
// deterministically over the certificate's lifetime per serial, immediate for revoked certificates.
import { createHash } from "node:crypto";
import { problems } from "./problems.js";

export interface CertId {
  /** keyIdentifier of the certificate's AKI extension */
  authorityKeyId: Buffer;
  /** the serial as lower-case hex of its DER INTEGER content bytes */
  serialHex: string;
}

/** RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serialNumber DER content bytes). */
export function formatCertId(aki: Buffer, serialHex: string): string {
  return `${aki.toString("base64url")}.${derSerialBytes(serialHex).toString("base64url")}`;
}

export function parseCertId(s: string): CertId {
  const parts = s.split(".");
  if (parts.length !== 2 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p)))
    throw problems.malformed('a certificate ID is base64url(AKI) "." base64url(serial)');
  const aki = Buffer.from(parts[0]!, "base64url");
  const serial = Buffer.from(parts[1]!, "base64url");
  if (aki.length === 0 || serial.length === 0 || serial.length > 21)
    throw problems.malformed("malformed certificate ID");
  // DER INTEGER content: minimal, and serials are positive
  if (serial[0]! & 0x80) throw problems.malformed("the serial in the certificate ID is negative");
  if (serial.length > 1 && serial[0] === 0 && !(serial[1]! & 0x80))
    throw problems.malformed("the serial in the certificate ID is not minimally encoded");
  return { authorityKeyId: aki, serialHex: serial.toString("hex") };
}

/** DER INTEGER content bytes of a positive serial given as hex (adds the 0x00 a set high bit needs). */
export function derSerialBytes(serialHex: string): Buffer {
  let hex = serialHex.toLowerCase().replace(/^(00)+/, "");
  if (hex.length % 2) hex = `0${hex}`;
  if (hex === "") hex = "00";
  const b = Buffer.from(hex, "hex");
  return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
}

export interface RenewalWindowOptions {
  /** the window opens somewhere in [from, from + spread] of the lifetime (fractions, default 0.5 / 0.25) */
  from?: number;
  spread?: number;
  /** window length as a fraction of the lifetime (default 0.05) */
  width?: number;
}

export interface SuggestedWindow {
  start: Date;
  end: Date;
}

/**
 * The suggested renewal window of a certificate. A fleet enrolled within one hour gets windows spread
 * over a quarter of the lifetime (by a hash of the serial, so every answer for one certificate is the
 * same); a revoked certificate gets a window that already lies in the past (renew now).
 */
export function suggestedWindow(
  cert: { serialHex: string; notBefore: Date; notAfter: Date; revoked: boolean },
  now: Date,
  opts: RenewalWindowOptions = {},
): SuggestedWindow {
  if (cert.revoked) return { start: new Date(now.getTime() - 2 * 3600_000), end: new Date(now.getTime() - 3600_000) };
  const from = opts.from ?? 0.5;
  const spread = opts.spread ?? 0.25;
  const width = opts.width ?? 0.05;
  const nb = cert.notBefore.getTime();
  const life = cert.notAfter.getTime() - nb;
  const h = createHash("sha256").update(derSerialBytes(cert.serialHex)).digest().readUInt32BE(0) / 2 ** 32;
  const start = nb + life * (from + spread * h);
  const end = Math.min(start + Math.max(life * width, 60_000), cert.notAfter.getTime());
  return { start: new Date(Math.floor(start / 1000) * 1000), end: new Date(Math.floor(end / 1000) * 1000) };
}
