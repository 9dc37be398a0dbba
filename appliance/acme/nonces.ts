// Anti-replay nonces (RFC 8555 §6.5): MAC-protected counters with an issue time, so unused nonces
// cost no memory; used ones sit in a bounded set above a low-water mark until they age out.
import { type Cipher, createCipheriv, randomBytes, timingSafeEqual } from "node:crypto";

export interface NonceOptions {
  /** a nonce older than this is refused (ms, default 10 min) */
  maxAgeMs?: number;
  /** most used nonces remembered; older nonces are refused once this many were issued after them */
  maxUsed?: number;
  now?: () => number;
}

export type NonceVerdict = "ok" | "malformed" | "forged" | "expired" | "used";

const COUNTER_BYTES = 6;
const TIME_BYTES = 4;
const MAC_BYTES = 14;
const LEN = COUNTER_BYTES + TIME_BYTES + MAC_BYTES;

export class NonceService {
  /**
   * The MAC is AES-256 (a PRF on one 16-byte block: counter ‖ time ‖ six zero bytes) truncated to
   * MAC_BYTES, under a random per-process key: as strong a 112-bit tag as truncated HMAC-SHA256 for
   * these fixed-length messages, and one block cipher call on a cipher object kept for the process
   * instead of a new HMAC context per nonce (issued and checked on every request).
   */
  private readonly prf: Cipher;
  private readonly block = Buffer.alloc(16);
  private counter = 0;
  /** counters at or below this are refused (they may have been used and forgotten) */
  private lowWater = 0;
  private readonly used = new Set<number>();
  private readonly maxAgeMs: number;
  private readonly maxUsed: number;
  private readonly now: () => number;

  constructor(opts: NonceOptions = {}) {
    this.prf = createCipheriv("aes-256-ecb", randomBytes(32), null);
    this.prf.setAutoPadding(false);
    this.maxAgeMs = opts.maxAgeMs ?? 10 * 60_000;
    this.maxUsed = opts.maxUsed ?? 200_000;
    this.now = opts.now ?? Date.now;
  }

  issue(): string {
    const c = ++this.counter;
    const buf = Buffer.allocUnsafe(LEN);
    buf.writeUIntBE(c, 0, COUNTER_BYTES);
    buf.writeUInt32BE(Math.floor(this.now() / 1000) >>> 0, COUNTER_BYTES);
    this.mac(buf).copy(buf, COUNTER_BYTES + TIME_BYTES, 0, MAC_BYTES);
    return buf.toString("base64url");
  }

  /** Checks and consumes a nonce; any verdict but "ok" means badNonce. */
  consume(nonce: string): NonceVerdict {
    if (nonce.length !== Math.ceil((LEN * 4) / 3) || !/^[A-Za-z0-9_-]+$/.test(nonce)) return "malformed";
    const buf = Buffer.from(nonce, "base64url");
    if (buf.length !== LEN) return "malformed";
    const want = this.mac(buf).subarray(0, MAC_BYTES);
    if (!timingSafeEqual(want, buf.subarray(COUNTER_BYTES + TIME_BYTES))) return "forged";
    const c = buf.readUIntBE(0, COUNTER_BYTES);
    const issuedAt = buf.readUInt32BE(COUNTER_BYTES) * 1000;
    if (this.now() - issuedAt > this.maxAgeMs) return "expired";
    if (c <= this.lowWater || c > this.counter) return "expired";
    if (this.used.has(c)) return "used";
    this.used.add(c);
    if (this.used.size > this.maxUsed) this.prune();
    return "ok";
  }

  /** number of used nonces currently remembered (for tests and metrics) */
  get remembered(): number {
    return this.used.size;
  }

  private prune(): void {
    this.lowWater = Math.max(this.lowWater, this.counter - Math.floor(this.maxUsed / 2));
    for (const c of this.used) if (c <= this.lowWater) this.used.delete(c);
  }

  private mac(buf: Buffer): Buffer {
    buf.copy(this.block, 0, 0, COUNTER_BYTES + TIME_BYTES); // bytes 10..15 of the block stay zero
    return this.prf.update(this.block); // ECB without padding: exactly one block out, no state kept
  }
}
