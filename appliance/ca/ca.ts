// The certificate authority: policy check ▶ build TBS ▶ record intent ▶ HSM sign ▶ verify + re-parse
// ▶ record issued + audit, in that order for every certificate; revocation, CRL and OCSP on the same records.
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import type { HsmKey } from "../../hsm/index.js";
import type { AuditLog } from "../audit/index.js";
import { canonicalJson } from "../audit/index.js";
import { ApplianceError, isApplianceError } from "../errors.js";
import { caRepository, type CertRow, type IntentRow } from "../store/ca-repository.js";
import type { Db } from "../store/db.js";
import { signatureAlgorithmOf, verifySignature } from "./algorithms.js";
import type {
  CertificateAuthority,
  Identifier,
  IdentifierVerdict,
  IssuedCertificate,
  IssueRequest,
  ProfileSummary,
  StoredCertificate,
} from "./api.js";
import { Batcher } from "./batcher.js";
import { derToPem, type ParsedCertificate, parseCertificate, subjectKeyIdOf } from "./cert-parse.js";
import { finishSignedParsed, newSerial, sha256 } from "./certificate.js";
import type { CaConfig } from "./config.js";
import { pkiUrls } from "./config.js";
import { isRevocationReason, REVOCATION_REASONS } from "./crl.js";
import { CrlService } from "./crl-service.js";
import { parseCsr, verifyCsrSignature } from "./csr.js";
import { keyIdentifier, OID } from "./extensions.js";
import type { KeyPolicy } from "./goodkey.js";
import { LeafTemplate } from "./leaf-template.js";
import { decodeNameConstraints } from "./name-constraints.js";
import { OcspIssuerHashes } from "./ocsp.js";
import { OcspResponder } from "./ocsp-responder.js";
import { IssuancePolicy } from "./policy.js";
import { assertProfile, deviceProfiles, type LeafProfile } from "./profiles.js";

/** Reasons a subscriber or operator may give (RFC 5280 5.3.1, as the BRs allow for end-entity certificates). */
export const ALLOWED_REVOCATION_REASONS = new Set([0, 1, 3, 4, 5, 9]);

export interface CaDeps {
  config: CaConfig;
  db: Db;
  audit: AuditLog;
  /** the issuing SubCA's private key on the HSM */
  issuingKey: HsmKey;
  issuingCertificate: Buffer;
  rootCertificate: Buffer;
  /** certificates between the SubCA and the root (nearest the SubCA first) */
  intermediates?: Buffer[];
  /** the root's CRL, if installed (served at /ca/root.crl) */
  rootCrl?: () => Buffer | undefined;
  keyPolicy: KeyPolicy;
  now?: () => Date;
  /** operational errors that must not crash the process (CRL schedule, OCSP internals) */
  onError?: (e: unknown) => void;
  /** stop the audit log (final checkpoint) on close(); set when the CA created it */
  ownsAudit?: boolean;
}

interface Completion {
  serial: string;
  der: Buffer;
  issuedAt: number;
  event: Parameters<AuditLog["appendTx"]>[1][number];
  /** the requester's own write in the same transaction (IssueRequest.recordWith) */
  recordWith?: IssueRequest["recordWith"];
}

export class Ca implements CertificateAuthority {
  readonly defaultProfile: string;
  readonly crl: CrlService;
  readonly ocsp: OcspResponder;
  readonly issuing: ParsedCertificate;
  readonly issuingPublicKey: KeyObject;
  private readonly policy: IssuancePolicy;
  private readonly templates = new Map<string, LeafTemplate>();
  private readonly profileList: LeafProfile[];
  private readonly now: () => Date;
  private readonly intents: Batcher<IntentRow>;
  private readonly completions: Batcher<Completion>;
  private readonly chainPem: string;
  private readonly issuerKeyId: Buffer;
  private closed = false;
  /** intents that failed and whose abandonment could not be recorded yet (store unavailable) */
  private readonly unresolved = new Map<string, { serial: string; tbsHash: Buffer; reason: string }>();
  private abandonTimer: NodeJS.Timeout | undefined;
  private retrying = false;

  private constructor(private readonly d: CaDeps) {
    this.now = d.now ?? (() => new Date());
    this.issuing = parseCertificate(d.issuingCertificate);
    this.issuingPublicKey = d.issuingKey.publicKey;
    this.issuerKeyId = subjectKeyIdOf(this.issuing) ?? keyIdentifier(this.issuing.spki);
    const nc = this.issuing.extensions.get(OID.nameConstraints);
    this.policy = new IssuancePolicy(
      {
        names: {
          permittedDns: d.config.policy.permittedDns,
          excludedDns: d.config.policy.excludedDns,
          permittedIp: d.config.policy.permittedIp,
          excludedIp: d.config.policy.excludedIp,
        },
        backdateSeconds: d.config.policy.backdateSeconds,
        maxIdentifiers: d.config.policy.maxIdentifiers,
      },
      nc ? [decodeNameConstraints(nc.value)] : [],
    );
    this.profileList = deviceProfiles(pkiUrls(d.config.pkiBaseUrl), {
      validityDays: d.config.profiles.validityDays,
      maxValidityDays: d.config.profiles.maxValidityDays,
      perProfile: d.config.profiles.perProfile,
    });
    for (const p of this.profileList) assertProfile(p);
    for (const p of this.profileList)
      this.templates.set(
        p.name,
        new LeafTemplate(p, {
          name: this.issuing.subject,
          keyIdentifier: this.issuerKeyId,
          signatureAlgorithm: d.issuingKey.defaultAlgorithm,
        }),
      );
    this.defaultProfile = d.config.profiles.default;
    this.chainPem = [d.issuingCertificate, ...(d.intermediates ?? [])].map((c) => derToPem(c)).join("");
    this.intents = new Batcher((rows) => d.db.write((tx) => caRepository.insertIntents(tx, rows)));
    this.completions = new Batcher((items) =>
      d.db.write(async (tx) => {
        await caRepository.completeIssued(tx, items);
        await d.audit.appendTx(
          tx,
          items.map((i) => i.event),
        );
        for (const i of items) if (i.recordWith) await i.recordWith(tx, i.serial);
      }),
    );
    const signer = { sign: (data: Uint8Array, alg: Parameters<HsmKey["sign"]>[1]) => d.issuingKey.sign(data, alg) };
    this.crl = new CrlService({
      db: d.db,
      audit: d.audit,
      signer,
      issuer: {
        subject: this.issuing.subject,
        keyIdentifier: this.issuerKeyId,
        publicKey: this.issuingPublicKey,
        signatureAlgorithm: d.issuingKey.defaultAlgorithm,
      },
      lifetimeSeconds: d.config.crl.lifetimeSeconds,
      refreshSeconds: d.config.crl.refreshSeconds,
      now: this.now,
      ...(d.onError ? { onError: d.onError } : {}),
    });
    this.ocsp = new OcspResponder({
      issuer: new OcspIssuerHashes({
        subject: this.issuing.subject,
        spki: this.issuing.spki,
        signatureAlgorithm: d.issuingKey.defaultAlgorithm,
      }),
      signer,
      publicKey: this.issuingPublicKey,
      lookup: (serial) => this.status(serial),
      lifetimeSeconds: d.config.ocsp.lifetimeSeconds,
      now: this.now,
      ...(d.onError ? { onError: d.onError } : {}),
    });
  }

  /**
   * Runs the startup checks (HSM key matches the installed SubCA certificate, the SubCA chains to the
   * root and is valid now), resolves intents left by a crash, records configuration changes in the
   * audit chain and makes sure a current CRL exists. Refuses to start otherwise.
   */
  static async start(d: CaDeps): Promise<Ca> {
    const now = (d.now ?? (() => new Date()))();
    let issuing: ParsedCertificate;
    try {
      issuing = parseCertificate(d.issuingCertificate);
    } catch (e) {
      throw new ApplianceError("internal", `the issuing CA certificate cannot be parsed: ${(e as Error).message}`);
    }
    if (!issuing.spki.equals(d.issuingKey.spki))
      throw new ApplianceError(
        "internal",
        `HSM key "${d.issuingKey.label}" does not match the installed issuing CA certificate: refusing to run`,
      );
    const probe = createHash("sha256").update(`plantroot-ca-key-probe:${now.toISOString()}`).digest();
    const probeSig = await d.issuingKey.sign(probe);
    if (!verifySignature(d.issuingKey.defaultAlgorithm, parseKey(issuing.spki), probe, probeSig))
      throw new ApplianceError(
        "internal",
        `HSM key "${d.issuingKey.label}" signs but its signature does not verify with the issuing CA certificate: refusing to run`,
      );
    const bc = issuing.extensions.get(OID.basicConstraints);
    if (!bc?.value.includes(Buffer.from([0x01, 0x01, 0xff])))
      throw new ApplianceError("internal", "the installed issuing certificate is not a CA certificate");
    if (issuing.notBefore > now || issuing.notAfter < now)
      throw new ApplianceError(
        "internal",
        `the issuing CA certificate is not valid now (${issuing.notBefore.toISOString()} .. ${issuing.notAfter.toISOString()})`,
      );
    // the chain up to the root must verify, so devices that trust the root accept what we issue
    const chain = [d.issuingCertificate, ...(d.intermediates ?? []), d.rootCertificate].map((c) => parseCertificate(c));
    for (let i = 0; i + 1 < chain.length; i++) {
      const child = chain[i]!;
      const parent = chain[i + 1]!;
      if (!child.issuer.equals(parent.subject) || !verifiesWith(child, parent))
        throw new ApplianceError("internal", `certificate ${i} of the CA chain is not signed by the next one`);
    }
    const root = chain[chain.length - 1]!;
    if (!root.issuer.equals(root.subject) || !verifiesWith(root, root))
      throw new ApplianceError("internal", "the configured root certificate is not self-signed");

    const ca = new Ca(d);
    await ca.recover();
    await ca.recordConfiguration();
    await ca.crl.init();
    await d.audit.append({
      type: "ca.started",
      actor: "system",
      subject: `ca:${ca.issuerKeyId.toString("hex")}`,
      details: { issuing: sha256(d.issuingCertificate).toString("hex"), key: d.issuingKey.uri },
    });
    return ca;
  }

  /** Intents left in 'signing' by a crash were never handed out: mark them abandoned (serial stays reserved). */
  private async recover(): Promise<void> {
    const open = await caRepository.listSigning(this.d.db);
    if (!open.length) return;
    await this.d.db.write(async (tx) => {
      await caRepository.abandon(
        tx,
        open.map((o) => o.serial),
        "process stopped between intent and completion",
      );
      await this.d.audit.appendTx(
        tx,
        open.map((o) => ({
          type: "certificate.abandoned",
          actor: "system",
          subject: `certificate:${o.serial}`,
          details: { tbsSha256: o.tbs_sha256.toString("hex"), reason: "recovered at startup: never handed out" },
        })),
      );
    });
  }

  /** Appends config.changed when the effective configuration differs from the last recorded one. */
  private async recordConfiguration(): Promise<void> {
    const effective = {
      pkiBaseUrl: this.d.config.pkiBaseUrl,
      profiles: this.profileList,
      policy: this.d.config.policy,
      keyPolicy: this.d.config.keyPolicy,
      crl: this.d.config.crl,
      ocsp: this.d.config.ocsp,
      issuingCertificate: sha256(this.d.issuingCertificate).toString("hex"),
      rootCertificate: sha256(this.d.rootCertificate).toString("hex"),
      issuingKey: this.d.issuingKey.uri,
    };
    const hash = createHash("sha256").update(canonicalJson(effective)).digest("hex");
    const last = await this.d.audit.lastOfType("config.changed");
    const lastHash = last ? (JSON.parse(last.details) as { hash?: string }).hash : undefined;
    if (lastHash === hash) return;
    await this.d.audit.append({
      type: "config.changed",
      actor: "system",
      subject: "config:ca",
      details: { hash, previous: lastHash ?? null, config: effective },
    });
  }

  profiles(): ProfileSummary[] {
    return this.profileList.map((p) => ({
      name: p.name,
      description: p.description,
      validitySeconds: p.validitySeconds,
    }));
  }

  checkIdentifiers(ids: Identifier[]): IdentifierVerdict[] {
    return this.policy.checkIdentifiers(ids);
  }

  async issue(req: IssueRequest): Promise<IssuedCertificate> {
    if (this.closed) throw new ApplianceError("unavailable", "the CA is shutting down", { retryAfter: 5 });
    // ---- policy, checked here whoever called ----
    const profileName = req.profile ?? this.defaultProfile;
    const template = this.templates.get(profileName);
    if (!template) throw new ApplianceError("policyViolation", `unknown certificate profile "${profileName}"`);
    this.policy.assertIdentifiers(req.identifiers);
    const csr = parseCsr(req.csr);
    const key = this.d.keyPolicy.check(csr.spki);
    await verifyCsrSignature(csr, key);
    const { sans, commonName } = this.policy.matchCsr(csr, req.identifiers);
    const now = this.now();
    const { notBefore, notAfter } = this.policy.validity(now, template.profile, this.issuing.notAfter, {
      ...(req.notBefore ? { notBefore: req.notBefore } : {}),
      ...(req.notAfter ? { notAfter: req.notAfter } : {}),
    });

    // ---- build the TBS, record the intent durably ----
    const serialBytes = newSerial();
    const serial = serialBytes.toString("hex");
    const prep = template.prepare({
      serial: serialBytes,
      notBefore,
      notAfter,
      ...(commonName !== undefined ? { commonName } : {}),
      spki: csr.spki,
      rsa: key.type === "rsa",
      sans,
    });
    const requester = req.requester ?? {};
    await this.intents.add({
      serial,
      tbs_sha256: prep.tbsHash,
      tbs: prep.tbs,
      profile: profileName,
      issuer_key_id: this.issuerKeyId,
      identifiers: JSON.stringify(sans),
      account_id: requester.accountId ?? null,
      order_id: requester.orderId ?? null,
      replaces: requester.replaces ?? null,
      not_before: notBefore.getTime(),
      not_after: notAfter.getTime(),
      created_at: now.getTime(),
    });

    // ---- sign, then prove the result before anyone sees it ----
    let der: Buffer;
    try {
      const sig = await this.d.issuingKey.sign(prep.tbs, prep.signatureAlgorithm);
      const done = finishSignedParsed(prep, sig, this.issuingPublicKey);
      der = done.der;
      const back = done.parsed!;
      if (
        back.serial.toString("hex") !== serial ||
        !back.issuer.equals(this.issuing.subject) ||
        back.notBefore.getTime() !== notBefore.getTime() ||
        back.notAfter.getTime() !== notAfter.getTime() ||
        !back.spki.equals(csr.spki)
      )
        throw new ApplianceError("internal", "post-issuance check failed: the certificate does not say what was built");
    } catch (e) {
      await this.abandon(serial, prep.tbsHash, e);
      if (isApplianceError(e)) throw e;
      const he = e as { kind?: string; message?: string };
      throw new ApplianceError("unavailable", `HSM signing failed: ${he.message ?? String(e)}`, {
        cause: e,
        retryAfter: 5,
      });
    }

    // ---- record it as issued (with its audit entry, same transaction) before handing it out ----
    const completion = this.completions.add({
      serial,
      der,
      issuedAt: this.now().getTime(),
      ...(req.recordWith ? { recordWith: req.recordWith } : {}),
      event: {
        type: "certificate.issued",
        actor: requester.accountId ? `acme:account/${requester.accountId}` : "ca",
        subject: `certificate:${serial}`,
        details: {
          profile: profileName,
          identifiers: sans.map((s) => `${s.type}:${s.value}`),
          notBefore: notBefore.toISOString(),
          notAfter: notAfter.toISOString(),
          sha256: sha256(der).toString("hex"),
          orderId: requester.orderId,
          replaces: requester.replaces,
        },
      },
    });
    try {
      await completion;
      if (this.unresolved.size) void this.retryAbandoned(); // the store works again
    } catch (e) {
      // not recorded as issued, so never handed out: abandon it now (or at the next start)
      await this.abandon(serial, prep.tbsHash, e);
      throw isApplianceError(e, "unavailable")
        ? e
        : new ApplianceError("unavailable", "the certificate could not be recorded; retry", {
            cause: e,
            retryAfter: 5,
          });
    }
    return { serial, der, chainPem: derToPem(der) + this.chainPem, notBefore, notAfter };
  }

  private async abandon(serial: string, tbsHash: Buffer, cause: unknown): Promise<void> {
    const reason = `signing or post-issuance check failed: ${(cause as Error)?.message ?? String(cause)}`;
    try {
      await this.writeAbandoned([{ serial, tbsHash, reason }]);
    } catch (e) {
      // the store refused (disk full): keep the intent in memory and retry, so it does not stay in
      // 'signing' until the next start (which would also abandon it)
      this.d.onError?.(e);
      this.unresolved.set(serial, { serial, tbsHash, reason });
      this.retryAbandonLater();
    }
  }

  private writeAbandoned(items: Array<{ serial: string; tbsHash: Buffer; reason: string }>): Promise<void> {
    return this.d.db.write(async (tx) => {
      const events = [];
      for (const i of items) {
        // only an intent still in 'signing' is abandoned (a completion that did commit stays issued)
        if ((await caRepository.abandon(tx, [i.serial], i.reason)) === 0) continue;
        events.push({
          type: "certificate.abandoned",
          actor: "ca",
          subject: `certificate:${i.serial}`,
          details: { tbsSha256: i.tbsHash.toString("hex"), reason: i.reason },
        });
      }
      await this.d.audit.appendTx(tx, events);
    });
  }

  /** Abandons intents whose abandonment could not be written; on a timer, and after every completion. */
  private async retryAbandoned(): Promise<void> {
    if (!this.unresolved.size || this.retrying) return;
    this.retrying = true;
    const items = [...this.unresolved.values()];
    try {
      await this.writeAbandoned(items);
      for (const i of items) this.unresolved.delete(i.serial);
    } catch (e) {
      this.d.onError?.(e);
      this.retryAbandonLater();
    } finally {
      this.retrying = false;
    }
  }

  private retryAbandonLater(): void {
    if (this.abandonTimer || this.closed) return;
    this.abandonTimer = setTimeout(() => {
      this.abandonTimer = undefined;
      void this.retryAbandoned();
    }, 5_000);
    this.abandonTimer.unref();
  }

  async getCertificate(serial: string): Promise<StoredCertificate | undefined> {
    if (!/^[0-9a-f]{2,40}$/.test(serial)) return undefined;
    const row = await caRepository.get(this.d.db, serial);
    return row && row.status === "issued" ? toStored(row) : undefined;
  }

  async certificateForOrder(orderId: string): Promise<StoredCertificate | undefined> {
    const row = await caRepository.issuedForOrder(this.d.db, orderId);
    return row ? toStored(row) : undefined;
  }

  async revoke(
    serial: string,
    reason: number,
    by: { accountId?: string; byCertificateKey?: boolean; actor?: string },
  ): Promise<void> {
    if (!isRevocationReason(reason) || !ALLOWED_REVOCATION_REASONS.has(reason))
      throw new ApplianceError(
        "badRevocationReason",
        `revocation reason ${reason} is not accepted (allowed: ${[...ALLOWED_REVOCATION_REASONS].map((r) => `${r} ${REVOCATION_REASONS[r]}`).join(", ")})`,
      );
    if (!/^[0-9a-f]{2,40}$/.test(serial)) throw new ApplianceError("notFound", `no certificate with serial ${serial}`);
    const actor =
      by.actor ??
      (by.accountId ? `acme:account/${by.accountId}` : by.byCertificateKey ? "acme:certificate-key" : "operator");
    const at = Math.floor(this.now().getTime() / 1000) * 1000;
    await this.d.db.write(async (tx) => {
      const changed = await caRepository.revoke(tx, serial, at, reason, actor);
      if (changed === 0) {
        const row = await caRepository.get(tx, serial);
        if (row?.status !== "issued") throw new ApplianceError("notFound", `no certificate with serial ${serial}`);
        throw new ApplianceError("alreadyRevoked", `certificate ${serial} is already revoked`);
      }
      await this.d.audit.appendTx(tx, [
        {
          type: "certificate.revoked",
          actor,
          subject: `certificate:${serial}`,
          details: {
            reason,
            reasonName: REVOCATION_REASONS[reason],
            revokedAt: new Date(at).toISOString(),
            byCertificateKey: by.byCertificateKey ?? false,
          },
        },
      ]);
    });
    try {
      await this.crl.refresh(`revocation of ${serial}`);
    } catch (e) {
      // the revocation is recorded and OCSP already says so; the CRL service retries by itself
      throw new ApplianceError(
        "unavailable",
        `certificate ${serial} is revoked (OCSP reflects it) but the CRL could not be regenerated yet; it is retried automatically`,
        { cause: e, retryAfter: 60 },
      );
    }
  }

  issuerChainPem(): string {
    return this.chainPem;
  }

  /** OCSP/CRL status of a serial (lower-case hex). Abandoned intents are unknown: never handed out. */
  async status(
    serial: string,
  ): Promise<{ status: "good" } | { status: "revoked"; revokedAt: Date; reason: number } | { status: "unknown" }> {
    const row = await caRepository.status(this.d.db, serial);
    if (row?.status !== "issued") return { status: "unknown" };
    if (row.revoked_at !== null)
      return { status: "revoked", revokedAt: new Date(row.revoked_at), reason: row.revocation_reason ?? 0 };
    return { status: "good" };
  }

  /** DER certificates served over HTTP (AIA caIssuers). */
  caCertificates(): { issuing: Buffer; root: Buffer; rootCrl: Buffer | undefined } {
    return { issuing: this.d.issuingCertificate, root: this.d.rootCertificate, rootCrl: this.d.rootCrl?.() };
  }

  /** The audit log this CA appends to (other components may append through it too). */
  get audit(): AuditLog {
    return this.d.audit;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.abandonTimer) clearTimeout(this.abandonTimer);
    await this.retryAbandoned().catch(() => undefined); // else the next start abandons them
    await this.crl.stop();
    if (this.d.ownsAudit) await this.d.audit.stop();
  }
}

function parseKey(spki: Buffer): KeyObject {
  return createPublicKey({ key: spki, format: "der", type: "spki" });
}

function verifiesWith(child: ParsedCertificate, parent: ParsedCertificate): boolean {
  const alg = signatureAlgorithmOf(child.signatureAlgorithm);
  if (!alg) return false;
  return verifySignature(alg, parseKey(parent.spki), child.tbs, child.signature);
}

function toStored(row: CertRow): StoredCertificate {
  return {
    serial: row.serial,
    der: row.der!,
    ...(row.account_id ? { accountId: row.account_id } : {}),
    ...(row.order_id ? { orderId: row.order_id } : {}),
    profile: row.profile,
    notBefore: new Date(row.not_before),
    notAfter: new Date(row.not_after),
    authorityKeyId: row.issuer_key_id,
    revocation:
      row.revoked_at !== null
        ? { status: "revoked", revokedAt: new Date(row.revoked_at), reason: row.revocation_reason ?? 0 }
        : { status: "good" },
  };
}
