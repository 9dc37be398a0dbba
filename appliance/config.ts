// The production configuration of `plantroot serve --config FILE` (JSON), validated once at start
// with zod; a bad file is refused with the offending field's name. Embeds the CA and validation
// sections, which their components validate.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { DEFAULT_ACME_CONFIG } from "./acme/service/context.js";
import { ApplianceError } from "./errors.js";

const port = z.int().min(0).max(65535);
const seconds = z.int().min(1);
const limit = z.strictObject({ count: z.int().min(1), periodSeconds: seconds });
const pinSource = z.union([
  z.strictObject({ file: z.string().min(1) }),
  z.strictObject({ env: z.string().min(1) }),
  /** a systemd credential (LoadCredential=NAME:…), read from $CREDENTIALS_DIRECTORY */
  z.strictObject({ credential: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, "must be a credential name") }),
]);

export const acmeConfigSchema = z.strictObject({
  /** newAccount needs External Account Binding (default true) */
  eabRequired: z.boolean().default(true),
  termsOfService: z.url().optional(),
  website: z.url().optional(),
  challengeTypes: z
    .array(z.enum(["http-01", "dns-01", "tls-alpn-01"]))
    .min(1)
    .default([...DEFAULT_ACME_CONFIG.challengeTypes]),
  orderLifetimeSeconds: seconds.default(DEFAULT_ACME_CONFIG.orderLifetimeSeconds),
  pendingAuthorizationLifetimeSeconds: seconds.default(DEFAULT_ACME_CONFIG.pendingAuthorizationLifetimeSeconds),
  validAuthorizationLifetimeSeconds: seconds.default(DEFAULT_ACME_CONFIG.validAuthorizationLifetimeSeconds),
  maxIdentifiersPerOrder: z.int().min(1).max(1000).default(DEFAULT_ACME_CONFIG.maxIdentifiersPerOrder),
  maxPendingOrdersPerAccount: z.int().min(1).max(1_000_000).default(DEFAULT_ACME_CONFIG.maxPendingOrdersPerAccount),
  validationConcurrency: z.int().min(1).max(1024).default(DEFAULT_ACME_CONFIG.validationConcurrency),
  challengeWaitMs: z.int().min(0).max(20_000).default(DEFAULT_ACME_CONFIG.challengeWaitMs),
  finalizeWaitMs: z.int().min(0).max(20_000).default(DEFAULT_ACME_CONFIG.finalizeWaitMs),
  maxBackdateSeconds: z.int().min(0).default(DEFAULT_ACME_CONFIG.maxBackdateSeconds),
  maxFutureStartSeconds: z.int().min(0).default(DEFAULT_ACME_CONFIG.maxFutureStartSeconds),
  renewalInfoRetryAfterSeconds: seconds.default(DEFAULT_ACME_CONFIG.renewalInfoRetryAfterSeconds),
  rateLimits: z
    .strictObject({
      newAccountsPerAddress: limit.default(DEFAULT_ACME_CONFIG.rateLimits.newAccountsPerAddress),
      newOrdersPerAccount: limit.default(DEFAULT_ACME_CONFIG.rateLimits.newOrdersPerAccount),
      newOrdersPerAddress: limit.default(DEFAULT_ACME_CONFIG.rateLimits.newOrdersPerAddress),
      failedValidationsPerAccount: limit.default(DEFAULT_ACME_CONFIG.rateLimits.failedValidationsPerAccount),
      failedValidationsPerAddress: limit.default(DEFAULT_ACME_CONFIG.rateLimits.failedValidationsPerAddress),
    })
    .prefault({}),
});

export const serveConfigSchema = z
  .strictObject({
    /** where the database, the HTTPS key and certificate live */
    dataDir: z.string().min(1),
    listen: z.strictObject({
      host: z.string().min(1),
      /** ACME over HTTPS */
      port: port.default(443),
      /** CRL, OCSP and CA certificates over plain HTTP */
      httpPort: port.default(80),
      metrics: z.strictObject({ host: z.string().min(1).default("127.0.0.1"), port: port.default(9090) }).prefault({}),
    }),
    /** https://name[:port] as devices reach the ACME server (default https://listen.host:listen.port) */
    publicUrl: z
      .string()
      .regex(/^https:\/\/[^/\s?#]+$/, "must be https://host[:port] without a path")
      .optional(),
    /** names and addresses in the appliance's own HTTPS certificate */
    tlsNames: z.array(z.string().min(1)).min(1),
    hsm: z.strictObject({
      /** PKCS#11 module (default: SoftHSM2's) */
      library: z.string().min(1).optional(),
      /** label of the token with the issuing and audit keys */
      token: z.string().min(1),
      /** where the user PIN comes from: {"credential": "hsm-pin"} (systemd), {"file": "/run/…"} or {"env": "NAME"} */
      pin: pinSource,
    }),
    /** the CA section (appliance/ca config) */
    ca: z.unknown(),
    /** the validation section (appliance/validation config) */
    validation: z.unknown(),
    acme: acmeConfigSchema.prefault({}),
    server: z
      .strictObject({
        maxConnections: z.int().min(1).default(2048),
        maxConnectionsPerAddress: z.int().min(1).default(128),
        handshakeTimeoutMs: z.int().min(1000).default(10_000),
        headersTimeoutMs: z.int().min(1000).default(10_000),
        requestTimeoutMs: z.int().min(1000).default(30_000),
        keepAliveTimeoutMs: z.int().min(1000).default(30_000),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    // a wildcard listen address is not a name devices can reach: the directory would advertise it
    if (!c.publicUrl && /^(0\.0\.0\.0|::|\[::\])$/.test(c.listen.host))
      ctx.addIssue({
        code: "custom",
        path: ["publicUrl"],
        message: `required when listen.host is ${c.listen.host} (the URL devices use, e.g. https://ca.plant.example)`,
      });
  });

export type ServeConfig = z.infer<typeof serveConfigSchema>;

/** "field a.b.c: message" for the first few zod issues. */
export function describeIssues(error: z.ZodError, prefix = ""): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `field ${[prefix, ...i.path.map(String)].filter(Boolean).join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}

export function parseServeConfig(raw: unknown, source = "configuration"): ServeConfig {
  const r = serveConfigSchema.safeParse(raw);
  if (!r.success) throw new ApplianceError("malformed", `${source}: ${describeIssues(r.error)}`);
  return r.data;
}

export function loadServeConfig(path: string): ServeConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ApplianceError(
      "malformed",
      `cannot read configuration ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ApplianceError("malformed", `configuration ${path} is not JSON: ${(e as Error).message}`);
  }
  return parseServeConfig(raw, path);
}
