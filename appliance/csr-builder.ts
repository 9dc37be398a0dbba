// Builds PKCS#10 requests with a subjectAltName for a list of identifiers from a Node key pair:
// used for the appliance's own TLS certificate, and by tests and the benchmark for client CSRs.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { type KeyObject, webcrypto } from "node:crypto";
import type { Identifier } from "./ca/api.js";

const ALGS: Record<string, { import: EcKeyImportParams | RsaHashedImportParams; sign: Algorithm | EcdsaParams }> = {
  "P-256": { import: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams },
  "P-384": { import: { name: "ECDSA", namedCurve: "P-384" }, sign: { name: "ECDSA", hash: "SHA-384" } as EcdsaParams },
  rsa: {
    import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    sign: { name: "RSASSA-PKCS1-v1_5" },
  },
};

/**
 * DER CSR naming `identifiers` in SAN (and the first DNS name as CN), signed by `privateKey`. No IP
 * address goes into the CN: OpenSSL checks a CN against the issuer's DNS name constraints.
 */
export async function buildCsr(
  identifiers: Identifier[],
  keys: { privateKey: KeyObject; publicKey: KeyObject },
  opts: { commonName?: boolean } = {},
): Promise<Buffer> {
  const d = keys.privateKey.asymmetricKeyDetails;
  const alg =
    keys.privateKey.asymmetricKeyType === "rsa" ? ALGS.rsa! : ALGS[d?.namedCurve === "secp384r1" ? "P-384" : "P-256"]!;
  const subtle = webcrypto.subtle;
  const firstDns = identifiers.find((i) => i.type === "dns");
  const privateKey = await subtle.importKey(
    "pkcs8",
    keys.privateKey.export({ type: "pkcs8", format: "der" }),
    alg.import,
    false,
    ["sign"],
  );
  const publicKey = await subtle.importKey(
    "spki",
    keys.publicKey.export({ type: "spki", format: "der" }),
    alg.import,
    true,
    ["verify"],
  );
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      ...(opts.commonName !== false && firstDns ? { name: `CN=${firstDns.value}` } : {}),
      keys: { privateKey, publicKey } as CryptoKeyPair,
      signingAlgorithm: alg.sign,
      extensions: [
        new x509.SubjectAlternativeNameExtension(
          identifiers.map((i) => ({ type: i.type === "dns" ? ("dns" as const) : ("ip" as const), value: i.value })),
        ),
      ],
    },
    webcrypto as unknown as Crypto,
  );
  return Buffer.from(csr.rawData);
}
