// Configuration of the validation authority: the zod schema (embedded by `plantroot serve --config`),
// its parsed type, the demo configuration, and a parser that names the offending field.
import { z } from "zod";
import { ApplianceError } from "../errors.js";
import { parseCidr, parseIp } from "./ip.js";
import { isHostname } from "./names.js";

const ipString = z.string().refine((s) => parseIp(s) !== undefined, { message: "must be an IPv4 or IPv6 address" });

const cidrString = z.string().superRefine((s, ctx) => {
  const r = parseCidr(s);
  if (!r.ok) ctx.addIssue({ code: "custom", message: r.reason });
});

const port = z.int().min(1).max(65535);

/** "192.0.2.53", "192.0.2.53:5353", "2001:db8::53", "[2001:db8::53]:5353" (node:dns setServers forms) */
const dnsServer = z.string().refine(
  (s) => {
    const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ?? /^([0-9.]+):(\d{1,5})$/.exec(s);
    if (m) return parseIp(m[1]!) !== undefined && Number(m[2]) >= 1 && Number(m[2]) <= 65535;
    return parseIp(s) !== undefined;
  },
  { message: 'must be "IP", "IPv4:port" or "[IPv6]:port"' },
);

/** exact host name, or "*.suffix" matching any name below suffix */
const hostKey = z.string().refine((s) => isHostname(s.startsWith("*.") ? s.slice(2) : s), {
  message: 'must be a lower-case host name or "*.suffix"',
});

const ms = (def: number, max: number) => z.int().min(1).max(max).default(def);

export const validationConfigSchema = z.strictObject({
  /** networks validation may connect to (CIDR or bare address, IPv4 and IPv6); nothing else is reached */
  allowedNetworks: z.array(cidrString).min(1),
  /** addresses of the appliance itself: never contacted on any port */
  ownAddresses: z.array(ipString).default([]),
  /** the appliance's own listeners (ACME, CRL/OCSP, metrics); 0.0.0.0 / :: = every host address */
  ownListeners: z.array(z.strictObject({ address: ipString, port })).default([]),
  /** also refuse every non-loopback address assigned to this host's interfaces (read at each validation) */
  refuseHostAddresses: z.boolean().default(true),
  ports: z
    .strictObject({
      /** http-01 target port (RFC 8555 says 80) */
      http01: port.default(80),
      /** tls-alpn-01 target port (RFC 8737 says 443) */
      tlsAlpn01: port.default(443),
    })
    .prefault({}),
  resolver: z
    .strictObject({
      /** plant DNS servers queried for A/AAAA (http-01, tls-alpn-01) and TXT (dns-01) */
      dnsServers: z.array(dnsServer).min(1).optional(),
      /** static host map, consulted first: exact names and "*.suffix" patterns to addresses */
      hosts: z.record(hostKey, z.array(ipString).min(1)).optional(),
    })
    .refine((r) => r.dnsServers !== undefined || r.hosts !== undefined, {
      message: "set dnsServers, hosts, or both",
    }),
  timeouts: z
    .strictObject({
      /** TCP connect */
      connectMs: ms(5_000, 60_000),
      /** one HTTP exchange or TLS handshake, from connect to the last body byte */
      requestMs: ms(10_000, 120_000),
      /** one DNS query attempt */
      dnsMs: ms(3_000, 60_000),
      dnsTries: z.int().min(1).max(5).default(2),
      /** whole validation including queueing and retries: validate() resolves within this */
      totalMs: ms(30_000, 300_000),
    })
    .prefault({}),
  /** http-01 redirects followed (RFC 8555 does not bound it; Boulder uses 10) */
  maxRedirects: z.int().min(0).max(10).default(10),
  /** largest http-01 response body accepted */
  maxBodyBytes: z.int().min(128).max(65_536).default(8_192),
  /** extra attempts after a transient failure (timeout, refused, DNS server failure) */
  retries: z.int().min(0).max(3).default(1),
  retryDelayMs: z.int().min(0).max(30_000).default(1_000),
  /** validations running at once; the rest wait in a queue */
  concurrency: z.int().min(1).max(1_024).default(32),
  /** validations allowed to wait; beyond this they fail at once with serverInternal */
  maxQueued: z.int().min(0).max(100_000).default(1_000),
});

export type ValidationConfig = z.output<typeof validationConfigSchema>;
export type ValidationConfigInput = z.input<typeof validationConfigSchema>;

/** Parses a config, throwing ApplianceError("malformed") that names the first offending field. */
export function parseValidationConfig(input: unknown, fieldPrefix = "validation"): ValidationConfig {
  const r = validationConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = [fieldPrefix, ...issue.path.map(String)].join(".");
  throw new ApplianceError("malformed", `${path}: ${issue.message}`, { cause: r.error });
}

/**
 * The demo's validation config: loopback only, `localhost` and `*.localhost` resolved to 127.0.0.1
 * by the appliance itself, the appliance's own listeners refused.
 */
export function demoValidationConfig(opts: {
  http01Port?: number;
  tlsAlpn01Port?: number;
  ownListeners?: { address: string; port: number }[];
}): ValidationConfig {
  return parseValidationConfig({
    allowedNetworks: ["127.0.0.0/8", "::1/128"],
    ownListeners: opts.ownListeners ?? [],
    ports: { http01: opts.http01Port ?? 80, tlsAlpn01: opts.tlsAlpn01Port ?? 443 },
    resolver: { hosts: { localhost: ["127.0.0.1"], "*.localhost": ["127.0.0.1"] } },
  });
}
