// `plantroot serve` adds the appliance's own listeners to validation.ownListeners.
import { describe, expect, it } from "vitest";
import { withOwnListeners } from "../../appliance/serve.js";
import { parseValidationConfig } from "../../appliance/validation/index.js";

describe("withOwnListeners", () => {
  const base = { allowedNetworks: ["127.0.0.0/8"], resolver: { hosts: { localhost: ["127.0.0.1"] } } };

  it("adds the ACME, PKI and metrics listeners and keeps the configured ones", () => {
    const v = withOwnListeners({ ...base, ownListeners: [{ address: "10.0.0.5", port: 8080 }] }, [
      { host: "127.0.0.1", port: 8443 },
      { host: "127.0.0.1", port: 8080 },
      { host: "127.0.0.1", port: 9090 },
    ]);
    expect(parseValidationConfig(v, "validation").ownListeners).toEqual([
      { address: "10.0.0.5", port: 8080 },
      { address: "127.0.0.1", port: 8443 },
      { address: "127.0.0.1", port: 8080 },
      { address: "127.0.0.1", port: 9090 },
    ]);
  });

  it("a listener on a host name becomes the wildcard addresses (every loopback and host address)", () => {
    const v = withOwnListeners(base, [{ host: "ca.plant.example", port: 443 }]) as { ownListeners: unknown };
    expect(v.ownListeners).toEqual([
      { address: "0.0.0.0", port: 443 },
      { address: "::", port: 443 },
    ]);
    expect(() => parseValidationConfig(v, "validation")).not.toThrow();
  });

  it("leaves a section that is not an object to the schema's error", () => {
    expect(withOwnListeners("nonsense", [{ host: "127.0.0.1", port: 1 }])).toBe("nonsense");
  });
});
