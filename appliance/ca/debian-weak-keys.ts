// The Debian weak-key blocklist (CVE-2008-0166) in openssl-blacklist's format: per line the last 20
// hex digits (80 bits) of SHA-1("Modulus=<UPPER-CASE HEX>\n"), as `openssl rsa -noout -modulus | sha1sum` gives.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ApplianceError } from "../errors.js";
import type { BlockedKeyCheck } from "./goodkey.js";

/** The blocklist value of an RSA modulus: lower 80 bits of SHA-1 of openssl's "-modulus" line. */
export function debianModulusFingerprint(n: bigint): string {
  return createHash("sha1")
    .update(`Modulus=${n.toString(16).toUpperCase()}\n`)
    .digest("hex")
    .slice(20);
}

/**
 * Reads openssl-blacklist files (e.g. /usr/share/openssl-blacklist/blacklist.RSA-2048): '#' comment
 * lines, blank lines, else exactly 20 hex digits. Any other line refuses the whole file.
 */
export function loadDebianWeakKeys(paths: string[]): BlockedKeyCheck {
  const set = new Set<string>();
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, "latin1");
    } catch (e) {
      throw new ApplianceError("malformed", `Debian weak-key list ${path}: ${(e as Error).message}`);
    }
    text.split("\n").forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith("#")) return;
      if (!/^[0-9a-fA-F]{20}$/.test(line))
        throw new ApplianceError(
          "malformed",
          `Debian weak-key list ${path}: line ${i + 1} is not 20 hex digits (openssl-blacklist format)`,
        );
      set.add(line.toLowerCase());
    });
  }
  return (_hash, key) => {
    if (key.type !== "rsa") return undefined;
    const fp = debianModulusFingerprint(key.n);
    return set.has(fp) ? `RSA modulus is a known Debian weak key (CVE-2008-0166, fingerprint ${fp})` : undefined;
  };
}
