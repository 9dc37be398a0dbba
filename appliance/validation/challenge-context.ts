// What every challenge check gets (config, guard, resolver, dialer, deadline, records) and the one
// shared step of the connecting checks: host -> resolved addresses -> addresses the guard allows.
import type { ValidationProblemType, ValidationRecord } from "./api.js";
import type { ValidationConfig } from "./config.js";
import type { Dialer } from "./dialer.js";
import { type IpAddress, formatIp, parseIp } from "./ip.js";
import type { NetworkGuard } from "./network-guard.js";
import type { PlantResolver } from "./resolver.js";

export interface ChallengeContext {
  config: ValidationConfig;
  guard: NetworkGuard;
  resolver: PlantResolver;
  dialer: Dialer;
  /** aborted at the validation's deadline */
  signal: AbortSignal;
  /** appended as the check proceeds, so a timeout still reports what was contacted */
  records: ValidationRecord[];
}

export type Outcome =
  | { ok: true }
  | {
      ok: false;
      type: ValidationProblemType;
      detail: string;
      /** worth another attempt (timeouts, refused connections, DNS server trouble) */
      retryable: boolean;
    };

export function fail(type: ValidationProblemType, detail: string, retryable = false): Outcome & { ok: false } {
  return { ok: false, type, detail, retryable };
}

export type Host = { kind: "dns"; name: string } | { kind: "ip"; ip: IpAddress };

/** Canonical address text, or the input when it does not parse (then the guard refuses it). */
function canonical(a: string): string {
  const ip = parseIp(a);
  return ip ? formatIp(ip) : a;
}

/**
 * Resolves a host and keeps the addresses the guard allows for `port`, in the order they will be
 * tried (first IPv6, then first IPv4, as Boulder does). Fills `record.addressesResolved`.
 * `role` picks the problem type when everything is refused: the identifier itself points outside
 * the allowed networks (rejectedIdentifier) or a redirect does (connection).
 */
export async function vetHost(
  ctx: ChallengeContext,
  host: Host,
  port: number,
  record: ValidationRecord,
  role: "identifier" | "redirect",
): Promise<{ ok: true; attempts: string[] } | (Outcome & { ok: false })> {
  let resolved: string[];
  if (host.kind === "ip") {
    resolved = [formatIp(host.ip)];
  } else {
    const ans = await ctx.resolver.resolveAddresses(host.name, ctx.signal);
    if (!ans.ok) {
      const transient = ans.failure === "timeout" || ans.failure === "servfail" || ans.failure === "unavailable";
      return fail("dns", `cannot resolve ${host.name} (${ans.source}): ${ans.detail}`, transient);
    }
    resolved = ans.addresses.map(canonical);
  }
  record.addressesResolved = resolved;
  const refusals: string[] = [];
  const allowed: string[] = [];
  for (const a of resolved) {
    const v = ctx.guard.check(a, port);
    if (v.allowed) allowed.push(a);
    else refusals.push(v.reason);
  }
  if (allowed.length === 0) {
    const what = host.kind === "dns" ? `${host.name} resolves only to refused addresses: ` : "";
    const detail = `${what}${refusals.join("; ")}`;
    return role === "identifier"
      ? fail("rejectedIdentifier", `validation target refused: ${detail}`)
      : fail("connection", `redirect target refused: ${detail}`);
  }
  const v6 = allowed.find((a) => a.includes(":"));
  const v4 = allowed.find((a) => !a.includes(":"));
  return { ok: true, attempts: [v6, v4].filter((a): a is string => a !== undefined) };
}

/** "[::1]" for IPv6 literals, the text otherwise (URLs, Host headers, messages). */
export function hostForUrl(h: string): string {
  return h.includes(":") ? `[${h}]` : h;
}

/** Printable, short excerpt of untrusted text for problem details. */
export function clip(s: string, max = 64): string {
  const printable = s.replace(/[^\x20-\x7e]/g, "?");
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}
