// dns-01 (RFC 8555 §8.4): TXT lookup of _acme-challenge.<name> through the plant DNS servers,
// expecting base64url(SHA-256(keyAuthorization)); dns identifiers only (RFC 8738 §7).
import { createHash } from "node:crypto";
import type { ValidationRecord } from "./api.js";
import { type ChallengeContext, type Outcome, clip, fail } from "./challenge-context.js";
import type { Target } from "./names.js";

/** The TXT value a client publishes for a key authorization. */
export function dns01Digest(keyAuthorization: string): string {
  return createHash("sha256").update(keyAuthorization, "utf8").digest("base64url");
}

/** The name queried: a wildcard "*.x" is validated at "_acme-challenge.x" (RFC 8555 §8.4). */
export function dns01Name(target: Target & { kind: "dns" }): string {
  return `_acme-challenge.${target.name}`;
}

export async function checkDns01(ctx: ChallengeContext, target: Target, keyAuthorization: string): Promise<Outcome> {
  if (target.kind !== "dns") {
    return fail(
      "rejectedIdentifier",
      "dns-01 cannot validate IP identifiers (RFC 8738 §7); use http-01 or tls-alpn-01",
    );
  }
  const name = dns01Name(target);
  const record: ValidationRecord = { hostname: name };
  ctx.records.push(record);
  const ans = await ctx.resolver.resolveTxt(name, ctx.signal);
  record.resolver = ans.source;
  if (!ans.ok) {
    if (ans.failure === "nxdomain" || ans.failure === "nodata") {
      return fail("unauthorized", `no TXT record found at ${name}`);
    }
    return fail("dns", `TXT lookup of ${name} failed: ${ans.detail}`, ans.source !== "hosts");
  }
  const expected = dns01Digest(keyAuthorization);
  if (ans.records.some((r) => r === expected)) return { ok: true };
  const seen = ans.records
    .slice(0, 3)
    .map((r) => `"${clip(r, 48)}"`)
    .join(", ");
  return fail(
    "unauthorized",
    `none of the ${ans.records.length} TXT record(s) at ${name} is the expected "${expected}" (found ${seen})`,
  );
}
