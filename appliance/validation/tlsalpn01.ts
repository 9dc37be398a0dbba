// tls-alpn-01 (RFC 8737, RFC 8738 §6 for IP identifiers): TLS handshake with ALPN acme-tls/1 to
// a vetted address and the checks on the self-signed challenge certificate it presents.
import "reflect-metadata"; // @peculiar/x509 needs it loaded first
import { X509Certificate as NodeX509, createHash } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { SubjectAlternativeName } from "@peculiar/asn1-x509";
import { X509Certificate } from "@peculiar/x509";
import type { ValidationRecord } from "./api.js";
import { type ChallengeContext, type Host, type Outcome, fail, vetHost } from "./challenge-context.js";
import { DialError } from "./dialer.js";
import { bytesEqual, parseIp, reverseName } from "./ip.js";
import type { Target } from "./names.js";

export const ACME_TLS_ALPN = "acme-tls/1";
/** id-pe-acmeIdentifier (RFC 8737 §6.1) */
export const ID_PE_ACME_IDENTIFIER = "1.3.6.1.5.5.7.1.31";
const ID_CE_SUBJECT_ALT_NAME = "2.5.29.17";

/**
 * The certificate checks of RFC 8737 §3 (pure, synchronous): self-signed, exactly
 * one subjectAltName entry equal to the identifier (dNSName, or iPAddress for IP identifiers), and a
 * critical acmeIdentifier extension whose value is the DER OCTET STRING of SHA-256(keyAuthorization).
 */
export function checkAcmeTlsCertificate(
  der: Uint8Array,
  target: Target,
  keyAuthorization: string,
): { ok: true } | { ok: false; detail: string } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(new Uint8Array(der));
  } catch {
    return { ok: false, detail: "the certificate presented does not parse as X.509" };
  }
  const byOid = new Map<string, number>();
  for (const e of cert.extensions) byOid.set(e.type, (byOid.get(e.type) ?? 0) + 1);
  for (const [oid, n] of byOid) {
    if (n > 1) return { ok: false, detail: `the certificate carries extension ${oid} ${n} times` };
  }

  const san = cert.extensions.find((e) => e.type === ID_CE_SUBJECT_ALT_NAME);
  if (!san) return { ok: false, detail: "the certificate has no subjectAltName extension" };
  let names: SubjectAlternativeName;
  try {
    names = AsnConvert.parse(san.value, SubjectAlternativeName);
  } catch {
    return { ok: false, detail: "the certificate's subjectAltName does not parse" };
  }
  if (names.length !== 1) {
    return {
      ok: false,
      detail: `the certificate's subjectAltName has ${names.length} entries; exactly one is required`,
    };
  }
  const gn = names[0]!;
  if (target.kind === "dns") {
    if (gn.dNSName === undefined || gn.dNSName.toLowerCase() !== target.name) {
      return { ok: false, detail: `the certificate's subjectAltName is ${describe(gn)}, not dNSName ${target.name}` };
    }
  } else {
    const ip = gn.iPAddress !== undefined ? parseIp(gn.iPAddress) : undefined;
    if (!ip || ip.family !== target.ip.family || !bytesEqual(ip.bytes, target.ip.bytes)) {
      return { ok: false, detail: `the certificate's subjectAltName is ${describe(gn)}, not iPAddress ${target.text}` };
    }
  }

  const acme = cert.extensions.find((e) => e.type === ID_PE_ACME_IDENTIFIER);
  if (!acme) return { ok: false, detail: "the certificate has no acmeIdentifier extension (1.3.6.1.5.5.7.1.31)" };
  if (!acme.critical) return { ok: false, detail: "the certificate's acmeIdentifier extension is not critical" };
  const digest = createHash("sha256").update(keyAuthorization, "utf8").digest();
  // Authorization ::= OCTET STRING (SIZE (32)), DER: 04 20 <32 bytes>, nothing else
  const value = new Uint8Array(acme.value);
  const expected = Buffer.concat([Buffer.from([0x04, 0x20]), digest]);
  if (!bytesEqual(value, expected)) {
    const shape =
      value.length === 34 && value[0] === 0x04 && value[1] === 0x20
        ? "a different digest"
        : "not a 32-byte OCTET STRING";
    return {
      ok: false,
      detail: `the certificate's acmeIdentifier extension holds ${shape}, not SHA-256 of the key authorization`,
    };
  }

  // signature check natively (OpenSSL): issuer = subject and the signature verifies with its own key.
  // Not X509_check_issued: it also demands keyCertSign, which challenge certificates (e.g. lego's,
  // from Go's crypto/x509) rightly lack; RFC 8737 asks for no CA bits.
  let selfSigned = false;
  try {
    const native = new NodeX509(der);
    selfSigned = native.issuer === native.subject && native.verify(native.publicKey);
  } catch {
    selfSigned = false;
  }
  if (!selfSigned)
    return { ok: false, detail: "the challenge certificate is not self-signed (or its signature does not verify)" };
  return { ok: true };
}

function describe(gn: SubjectAlternativeName[number]): string {
  if (gn.dNSName !== undefined) return `dNSName "${gn.dNSName}"`;
  if (gn.iPAddress !== undefined) return `iPAddress ${gn.iPAddress}`;
  if (gn.uniformResourceIdentifier !== undefined) return "a URI";
  if (gn.rfc822Name !== undefined) return "an e-mail address";
  return "another kind of name";
}

export async function checkTlsAlpn01(
  ctx: ChallengeContext,
  target: Target,
  keyAuthorization: string,
): Promise<Outcome> {
  if (target.kind === "dns" && target.wildcard) {
    return fail("rejectedIdentifier", "wildcard identifiers can only be validated with dns-01 (RFC 8555 §7.1.3)");
  }
  const port = ctx.config.ports.tlsAlpn01;
  const host: Host = target.kind === "dns" ? { kind: "dns", name: target.name } : { kind: "ip", ip: target.ip };
  const servername = target.kind === "dns" ? target.name : reverseName(target.ip);
  const hostname = target.kind === "dns" ? target.name : target.text;
  const record: ValidationRecord = { hostname, port };
  ctx.records.push(record);
  const vetted = await vetHost(ctx, host, port, record, "identifier");
  if (!vetted.ok) return vetted;

  let last: Outcome & { ok: false } = fail("connection", `no address to try for ${hostname}`);
  for (const address of vetted.attempts) {
    record.addressUsed = address;
    let sock: Awaited<ReturnType<ChallengeContext["dialer"]["tls"]>>;
    try {
      sock = await ctx.dialer.tls(
        { address, port },
        { servername, alpn: [ACME_TLS_ALPN], handshakeTimeoutMs: ctx.config.timeouts.requestMs },
        ctx.signal,
      );
    } catch (e) {
      if (!(e instanceof DialError)) throw e;
      if (e.failure === "guard") return fail("connection", e.message);
      if (e.failure === "aborted") return fail("connection", e.message);
      // a failed handshake means the target answered: no point trying the other address family
      if (e.failure === "tls") return fail("tls", e.message);
      last = fail("connection", e.message, true);
      continue;
    }
    try {
      sock.on("error", () => {});
      const alpn = sock.alpnProtocol;
      if (alpn !== ACME_TLS_ALPN) {
        return fail(
          "unauthorized",
          `${hostname} port ${port} did not negotiate ALPN ${ACME_TLS_ALPN} (got ${alpn ? `"${alpn}"` : "none"})`,
        );
      }
      const peer = sock.getPeerX509Certificate();
      if (!peer) return fail("tls", `${hostname} port ${port} presented no certificate`);
      const c = checkAcmeTlsCertificate(peer.raw, target, keyAuthorization);
      return c.ok ? { ok: true } : fail("unauthorized", `${hostname} port ${port}: ${c.detail}`);
    } finally {
      sock.destroy();
    }
  }
  return last;
}
