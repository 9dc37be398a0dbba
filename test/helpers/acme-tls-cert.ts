// Test helper: tls-alpn-01 challenge certificates (RFC 8737), correct ones and deliberately broken
// ones (wrong SAN, missing/non-critical/wrong acmeIdentifier, not self-signed), with PEM key.
import "reflect-metadata";
import { createHash, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const ACME_ID = "1.3.6.1.5.5.7.1.31";

export interface ChallengeCertOptions {
  /** SAN entries; default: one for the identifier */
  san?: { type: "dns" | "ip"; value: string }[];
  /** acmeIdentifier: omitted when false; critical by default; the digest of keyAuthorization by default */
  acmeIdentifier?: false | { critical?: boolean; keyAuthorization?: string; rawValue?: Uint8Array };
  /** sign with a different key and issuer name (not self-signed) */
  notSelfSigned?: boolean;
  /** issuer name = subject name, but signed by a different key (self-issued, not self-signed) */
  selfIssuedOtherKey?: boolean;
  /** add a keyUsage extension with these flags (e.g. digitalSignature only, as Go's crypto/x509 makes) */
  keyUsage?: number;
}

export interface ChallengeCert {
  certPem: string;
  keyPem: string;
  der: Uint8Array;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END ${label}-----\n`;
}

export async function challengeCert(
  identifier: { type: "dns" | "ip"; value: string },
  keyAuthorization: string,
  opts: ChallengeCertOptions = {},
): Promise<ChallengeCert> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const extensions: x509.Extension[] = [
    new x509.SubjectAlternativeNameExtension(opts.san ?? [{ type: identifier.type, value: identifier.value }]),
  ];
  if (opts.acmeIdentifier !== false) {
    const a = opts.acmeIdentifier ?? {};
    const digest = createHash("sha256")
      .update(a.keyAuthorization ?? keyAuthorization)
      .digest();
    const value = a.rawValue ?? Buffer.concat([Buffer.from([0x04, 0x20]), digest]);
    extensions.push(new x509.Extension(ACME_ID, a.critical ?? true, new Uint8Array(value)));
  }
  if (opts.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(opts.keyUsage, true));
  const common = {
    serialNumber: "01",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    extensions,
    signingAlgorithm: ALG,
  };
  let cert: x509.X509Certificate;
  if (opts.notSelfSigned || opts.selfIssuedOtherKey) {
    const issuer = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
    cert = await x509.X509CertificateGenerator.create({
      ...common,
      subject: "CN=acme challenge",
      issuer: opts.selfIssuedOtherKey ? "CN=acme challenge" : "CN=someone else",
      publicKey: keys.publicKey,
      signingKey: issuer.privateKey,
    });
  } else {
    cert = await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: "CN=acme challenge", keys });
  }
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { certPem: cert.toString("pem"), keyPem: pem("PRIVATE KEY", pkcs8), der: new Uint8Array(cert.rawData) };
}
