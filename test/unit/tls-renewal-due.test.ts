// When the appliance renews its own HTTPS certificate: once two thirds of the lifetime have passed.
import { describe, expect, it } from "vitest";
import { renewalDue } from "../../appliance/tls-identity.js";

describe("renewalDue (two thirds of the lifetime)", () => {
  const notBefore = new Date("2026-01-01T00:00:00Z");
  const notAfter = new Date("2026-04-01T00:00:00Z"); // 90 days
  const at = (days: number) => new Date(notBefore.getTime() + days * 86_400_000);

  it("is not due before 2/3 of the lifetime, and is due from 2/3 on (including after expiry)", () => {
    expect(renewalDue({ notBefore, notAfter }, at(0))).toBe(false);
    expect(renewalDue({ notBefore, notAfter }, at(59.99))).toBe(false);
    expect(renewalDue({ notBefore, notAfter }, new Date(at(60).getTime() - 1))).toBe(false);
    expect(renewalDue({ notBefore, notAfter }, at(60))).toBe(true);
    expect(renewalDue({ notBefore, notAfter }, at(75))).toBe(true);
    expect(renewalDue({ notBefore, notAfter }, at(120))).toBe(true);
  });

  it("scales with the lifetime (a 1-day certificate is due after 16 h)", () => {
    const nb = new Date("2026-05-01T00:00:00Z");
    const na = new Date("2026-05-02T00:00:00Z");
    expect(renewalDue({ notBefore: nb, notAfter: na }, new Date("2026-05-01T15:59:59Z"))).toBe(false);
    expect(renewalDue({ notBefore: nb, notAfter: na }, new Date("2026-05-01T16:00:00Z"))).toBe(true);
  });
});
