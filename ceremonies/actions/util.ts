// Small helpers the actions share: named checks, PEM framing, where a key's public files go.
import { createHash, type KeyObject } from "node:crypto";
import type { HsmKey } from "../../hsm/index.js";
import { CeremonyError } from "../errors.js";
import type { CheckResult } from "../engine/types.js";

export function check(name: string, ok: boolean, detail: string): CheckResult {
  return { name, ok, detail };
}

/** Throws CeremonyError("check-failed") for the first failed check; returns the list otherwise. */
export function requireChecks(checks: CheckResult[]): CheckResult[] {
  const bad = checks.find((c) => !c.ok);
  if (bad) throw new CeremonyError("check-failed", `${bad.name}: ${bad.detail}`);
  return checks;
}

export function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}

/** DER from PEM (the first block with `label`) or the bytes themselves if they are not PEM. */
export function derOf(bytes: Buffer, label: string): Buffer {
  const text = bytes.toString("latin1");
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(text);
  if (m) return Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
  if (text.includes("-----BEGIN")) throw new CeremonyError("check-failed", `expected a PEM ${label}`);
  return bytes;
}

export function spkiSha256(key: HsmKey | KeyObject): string {
  const der = "spki" in key ? key.spki : key.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("hex");
}

/** Bundle path of a key's public key: keys/<token>/<label>.pub.pem (lower-cased). */
export function publicKeyPath(tokenName: string, label: string): string {
  return `keys/${tokenName}/${label.toLowerCase()}.pub.pem`;
}

export function attributesPath(tokenName: string, label: string): string {
  return `keys/${tokenName}/${label.toLowerCase()}.attributes.json`;
}
