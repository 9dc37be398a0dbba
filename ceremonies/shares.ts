// M-of-N secrets (the CA token PIN, a backup KEK): Shamir split with `shamir-secret-sharing`, each
// share sealed to one person's share key (ECDH-ES P-256 + HKDF-SHA256 + AES-256-GCM), opened only
// through an ECDH done on that person's token, and rebuilt in memory only from a threshold of shares.
import {
  createCipheriv,
  createDecipheriv,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { combine, split } from "shamir-secret-sharing";
import { z } from "zod";
import { CeremonyError } from "./errors.js";
import { canonicalBytes, HEX64, sha256Hex } from "./jcs.js";
import { B64, keyIdOf, parseEcSpki, spkiOf } from "./keys.js";
import { PERSON_ID } from "./registry.js";

export const ENVELOPE_SCHEME = "ECDH-ES-P256+HKDF-SHA256+A256GCM";

const b64 = z.string().regex(B64);
export const ShareEnvelopeSchema = z.strictObject({
  scheme: z.literal(ENVELOPE_SCHEME),
  recipient: z.string().regex(PERSON_ID),
  /** SHA-256 of the recipient's share-key SPKI */
  recipientKeyId: z.string().regex(HEX64),
  /** what the share belongs to, e.g. "token-pin:plantroot-root:2026-ROOT-G1"; bound as AAD */
  context: z.string().min(1).max(200),
  /** ephemeral P-256 public key (SPKI, base64) */
  ephemeral: b64,
  salt: b64,
  iv: b64,
  ciphertext: b64,
  tag: b64,
});
export type ShareEnvelope = z.infer<typeof ShareEnvelopeSchema>;

export const ShareSetSchema = z.strictObject({
  schema: z.literal("plantroot/share-set/v1"),
  purpose: z.enum(["token-pin", "token-so-pin", "backup-kek"]),
  /** token label (PINs) or key label (KEK) the secret opens */
  subject: z.string().min(1).max(128),
  threshold: z.number().int().min(2).max(255),
  shares: z.array(ShareEnvelopeSchema).min(2).max(255),
  /** SHA-256("plantroot/secret-check/v1" || secret): detects a wrong rebuild before it is used */
  check: z.string().regex(HEX64),
});
export type ShareSet = z.infer<typeof ShareSetSchema>;

const INFO = Buffer.from("plantroot/share-envelope/v1");

function header(e: Omit<ShareEnvelope, "ciphertext" | "tag">): Buffer {
  return canonicalBytes({
    scheme: e.scheme,
    recipient: e.recipient,
    recipientKeyId: e.recipientKeyId,
    context: e.context,
    ephemeral: e.ephemeral,
    salt: e.salt,
    iv: e.iv,
  });
}

function contentKey(shared: Buffer, salt: Buffer, aad: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", shared, salt, Buffer.concat([INFO, Buffer.from([0]), aad]), 32));
}

/** Seals `plaintext` to `recipient`'s P-256 share key. */
export function sealShare(
  plaintext: Uint8Array,
  recipient: { id: string; shareKey: KeyObject },
  context: string,
): ShareEnvelope {
  const eph = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: recipient.shareKey });
  const head = {
    scheme: ENVELOPE_SCHEME,
    recipient: recipient.id,
    recipientKeyId: keyIdOf(recipient.shareKey),
    context,
    ephemeral: spkiOf(eph.publicKey).toString("base64"),
    salt: randomBytes(32).toString("base64"),
    iv: randomBytes(12).toString("base64"),
  } as const;
  const aad = header(head);
  const key = contentKey(shared, Buffer.from(head.salt, "base64"), aad);
  shared.fill(0);
  const c = createCipheriv("aes-256-gcm", key, Buffer.from(head.iv, "base64"));
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  key.fill(0);
  return { ...head, ciphertext: ct.toString("base64"), tag: c.getAuthTag().toString("base64") };
}

/**
 * Opens an envelope. `ecdh` computes the raw ECDH secret with the ephemeral key; for an officer it
 * runs on their token (hsm/derive.ts), so their private key never leaves it. Throws on tampering.
 */
export function openShare(envelope: ShareEnvelope, ecdh: (ephemeral: KeyObject) => Buffer): Buffer {
  const e = ShareEnvelopeSchema.parse(envelope);
  const eph = parseEcSpki(e.ephemeral, "P-256", "ephemeral key", "secret-sharing");
  const shared = ecdh(eph);
  const aad = header(e);
  const key = contentKey(shared, Buffer.from(e.salt, "base64"), aad);
  shared.fill(0);
  try {
    const d = createDecipheriv("aes-256-gcm", key, Buffer.from(e.iv, "base64"));
    d.setAAD(aad);
    d.setAuthTag(Buffer.from(e.tag, "base64"));
    return Buffer.concat([d.update(Buffer.from(e.ciphertext, "base64")), d.final()]);
  } catch {
    throw new CeremonyError(
      "secret-sharing",
      `share for ${e.recipient} (${e.context}) does not open: wrong key or tampered`,
    );
  } finally {
    key.fill(0);
  }
}

export function secretCheck(secret: Uint8Array): string {
  return sha256Hex(Buffer.concat([Buffer.from("plantroot/secret-check/v1"), secret]));
}

/** Splits `secret` M-of-N and seals share i to recipient i. The caller wipes `secret`. */
export async function splitSecret(
  secret: Uint8Array,
  opts: {
    purpose: ShareSet["purpose"];
    subject: string;
    threshold: number;
    recipients: ReadonlyArray<{ id: string; shareKey: KeyObject }>;
    context: string;
  },
): Promise<ShareSet> {
  const n = opts.recipients.length;
  if (opts.threshold < 2 || opts.threshold > n)
    throw new CeremonyError("secret-sharing", `threshold ${opts.threshold} must be between 2 and the ${n} recipients`);
  if (new Set(opts.recipients.map((r) => r.id)).size !== n)
    throw new CeremonyError("secret-sharing", "a person can hold only one share");
  // the library insists on plain Uint8Arrays (constructor check), not Buffers
  const plain = new Uint8Array(secret);
  const shares = await split(plain, n, opts.threshold);
  plain.fill(0);
  try {
    return {
      schema: "plantroot/share-set/v1",
      purpose: opts.purpose,
      subject: opts.subject,
      threshold: opts.threshold,
      shares: opts.recipients.map((r, i) => sealShare(shares[i]!, r, opts.context)),
      check: secretCheck(secret),
    };
  } finally {
    for (const s of shares) s.fill(0);
  }
}

/**
 * Collects opened shares of one share set and rebuilds the secret once `threshold` distinct holders
 * took part. The secret only ever lives in the buffer handed to `use`, which is wiped afterwards,
 * together with every collected share.
 */
export class ShareCollector {
  private readonly opened = new Map<string, Uint8Array>();

  constructor(readonly set: ShareSet) {
    ShareSetSchema.parse(set);
  }

  get threshold(): number {
    return this.set.threshold;
  }

  get holders(): string[] {
    return this.set.shares.map((s) => s.recipient);
  }

  get contributors(): string[] {
    return [...this.opened.keys()];
  }

  get ready(): boolean {
    return this.opened.size >= this.set.threshold;
  }

  envelopeFor(person: string): ShareEnvelope {
    const e = this.set.shares.find((s) => s.recipient === person);
    if (!e)
      throw new CeremonyError("secret-sharing", `${person} holds no share of ${this.set.purpose} ${this.set.subject}`);
    return e;
  }

  /** Opens `person`'s share with an ECDH function bound to their token. */
  contribute(person: string, ecdh: (ephemeral: KeyObject) => Buffer): void {
    if (this.opened.has(person)) throw new CeremonyError("secret-sharing", `${person} already contributed a share`);
    const share = openShare(this.envelopeFor(person), ecdh);
    this.opened.set(person, new Uint8Array(share));
    share.fill(0);
  }

  /** Rebuilds the secret, passes it to `use`, wipes everything. Refuses without a threshold of holders. */
  async use<T>(use: (secret: Buffer) => Promise<T> | T): Promise<T> {
    if (!this.ready)
      throw new CeremonyError(
        "secret-sharing",
        `${this.opened.size} of ${this.set.threshold} required shares of ${this.set.purpose} ${this.set.subject} are present`,
      );
    let combined: Uint8Array;
    try {
      combined = await combine([...this.opened.values()]);
    } catch (e) {
      this.wipe();
      throw new CeremonyError("secret-sharing", `shares do not combine: ${(e as Error).message}`);
    }
    const secret = Buffer.from(combined);
    combined.fill(0);
    try {
      if (secretCheck(secret) !== this.set.check)
        throw new CeremonyError("secret-sharing", `rebuilt ${this.set.purpose} does not match its check value`);
      return await use(secret);
    } finally {
      secret.fill(0);
      this.wipe();
    }
  }

  wipe(): void {
    for (const b of this.opened.values()) b.fill(0);
    this.opened.clear();
  }
}
