// appliance/acme/nonces.ts: nonces are single-use, unforgeable, expire, and memory stays bounded.
import { describe, expect, it } from "vitest";
import { NonceService } from "../../../appliance/acme/nonces.js";

describe("NonceService", () => {
  it("accepts a fresh nonce once", () => {
    const n = new NonceService();
    const a = n.issue();
    expect(n.consume(a)).toBe("ok");
    expect(n.consume(a)).toBe("used");
  });

  it("refuses forged, malformed and foreign nonces", () => {
    const n = new NonceService();
    const other = new NonceService();
    const a = n.issue();
    const flipped = Buffer.from(a, "base64url");
    flipped[0] = flipped[0]! ^ 1;
    expect(n.consume(flipped.toString("base64url"))).toBe("forged");
    expect(n.consume(other.issue())).toBe("forged");
    expect(n.consume("abc")).toBe("malformed");
    expect(n.consume(`${a.slice(0, -1)}!`)).toBe("malformed");
  });

  it("refuses nonces older than maxAge", () => {
    let t = 1_000_000;
    const n = new NonceService({ maxAgeMs: 60_000, now: () => t });
    const a = n.issue();
    t += 61_000;
    expect(n.consume(a)).toBe("expired");
  });

  it("keeps at most maxUsed nonces; a nonce outlived by maxUsed/2 newer ones is refused", () => {
    const n = new NonceService({ maxUsed: 100 });
    const old = n.issue();
    const recent: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const x = n.issue();
      expect(n.consume(x)).toBe("ok");
      recent.push(x);
    }
    expect(n.remembered).toBeLessThanOrEqual(100);
    expect(n.consume(old)).toBe("expired");
    for (const x of recent.slice(-40)) expect(n.consume(x)).toBe("used");
  });
});
