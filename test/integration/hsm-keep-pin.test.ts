// HsmToken.open({keepPin: false}) on a real SoftHSM token: the token logs in once and holds no PIN,
// signs (sync and async, EC and RSA) while its login lasts, and after a session loss refuses with
// `login-required` instead of logging in again — where a token that keeps its PIN recovers by itself.
import { verify } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HsmError, HsmToken } from "../../hsm/index.js";
import { testSoftHsm } from "../helpers/softhsm.js";

const sh = testSoftHsm();
const PIN = "quorum-rebuilt-pin-0123456789";
const opened: HsmToken[] = [];
const open = (label: string, pin: string, keepPin?: boolean) => {
  const t = HsmToken.open({
    library: sh.library,
    label,
    pin: { value: pin },
    ...(keepPin === undefined ? {} : { keepPin }),
  });
  opened.push(t);
  return t;
};
/** Closes every session this process has on the token's slot: what a removed card or a device reset does. */
const loseSessions = (t: HsmToken) => {
  const slotHandle = (t as unknown as { slot: { handle: Buffer } }).slot.handle;
  t.withSession("break", (lib) => lib.C_CloseAllSessions(slotHandle));
};
const refusal = async (p: Promise<unknown> | (() => unknown)): Promise<HsmError> => {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return e as HsmError;
  }
  throw new Error("expected a refusal");
};

beforeAll(() => {
  sh.createToken("quorum-ca", PIN);
  sh.createToken("kept-ca", "kept-pin");
  sh.createToken("shared-ca", PIN);
});
afterAll(() => {
  for (const t of opened) t.close();
});

describe("HsmToken keepPin: false", () => {
  it("holds no PIN once open, and signs with keys it makes and finds", async () => {
    const t = open("quorum-ca", PIN, false);
    expect(t.holdsPin).toBe(false);
    const ec = t.generateKeyPair({ label: "root-g1", spec: "P-384" });
    const rsa = t.generateKeyPair({ label: "root-rsa", spec: "RSA-2048" });
    const data = Buffer.from("to be signed");
    expect(verify("sha384", data, ec.publicKey, ec.signSync(data))).toBe(true);
    expect(verify("sha384", data, ec.publicKey, await ec.sign(data))).toBe(true);
    expect(verify("sha256", data, rsa.publicKey, await rsa.sign(data))).toBe(true);
    // private objects stay visible: the session is logged in without a PIN held
    expect(t.findKey("root-g1").spki.equals(ec.spki)).toBe(true);
    expect(t.holdsPin).toBe(false);
    // a token opened the ordinary way keeps its PIN (for re-login after recovery)
    const kept = open("kept-ca", "kept-pin");
    expect(kept.holdsPin).toBe(true);
  });

  it("after a session loss refuses with login-required (sync, async and key lookup) — a token keeping its PIN recovers", async () => {
    const data = Buffer.from("after the loss");
    const kept = open("kept-ca", "kept-pin");
    const keptKey = kept.generateKeyPair({ label: "k1", spec: "P-256" });
    loseSessions(kept);
    expect(verify("sha256", data, keptKey.publicKey, await keptKey.sign(data))).toBe(true);

    const t = open("quorum-ca", PIN, false);
    const key = t.findKey("root-g1");
    const rsa = t.findKey("root-rsa");
    loseSessions(t);
    for (const e of [
      await refusal(() => key.signSync(data)),
      await refusal(key.sign(data)),
      await refusal(rsa.sign(data)),
      await refusal(() => t.findKey("root-g1")),
    ]) {
      expect(e).toBeInstanceOf(HsmError);
      expect(e.kind).toBe("login-required");
      expect(e.message).toMatch(/PIN was not kept/);
      expect(e.message).toMatch(/new quorum/);
      expect(e.message).not.toContain(PIN);
    }
    // it stays refused: nothing logs in behind the officers' backs
    expect((await refusal(key.sign(data))).kind).toBe("login-required");
    // a new login (what a new quorum unlock does) works again
    const again = open("quorum-ca", PIN, false);
    const k2 = again.findKey("root-g1");
    expect(verify("sha384", data, k2.publicKey, await k2.sign(data))).toBe(true);
  });

  it("does not lend its login to a wrong PIN, and loses it (login-required) when a wrong PIN logs the token out", async () => {
    const t = open("shared-ca", PIN, false);
    const key = t.generateKeyPair({ label: "s1", spec: "P-256" });
    // the same PIN opens a second holder (checked against a keyed digest, not a kept PIN)
    const second = open("shared-ca", PIN);
    expect(second.findKey("s1").spki.equals(key.spki)).toBe(true);
    second.close();
    // a wrong PIN is refused; proving it logged the token out and no kept PIN can restore the login
    const wrong = await refusal(() => open("shared-ca", "not-the-pin"));
    expect(wrong.ckr).toBe("CKR_PIN_INCORRECT");
    const e = await refusal(key.sign(Buffer.from("x")));
    expect(e.kind).toBe("login-required");
  });
});
