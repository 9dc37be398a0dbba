// The CA's configuration, validated once at start (zod): HSM key labels, certificate files, PKI
// URLs, device-profile validity, issuance and key policy, CRL/OCSP lifetimes.
import { z } from "zod";
import { ApplianceError } from "../errors.js";
import { DEFAULT_KEY_POLICY } from "./goodkey.js";
import { isValidDnsBase } from "./name-constraints.js";
import { parseCidr } from "./ip.js";
import { DEFAULT_BACKDATE_SECONDS } from "./policy.js";

const dnsBase = z
  .string()
  .refine(isValidDnsBase, { message: "not a DNS subtree (lower-case name, optional leading '.')" });
const cidr = z.string().refine(
  (s) => {
    try {
      parseCidr(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: "not a CIDR range with host bits clear (e.g. 10.20.0.0/16, fd00::/8)" },
);

const profileValidity = z
  .object({
    validityDays: z.number().positive().max(3650).optional(),
    maxValidityDays: z.number().positive().max(3650).optional(),
  })
  .strict();

type ProfilesConfig = {
  validityDays: number;
  maxValidityDays: number;
  perProfile: Partial<Record<string, { validityDays?: number | undefined; maxValidityDays?: number | undefined }>>;
};

/** A device profile's validity after its override (the global values where it sets none). */
export function effectiveValidity(p: ProfilesConfig, name: string): { validityDays: number; maxValidityDays: number } {
  const o = p.perProfile[name];
  return {
    validityDays: o?.validityDays ?? p.validityDays,
    maxValidityDays: o?.maxValidityDays ?? p.maxValidityDays,
  };
}

export const caConfigSchema = z
  .object({
    /** base URL of the plain-HTTP PKI endpoints as devices reach them, e.g. http://pki.plant.example:8080 */
    pkiBaseUrl: z
      .string()
      .regex(
        /^http:\/\/[^/\s?#]+$/,
        "must be http://host[:port] without a path (devices fetch CRL/OCSP over plain HTTP)",
      ),
    hsm: z
      .object({
        /** label of the issuing SubCA's private key on the token */
        issuingKeyLabel: z.string().min(1),
        /** label of the key that signs audit checkpoints */
        auditKeyLabel: z.string().min(1),
      })
      .strict(),
    certificates: z
      .object({
        /** PEM file of the issuing SubCA certificate (must match the HSM key) */
        issuing: z.string().min(1),
        /** PEM file of the root CA certificate */
        root: z.string().min(1),
        /** PEM files of certificates between the SubCA and the root, if any */
        intermediates: z.array(z.string().min(1)).default([]),
        /** DER or PEM file of the root's CRL (made in a ceremony), served at /ca/root.crl */
        rootCrl: z.string().min(1).optional(),
      })
      .strict(),
    profiles: z
      .object({
        default: z.enum(["device-tls", "device-client"]).default("device-tls"),
        /** default validity of device certificates (every profile unless overridden below) */
        validityDays: z.number().positive().max(3650).default(30),
        /** hard maximum for every device profile: no per-profile override may exceed it */
        maxValidityDays: z.number().positive().max(3650).default(397),
        /** per-profile overrides of validityDays / maxValidityDays, e.g. {"device-client": {"validityDays": 7}} */
        perProfile: z
          .object({ "device-tls": profileValidity.optional(), "device-client": profileValidity.optional() })
          .strict()
          .default({}),
      })
      .strict()
      .default({ default: "device-tls", validityDays: 30, maxValidityDays: 397, perProfile: {} }),
    policy: z
      .object({
        permittedDns: z.array(dnsBase).default([]),
        excludedDns: z.array(dnsBase).default([]),
        permittedIp: z.array(cidr).default([]),
        excludedIp: z.array(cidr).default([]),
        backdateSeconds: z.number().int().min(0).max(3600).default(DEFAULT_BACKDATE_SECONDS),
        maxIdentifiers: z.number().int().min(1).max(100).default(20),
      })
      .strict(),
    keyPolicy: z
      .object({
        allowRsa: z.boolean().default(DEFAULT_KEY_POLICY.allowRsa),
        minRsaBits: z.number().int().min(2048).default(DEFAULT_KEY_POLICY.minRsaBits),
        maxRsaBits: z.number().int().max(8192).default(DEFAULT_KEY_POLICY.maxRsaBits),
        requireRsaExponent65537: z.boolean().default(DEFAULT_KEY_POLICY.requireRsaExponent65537),
        allowP256: z.boolean().default(DEFAULT_KEY_POLICY.allowP256),
        allowP384: z.boolean().default(DEFAULT_KEY_POLICY.allowP384),
        allowEd25519: z.boolean().default(DEFAULT_KEY_POLICY.allowEd25519),
        fermatRounds: z.number().int().min(100).max(100_000).default(DEFAULT_KEY_POLICY.fermatRounds),
        /** file of blocked keys: one lower-case hex SHA-256 of the SPKI DER per line, # comments */
        blockedKeysFile: z.string().optional(),
        /** openssl-blacklist files of Debian weak RSA keys (blacklist.RSA-2048, ...); see docs/issuance-cycle.md */
        debianWeakKeysFiles: z.array(z.string().min(1)).min(1).optional(),
      })
      .strict()
      .default({ ...DEFAULT_KEY_POLICY }),
    crl: z
      .object({
        /** nextUpdate - thisUpdate */
        lifetimeSeconds: z
          .number()
          .int()
          .min(300)
          .max(30 * 86400)
          .default(7 * 86400),
        /** regenerate this often even without revocations (must be well before nextUpdate) */
        refreshSeconds: z.number().int().min(60).default(86400),
      })
      .strict()
      .default({ lifetimeSeconds: 7 * 86400, refreshSeconds: 86400 }),
    ocsp: z
      .object({
        /** nextUpdate of responses; also their HTTP cache lifetime */
        lifetimeSeconds: z
          .number()
          .int()
          .min(60)
          .max(7 * 86400)
          .default(3600 * 12),
      })
      .strict()
      .default({ lifetimeSeconds: 3600 * 12 }),
  })
  .strict()
  .refine((c) => c.crl.refreshSeconds <= c.crl.lifetimeSeconds / 2, {
    message: "crl.refreshSeconds must be at most half of crl.lifetimeSeconds",
    path: ["crl", "refreshSeconds"],
  })
  .refine((c) => c.profiles.validityDays <= c.profiles.maxValidityDays, {
    message: "profiles.validityDays must not exceed profiles.maxValidityDays",
    path: ["profiles", "validityDays"],
  })
  .superRefine((c, ctx) => {
    for (const [name, o] of Object.entries(c.profiles.perProfile)) {
      if (!o) continue;
      const { validityDays, maxValidityDays } = effectiveValidity(c.profiles, name);
      if (o.maxValidityDays !== undefined && o.maxValidityDays > c.profiles.maxValidityDays)
        ctx.addIssue({
          code: "custom",
          message: `must not exceed the hard maximum profiles.maxValidityDays (${c.profiles.maxValidityDays})`,
          path: ["profiles", "perProfile", name, "maxValidityDays"],
        });
      else if (validityDays > maxValidityDays)
        ctx.addIssue({
          code: "custom",
          message: `validity of ${validityDays} days exceeds this profile's maximum of ${maxValidityDays} days`,
          path: ["profiles", "perProfile", name, "validityDays"],
        });
    }
  });

export type CaConfig = z.infer<typeof caConfigSchema>;
export type CaConfigInput = z.input<typeof caConfigSchema>;

/** Validates a configuration; a bad one is refused with a message naming the field. */
export function parseCaConfig(input: unknown): CaConfig {
  const r = caConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.length ? issue.path.join(".") : "(root)";
  throw new ApplianceError("malformed", `CA configuration: ${path}: ${issue.message}`);
}

/** The PKI URLs placed in certificates, derived from pkiBaseUrl (paths served by http.ts). */
export function pkiUrls(base: string): { caIssuers: string; crl: string; ocsp: string } {
  return { caIssuers: `${base}/ca/issuing.crt`, crl: `${base}/ca/issuing.crl`, ocsp: `${base}/ocsp` };
}

/** Where the root's own certificate and CRL are served (placed in the SubCA certificate). */
export function rootUrls(base: string): { caIssuers: string; crl: string } {
  return { caIssuers: `${base}/ca/root.crt`, crl: `${base}/ca/root.crl` };
}
