// CA configuration: per-profile validity overrides are strictly validated (unknown profile or field
// refused, within the profile's own maximum, never above the hard maximum) and reach the profiles.
import { describe, expect, it } from "vitest";
import { effectiveValidity, parseCaConfig, pkiUrls } from "../../appliance/ca/config.js";
import { DAY, deviceProfiles } from "../../appliance/ca/profiles.js";

const base = {
  pkiBaseUrl: "http://pki.plant.example:8080",
  hsm: { issuingKeyLabel: "issuing", auditKeyLabel: "audit" },
  certificates: { issuing: "/x/issuing.pem", root: "/x/root.pem" },
  policy: { permittedDns: ["plant.example"] },
};
const withProfiles = (profiles: unknown) => parseCaConfig({ ...base, profiles });

describe("profiles.perProfile", () => {
  it("defaults: one validity for every device profile", () => {
    const c = parseCaConfig(base);
    expect(c.profiles).toEqual({ default: "device-tls", validityDays: 30, maxValidityDays: 397, perProfile: {} });
    expect(effectiveValidity(c.profiles, "device-client")).toEqual({ validityDays: 30, maxValidityDays: 397 });
  });

  it("an override applies to its profile only", () => {
    const c = withProfiles({
      validityDays: 30,
      perProfile: { "device-client": { validityDays: 7, maxValidityDays: 14 } },
    });
    expect(effectiveValidity(c.profiles, "device-client")).toEqual({ validityDays: 7, maxValidityDays: 14 });
    expect(effectiveValidity(c.profiles, "device-tls")).toEqual({ validityDays: 30, maxValidityDays: 397 });
    const [tls, client] = deviceProfiles(pkiUrls(c.pkiBaseUrl), c.profiles);
    expect(tls).toMatchObject({ name: "device-tls", validitySeconds: 30 * DAY, maxValiditySeconds: 397 * DAY });
    expect(client).toMatchObject({ name: "device-client", validitySeconds: 7 * DAY, maxValiditySeconds: 14 * DAY });
  });

  it("refuses an override above the hard maximum, above its own maximum, or inheriting a smaller one", () => {
    expect(() => withProfiles({ maxValidityDays: 90, perProfile: { "device-tls": { maxValidityDays: 120 } } })).toThrow(
      /profiles\.perProfile\.device-tls\.maxValidityDays: must not exceed the hard maximum profiles\.maxValidityDays \(90\)/,
    );
    expect(() => withProfiles({ perProfile: { "device-client": { validityDays: 20, maxValidityDays: 10 } } })).toThrow(
      /profiles\.perProfile\.device-client\.validityDays: validity of 20 days exceeds this profile's maximum of 10 days/,
    );
    // validityDays inherited (30) above an overriding maximum (10)
    expect(() => withProfiles({ perProfile: { "device-client": { maxValidityDays: 10 } } })).toThrow(
      /device-client\.validityDays: validity of 30 days exceeds/,
    );
    expect(() => withProfiles({ perProfile: { "device-client": { validityDays: 4000 } } })).toThrow(
      /perProfile\.device-client\.validityDays/,
    );
    expect(() => withProfiles({ perProfile: { "device-client": { validityDays: 0 } } })).toThrow(
      /perProfile\.device-client\.validityDays/,
    );
  });

  it("refuses unknown profiles and unknown fields", () => {
    expect(() => withProfiles({ perProfile: { "root-ca": { validityDays: 3000 } } })).toThrow(/profiles\.perProfile/);
    expect(() => withProfiles({ perProfile: { "device-tls": { days: 3 } } })).toThrow(
      /profiles\.perProfile\.device-tls/,
    );
  });
});
