// createCa: wires a validated configuration, an open HSM token and the Db into a started CA (with
// its audit log and key policy); the one entry point the appliance uses to get a CertificateAuthority.
import { readFileSync } from "node:fs";
import type { HsmToken } from "../../hsm/index.js";
import { AuditLog } from "../audit/index.js";
import { ApplianceError } from "../errors.js";
import type { Db } from "../store/db.js";
import { Ca } from "./ca.js";
import { pemToDer } from "./cert-parse.js";
import { type CaConfig, parseCaConfig } from "./config.js";
import { loadDebianWeakKeys } from "./debian-weak-keys.js";
import { type BlockedKeyCheck, KeyPolicy } from "./goodkey.js";

export interface CreateCaOptions {
  /** raw (validated here) or already parsed configuration */
  config: unknown;
  /** the token holding the issuing key and the audit key, opened and logged in */
  token: HsmToken;
  /** opened with MIGRATIONS from appliance/store/migrations */
  db: Db;
  /** an existing audit log to append to; default: one signed by config.hsm.auditKeyLabel, started here */
  audit?: AuditLog;
  now?: () => Date;
  onError?: (e: unknown) => void;
}

function readCert(path: string, what: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw new ApplianceError(
      "malformed",
      `CA configuration: certificates.${what}: cannot read ${path}: ${(e as Error).message}`,
    );
  }
  const text = data.toString("latin1");
  return text.includes("-----BEGIN") ? pemToDer(text) : data;
}

/** A blocklist file: one lower-case hex SHA-256 of an SPKI DER per line; '#' starts a comment. */
export function loadBlockedKeys(path: string): BlockedKeyCheck {
  const set = new Set<string>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const v = line.replace(/#.*/, "").trim().toLowerCase();
    if (!v) continue;
    if (!/^[0-9a-f]{64}$/.test(v))
      throw new ApplianceError("malformed", `blocked keys file ${path}: bad line "${line}"`);
    set.add(v);
  }
  return (hash) =>
    set.has(hash.toString("hex")) ? `SPKI SHA-256 ${hash.toString("hex")} is listed in ${path}` : undefined;
}

export async function createCa(opts: CreateCaOptions): Promise<Ca> {
  const config: CaConfig = parseCaConfig(opts.config);
  const issuingKey = opts.token.findKey(config.hsm.issuingKeyLabel);
  let audit = opts.audit;
  const ownsAudit = !audit;
  if (!audit) {
    const auditKey = opts.token.findKey(config.hsm.auditKeyLabel);
    audit = new AuditLog(opts.db, auditKey, opts.now ? { now: opts.now } : {});
  }
  const { blockedKeysFile, debianWeakKeysFiles, ...kp } = config.keyPolicy;
  const lists: BlockedKeyCheck[] = [];
  if (blockedKeysFile) lists.push(loadBlockedKeys(blockedKeysFile));
  if (debianWeakKeysFiles) lists.push(loadDebianWeakKeys(debianWeakKeysFiles));
  const keyPolicy = new KeyPolicy(
    kp,
    lists.length ? (hash, key) => lists.map((check) => check(hash, key)).find((why) => why !== undefined) : undefined,
  );
  const rootCrlPath = config.certificates.rootCrl;
  const ca = await Ca.start({
    config,
    db: opts.db,
    audit,
    issuingKey,
    issuingCertificate: readCert(config.certificates.issuing, "issuing"),
    rootCertificate: readCert(config.certificates.root, "root"),
    intermediates: config.certificates.intermediates.map((p) => readCert(p, "intermediates")),
    ...(rootCrlPath
      ? {
          rootCrl: () => {
            try {
              return readCert(rootCrlPath, "rootCrl");
            } catch {
              return undefined;
            }
          },
        }
      : {}),
    keyPolicy,
    ownsAudit,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  if (ownsAudit) audit.start();
  return ca;
}
