// Name resolution for validation: the plant's static host map first, then the configured plant DNS
// servers (never the OS resolver). Answers are raw; the network guard filters them afterwards.
import { Resolver } from "node:dns/promises";
import { isHostname } from "./names.js";

export interface ResolverSettings {
  dnsServers?: string[];
  hosts?: Record<string, string[]>;
  timeoutMs: number;
  tries: number;
}

export type ResolveFailure = "nxdomain" | "nodata" | "timeout" | "servfail" | "refused" | "unavailable";

export type AddressAnswer =
  | { ok: true; addresses: string[]; source: string }
  | { ok: false; failure: ResolveFailure; detail: string; source: string };

export type TxtAnswer =
  | { ok: true; records: string[]; source: string }
  | { ok: false; failure: ResolveFailure; detail: string; source: string };

export interface PlantResolver {
  /** A and AAAA for a host name (IPv6 first, then IPv4, as answered). */
  resolveAddresses(name: string, signal?: AbortSignal): Promise<AddressAnswer>;
  /** TXT records of a name, each record's strings joined (RFC 7208 style). */
  resolveTxt(name: string, signal?: AbortSignal): Promise<TxtAnswer>;
}

/**
 * Host-map lookup: an exact entry wins; otherwise the longest "*.suffix" pattern whose suffix the
 * name ends with (at least one more label: "*.localhost" matches "a.localhost" and "b.a.localhost",
 * not "localhost"). Pure.
 */
export function lookupHostMap(hosts: Record<string, string[]>, name: string): string[] | undefined {
  const exact = Object.hasOwn(hosts, name) ? hosts[name] : undefined;
  if (exact) return exact;
  let best: { len: number; addrs: string[] } | undefined;
  for (const [key, addrs] of Object.entries(hosts)) {
    if (!key.startsWith("*.")) continue;
    const suffix = key.slice(1); // ".localhost"
    if (name.length > suffix.length && name.endsWith(suffix) && (!best || suffix.length > best.len)) {
      best = { len: suffix.length, addrs };
    }
  }
  return best?.addrs;
}

function classify(err: unknown): { failure: ResolveFailure; detail: string } {
  const code = (err as { code?: string }).code ?? "";
  switch (code) {
    case "ENOTFOUND":
      return { failure: "nxdomain", detail: "no such name (NXDOMAIN)" };
    case "ENODATA":
      return { failure: "nodata", detail: "no records of that type" };
    case "ETIMEOUT":
    case "ECANCELLED":
      return { failure: "timeout", detail: "DNS query timed out" };
    case "ESERVFAIL":
      return { failure: "servfail", detail: "DNS server failure (SERVFAIL)" };
    case "EREFUSED":
      return { failure: "refused", detail: "DNS server refused the query" };
    case "ECONNREFUSED":
      return { failure: "unavailable", detail: "DNS server unreachable" };
    default:
      return { failure: "servfail", detail: `DNS error ${code || "unknown"}` };
  }
}

export function createPlantResolver(s: ResolverSettings): PlantResolver {
  const servers = s.dnsServers ?? [];
  const dnsSource = `dns ${servers.join(",")}`;

  /** One fresh c-ares channel per lookup: no cache shared between validations, cancellable. */
  async function query<T>(signal: AbortSignal | undefined, fn: (r: Resolver) => Promise<T>): Promise<T> {
    const r = new Resolver({ timeout: s.timeoutMs, tries: s.tries });
    r.setServers(servers);
    const onAbort = () => r.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal?.aborted) throw Object.assign(new Error("aborted"), { code: "ECANCELLED" });
      return await fn(r);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async function resolveAddresses(name: string, signal?: AbortSignal): Promise<AddressAnswer> {
    if (!isHostname(name)) {
      return { ok: false, failure: "nxdomain", detail: `"${name}" is not a valid host name`, source: "input" };
    }
    const mapped = s.hosts ? lookupHostMap(s.hosts, name) : undefined;
    if (mapped) return { ok: true, addresses: [...mapped], source: "hosts" };
    if (servers.length === 0) {
      return { ok: false, failure: "nxdomain", detail: "not in the static host map", source: "hosts" };
    }
    const [v6, v4] = await Promise.allSettled([
      query(signal, (r) => r.resolve6(name)),
      query(signal, (r) => r.resolve4(name)),
    ]);
    const addresses = [...(v6.status === "fulfilled" ? v6.value : []), ...(v4.status === "fulfilled" ? v4.value : [])];
    if (addresses.length > 0) return { ok: true, addresses, source: dnsSource };
    // both empty: report the more telling failure (a server problem beats "no data")
    const errs = [v4, v6]
      .filter((x): x is PromiseRejectedResult => x.status === "rejected")
      .map((x) => classify(x.reason));
    const worst = errs.find((e) => e.failure !== "nodata" && e.failure !== "nxdomain") ??
      errs.find((e) => e.failure === "nxdomain") ?? { failure: "nodata" as const, detail: "no A or AAAA records" };
    return { ok: false, failure: worst.failure, detail: worst.detail, source: dnsSource };
  }

  async function resolveTxt(name: string, signal?: AbortSignal): Promise<TxtAnswer> {
    if (servers.length === 0) {
      return {
        ok: false,
        failure: "unavailable",
        detail: "no plant DNS servers are configured (static host map only), so dns-01 cannot be checked",
        source: "hosts",
      };
    }
    try {
      const rows = await query(signal, (r) => r.resolveTxt(name));
      return { ok: true, records: rows.map((chunks) => chunks.join("")), source: dnsSource };
    } catch (e) {
      const c = classify(e);
      return { ok: false, failure: c.failure, detail: c.detail, source: dnsSource };
    }
  }

  return { resolveAddresses, resolveTxt };
}
