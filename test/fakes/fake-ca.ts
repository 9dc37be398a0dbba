// Test double of the CA contract (appliance/ca/api.ts) for ACME-layer tests: software keys, an
// in-memory store, every call recorded. Not a CA: interop tests and the demo use appliance/ca.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createHash, randomBytes, webcrypto } from "node:crypto";
import type {
  CertificateAuthority,
  Identifier,
  IdentifierVerdict,
  IssuedCertificate,
  IssueRequest,
  ProfileSummary,
  StoredCertificate,
} from "../../appliance/ca/api.js";
import { parseCsr } from "../../appliance/acme/csr.js";
import { sameIdentifiers } from "../../appliance/acme/identifier.js";
import { ApplianceError } from "../../appliance/errors.js";

const crypto = webcrypto as unknown as Crypto;
const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface FakeCaOptions {
  /** identifiers the policy allows (default: localhost, *.localhost, loopback addresses) */
  allow?: (id: Identifier) => boolean;
  profiles?: ProfileSummary[];
}

export const LOCAL_POLICY = (id: Identifier): boolean =>
  id.type === "dns"
    ? id.value === "localhost" || id.value.endsWith(".localhost")
    : id.value.startsWith("127.") || id.value === "::1";

export class FakeCa implements CertificateAuthority {
  readonly issueCalls: IssueRequest[] = [];
  readonly revokeCalls: Array<{ serial: string; reason: number; by: unknown }> = [];
  readonly defaultProfile = "default";
  /** make the next issue() calls throw this */
  failNext: ApplianceError[] = [];
  /** wait this long inside issue() (to catch a server mid-issuance) */
  delayMs = 0;
  private readonly certs = new Map<string, StoredCertificate>();
  private readonly allow: (id: Identifier) => boolean;
  private readonly profileList: ProfileSummary[];

  private constructor(
    private readonly keys: CryptoKeyPair,
    readonly caCert: x509.X509Certificate,
    private readonly ski: Buffer,
    opts: FakeCaOptions,
  ) {
    this.allow = opts.allow ?? LOCAL_POLICY;
    this.profileList = opts.profiles ?? [
      { name: "default", description: "device TLS, 30 days", validitySeconds: 30 * 86400 },
      { name: "short", description: "device TLS, 1 day", validitySeconds: 86400 },
    ];
  }

  static async create(opts: FakeCaOptions = {}): Promise<FakeCa> {
    x509.cryptoProvider.set(crypto);
    const keys = (await crypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
    const spki = Buffer.from(await crypto.subtle.exportKey("spki", keys.publicKey));
    const ski = createHash("sha1").update(spki).digest();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01",
      name: "CN=Fake test CA (not a CA)",
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 365 * 86400_000),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.SubjectKeyIdentifierExtension(ski.toString("hex")),
      ],
    });
    return new FakeCa(keys, cert, ski, opts);
  }

  profiles(): ProfileSummary[] {
    return this.profileList;
  }

  checkIdentifiers(ids: Identifier[]): IdentifierVerdict[] {
    return ids.map((identifier) => ({
      identifier,
      ok: this.allow(identifier),
      ...(this.allow(identifier) ? {} : { reason: `${identifier.value} is outside the test policy` }),
    }));
  }

  async issue(req: IssueRequest): Promise<IssuedCertificate> {
    this.issueCalls.push(req);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const fail = this.failNext.shift();
    if (fail) throw fail;
    const csr = parseCsr(req.csr);
    if (!sameIdentifiers(csr.identifiers, req.identifiers)) throw new ApplianceError("badCSR", "CSR does not match");
    for (const v of this.checkIdentifiers(req.identifiers))
      if (!v.ok) throw new ApplianceError("policyViolation", v.reason ?? "outside policy");
    const profile = this.profileList.find((p) => p.name === (req.profile ?? this.defaultProfile));
    if (!profile) throw new ApplianceError("policyViolation", "unknown profile");
    const serialBytes = randomBytes(16);
    serialBytes[0] = serialBytes[0]! & 0x7f || 0x11;
    const serial = serialBytes.toString("hex");
    const notBefore = req.notBefore ?? new Date(Date.now() - 60_000);
    const notAfter = req.notAfter ?? new Date(notBefore.getTime() + profile.validitySeconds * 1000);
    const publicKey = await crypto.subtle.importKey("spki", new Uint8Array(csr.spki), this.importAlg(csr.spki), true, [
      "verify",
    ]);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: `CN=${req.identifiers[0]!.value}`,
      issuer: this.caCert.subject,
      notBefore,
      notAfter,
      publicKey,
      signingKey: this.keys.privateKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.SubjectAlternativeNameExtension(
          req.identifiers.map((i) => ({ type: i.type === "dns" ? "dns" : "ip", value: i.value }) as const),
        ),
        new x509.AuthorityKeyIdentifierExtension(this.ski.toString("hex")),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      ],
    });
    const der = Buffer.from(cert.rawData);
    this.certs.set(serial, {
      serial,
      der,
      ...(req.requester.accountId ? { accountId: req.requester.accountId } : {}),
      ...(req.requester.orderId ? { orderId: req.requester.orderId } : {}),
      profile: profile.name,
      notBefore,
      notAfter,
      authorityKeyId: this.ski,
      revocation: { status: "good" },
    });
    return { serial, der, chainPem: cert.toString("pem") + "\n" + this.issuerChainPem(), notBefore, notAfter };
  }

  private importAlg(spki: Buffer): EcKeyImportParams | RsaHashedImportParams {
    const s = spki.toString("hex");
    if (s.includes("2a8648ce3d030107")) return { name: "ECDSA", namedCurve: "P-256" };
    if (s.includes("2b81040022")) return { name: "ECDSA", namedCurve: "P-384" };
    return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  }

  async getCertificate(serial: string): Promise<StoredCertificate | undefined> {
    return this.certs.get(serial.toLowerCase());
  }

  async revoke(serial: string, reason: number, by: { accountId?: string; byCertificateKey?: boolean }): Promise<void> {
    this.revokeCalls.push({ serial, reason, by });
    const c = this.certs.get(serial);
    if (!c) throw new ApplianceError("notFound", "no such certificate");
    if (c.revocation.status === "revoked") throw new ApplianceError("alreadyRevoked", "already revoked");
    c.revocation = { status: "revoked", revokedAt: new Date(), reason };
  }

  issuerChainPem(): string {
    return `${this.caCert.toString("pem")}\n`;
  }

  /** how many certificates were issued (the negative tests assert 0) */
  get issuedCount(): number {
    return this.certs.size;
  }
}
