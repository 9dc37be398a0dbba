// The appliance's own HTTPS identity: a P-256 key on disk (0600) and a certificate issued by the
// appliance's SubCA at first start, renewed when two thirds of its lifetime have passed.
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CertificateAuthority, Identifier } from "./ca/api.js";
import { parseCertificate } from "./acme/certificate.js";
import { sameIdentifiers } from "./acme/identifier.js";
import { buildCsr } from "./csr-builder.js";

export interface TlsMaterial {
  key: string;
  /** leaf followed by the issuing chain */
  cert: string;
  notBefore: Date;
  notAfter: Date;
}

export class TlsIdentity {
  private material: TlsMaterial;

  private constructor(
    private readonly dir: string,
    private readonly names: Identifier[],
    private readonly ca: CertificateAuthority,
    material: TlsMaterial,
  ) {
    this.material = material;
  }

  /** Loads the identity from `dir`, issuing a certificate when there is none or it is due. */
  static async ensure(
    dir: string,
    names: Identifier[],
    ca: CertificateAuthority,
    now = new Date(),
  ): Promise<TlsIdentity> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keyPath = join(dir, "key.pem");
    if (!existsSync(keyPath)) {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      writeAtomic(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }) as string);
    }
    const loaded = load(dir);
    const id = new TlsIdentity(dir, names, ca, loaded ?? { key: "", cert: "", notBefore: now, notAfter: now });
    if (!loaded || id.due(now) || !sameNames(loaded.cert, names)) await id.renew();
    return id;
  }

  get current(): TlsMaterial {
    return this.material;
  }

  /** Renewal is due once two thirds of the lifetime have passed. */
  due(now = new Date()): boolean {
    return renewalDue(this.material, now);
  }

  /** Issues a fresh certificate for the same key through the CA; returns the new material. */
  async renew(): Promise<TlsMaterial> {
    const keyPem = readFileSync(join(this.dir, "key.pem"), "utf8");
    const privateKey = createPrivateKey(keyPem);
    const csr = await buildCsr(this.names, { privateKey, publicKey: createPublicKey(privateKey) });
    const issued = await this.ca.issue({ csr, identifiers: this.names, requester: {} });
    writeAtomic(join(this.dir, "cert.pem"), issued.chainPem);
    this.material = { key: keyPem, cert: issued.chainPem, notBefore: issued.notBefore, notAfter: issued.notAfter };
    return this.material;
  }
}

/** True once two thirds of the certificate's lifetime (notBefore .. notAfter) have passed at `now`. */
export function renewalDue(m: { notBefore: Date; notAfter: Date }, now: Date): boolean {
  return now.getTime() >= m.notBefore.getTime() + ((m.notAfter.getTime() - m.notBefore.getTime()) * 2) / 3;
}

function load(dir: string): TlsMaterial | undefined {
  const certPath = join(dir, "cert.pem");
  if (!existsSync(certPath)) return undefined;
  const cert = readFileSync(certPath, "utf8");
  try {
    const x = new X509Certificate(cert);
    return {
      key: readFileSync(join(dir, "key.pem"), "utf8"),
      cert,
      notBefore: new Date(x.validFrom),
      notAfter: new Date(x.validTo),
    };
  } catch {
    return undefined;
  }
}

function sameNames(certPem: string, names: Identifier[]): boolean {
  return sameIdentifiers(parseCertificate(new X509Certificate(certPem).raw).identifiers, names);
}

function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
