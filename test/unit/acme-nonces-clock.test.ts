// Nonces across wall-clock steps (clock injected): a step forward past the lifetime expires outstanding
// nonces (badNonce; clients fetch a new one), a step back keeps them valid but single-use, and memory
// stays bounded either way.
import { describe, expect, it } from "vitest";
import { NonceService } from "../../appliance/acme/nonces.js";

const MIN = 60_000;

describe("nonces and clock steps", () => {
  it("a step forward past the lifetime expires outstanding nonces; new ones work", () => {
    let t = Date.now();
    const n = new NonceService({ now: () => t, maxAgeMs: 10 * MIN });
    const a = n.issue();
    t += 11 * MIN;
    expect(n.consume(a)).toBe("expired");
    expect(n.consume(n.issue())).toBe("ok");
  });

  it("a step back keeps outstanding nonces usable exactly once", () => {
    let t = Date.now();
    const n = new NonceService({ now: () => t, maxAgeMs: 10 * MIN });
    const a = n.issue();
    const b = n.issue();
    t -= 2 * 86_400_000;
    expect(n.consume(a)).toBe("ok");
    expect(n.consume(a)).toBe("used");
    const c = n.issue(); // stamped with the wrong (past) time
    expect(n.consume(c)).toBe("ok");
    const d = n.issue();
    t += 2 * 86_400_000 + 5 * MIN; // the clock is put right again
    expect(n.consume(b)).toBe("ok");
    expect(n.consume(c)).not.toBe("ok"); // refused either way (it now looks expired)
    expect(n.consume(d)).toBe("expired"); // looks 2 days old now: badNonce, the client fetches a new one
    expect(n.consume(n.issue())).toBe("ok");
  });

  it("whatever the clock does, remembered nonces stay bounded", () => {
    let t = Date.now();
    const n = new NonceService({ now: () => t, maxUsed: 1000 });
    for (let i = 0; i < 10_000; i++) {
      t += i % 2 ? -3_600_000 : 3_600_000 + 1;
      expect(n.consume(n.issue())).toBe("ok");
    }
    expect(n.remembered).toBeLessThanOrEqual(1001);
  });
});
