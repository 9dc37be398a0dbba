// appliance/acme/renewal-info.ts: RFC 9773 certificate IDs and deterministic, spread renewal windows.
import { describe, expect, it } from "vitest";
import { isAcmeProblem } from "../../../appliance/acme/problems.js";
import { derSerialBytes, formatCertId, parseCertId, suggestedWindow } from "../../../appliance/acme/renewal-info.js";

describe("certificate IDs", () => {
  it("match the RFC 9773 §4.1 example", () => {
    // keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial 00:87:65:43:21
    const aki = Buffer.from("69885B6B87464041E1B37B847BA0AE2CDE01C8D4", "hex");
    const id = formatCertId(aki, "0087654321");
    expect(id).toBe("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    expect(parseCertId(id)).toEqual({ authorityKeyId: aki, serialHex: "0087654321" });
    expect(formatCertId(aki, "87654321")).toBe(id);
  });
  it("refuses malformed IDs", () => {
    for (const bad of ["", "abc", "a.b.c", "a.", ".b", "a+b.cc", "aYhb.gA", "aYhb.AAE"]) {
      let t: string | undefined;
      try {
        parseCertId(bad);
      } catch (e) {
        t = isAcmeProblem(e) ? e.type : "other";
      }
      expect(t, bad).toBe("malformed");
    }
  });
  it("DER serial bytes are minimal and positive", () => {
    expect(derSerialBytes("ff").toString("hex")).toBe("00ff");
    expect(derSerialBytes("0000ff").toString("hex")).toBe("00ff");
    expect(derSerialBytes("7f").toString("hex")).toBe("7f");
  });
});

describe("suggestedWindow", () => {
  const nb = new Date("2026-01-01T00:00:00Z");
  const na = new Date("2026-01-31T00:00:00Z");
  const life = na.getTime() - nb.getTime();

  it("is the same for one certificate every time and lies in the middle part of its life", () => {
    const w1 = suggestedWindow({ serialHex: "0abc", notBefore: nb, notAfter: na, revoked: false }, nb);
    const w2 = suggestedWindow({ serialHex: "0abc", notBefore: nb, notAfter: na, revoked: false }, new Date());
    expect(w1).toEqual(w2);
    expect(w1.start.getTime()).toBeGreaterThanOrEqual(nb.getTime() + life * 0.5 - 1000);
    expect(w1.end.getTime()).toBeLessThanOrEqual(nb.getTime() + life * 0.8 + 1000);
    expect(w1.end.getTime()).toBeGreaterThan(w1.start.getTime());
  });

  it("spreads a fleet enrolled at the same moment over a quarter of the lifetime", () => {
    const starts = Array.from({ length: 2000 }, (_, i) =>
      suggestedWindow(
        { serialHex: (0x1000 + i).toString(16), notBefore: nb, notAfter: na, revoked: false },
        nb,
      ).start.getTime(),
    );
    const lo = Math.min(...starts);
    const hi = Math.max(...starts);
    expect(hi - lo).toBeGreaterThan(life * 0.24);
    // no hour of the spread holds much more than its share (2000 certs over 180 hours ≈ 11 per hour)
    const perHour = new Map<number, number>();
    for (const s of starts) perHour.set(Math.floor(s / 3600_000), (perHour.get(Math.floor(s / 3600_000)) ?? 0) + 1);
    expect(Math.max(...perHour.values())).toBeLessThan(40);
  });

  it("tells a revoked certificate to renew now", () => {
    const now = new Date("2026-01-05T00:00:00Z");
    const w = suggestedWindow({ serialHex: "01", notBefore: nb, notAfter: na, revoked: true }, now);
    expect(w.end.getTime()).toBeLessThan(now.getTime());
  });
});
