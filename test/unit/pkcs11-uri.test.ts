import { describe, expect, it } from "vitest";
import { formatPkcs11Uri, HsmError, parsePkcs11Uri } from "../../hsm/index.js";

describe("RFC 7512 PKCS#11 URIs", () => {
  it("parses the RFC examples", () => {
    expect(parsePkcs11Uri("pkcs11:object=my-pubkey;type=public")).toEqual({ object: "my-pubkey", type: "public" });
    const u = parsePkcs11Uri(
      "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=",
    );
    expect(u.token).toBe("The Software PKCS#11 Softtoken");
    expect(u.manufacturer).toBe("Snake Oil, Inc.");
    expect(u.type).toBe("cert");
    expect(u.id?.toString("hex")).toBe("69953e5cf4bdec91");
    expect(u.serial).toBe("");
    expect(parsePkcs11Uri("pkcs11:object=a?pin-source=file:/etc/token_pin&module-path=/usr/lib/x.so")).toEqual({
      object: "a",
      pinSource: "file:/etc/token_pin",
      modulePath: "/usr/lib/x.so",
    });
    expect(parsePkcs11Uri("pkcs11:")).toEqual({});
  });

  it("round-trips labels with reserved and non-ASCII characters", () => {
    const u = {
      token: "Plant CA;1/2?",
      object: "SubCA key é=%",
      type: "private" as const,
      id: Buffer.from([0, 255, 16]),
    };
    const s = formatPkcs11Uri(u);
    expect(s).not.toMatch(/ /);
    expect(s.split(";").length).toBe(4);
    expect(parsePkcs11Uri(s)).toEqual(u);
  });

  it("refuses malformed URIs with a typed error", () => {
    for (const bad of [
      "http://x",
      "pkcs11:object",
      "pkcs11:object=a;object=b",
      "pkcs11:type=weird",
      "pkcs11:frobnicate=1",
      "pkcs11:object=%zz",
      "pkcs11:slot-id=abc",
      "pkcs11:object=a?pin-value=1234",
    ]) {
      expect(() => parsePkcs11Uri(bad), bad).toThrow(HsmError);
    }
  });
});
