// The console's command contract: every command has a strict argument schema, the renderer's view of
// roles matches the engine's, no command signs caller-supplied bytes, and errors never carry a PIN.
import { describe, expect, it } from "vitest";
import { CeremonyError } from "../../ceremonies/errors.js";
import { ROLE_TITLES as ENGINE_TITLES, ROLES as ENGINE_ROLES } from "../../ceremonies/roles.js";
import { type Args, type Command, COMMANDS } from "../../console/common/channels.js";
import { ARG_SCHEMAS, parseArgs } from "../../console/common/schemas.js";
import { ROLE_TITLES, ROLES } from "../../console/common/views.js";
import { createDispatcher } from "../../console/main/commands.js";
import { ConsoleError, toErrorView } from "../../console/main/errors.js";
import type { Handlers } from "../../console/main/service.js";
import { HsmError } from "../../hsm/index.js";

describe("console contract", () => {
  it("has the engine's roles and role titles", () => {
    expect([...ROLES]).toEqual([...ENGINE_ROLES]);
    expect(ROLE_TITLES).toEqual(ENGINE_TITLES);
  });

  it("has exactly one strict schema per command: valid arguments pass, one extra key fails", () => {
    expect(Object.keys(ARG_SCHEMAS).sort()).toEqual([...COMMANDS].sort());
    const tp = { tokenLabel: "p-carol", pin: "pin-carol" };
    const valid: { [C in Command]: Args[C] } = {
      getState: {},
      listTokens: {},
      enrollParticipant: { ...tp, id: "carol", name: "Carol Officer", roles: ["officer"] },
      checkIn: { ...tp, person: "carol" },
      checkOut: { person: "carol" },
      listScripts: {},
      dryRunScript: { packageId: "root-g1" },
      signScript: { ...tp, packageId: "root-g1", person: "carol" },
      startCeremony: { packageId: "root-g1" },
      provideInput: { name: "subca-csr", person: "carol", path: "/media/usb/subca.csr" },
      prepareStep: { stepId: "root-cert" },
      approveStep: { ...tp, stepId: "root-cert", person: "carol", role: "officer" },
      openShare: { ...tp, stepId: "unlock-root", person: "carol" },
      executeStep: { stepId: "root-cert" },
      recordException: { ...tp, stepId: "root-cert", person: "bob", note: "typo" },
      finishCeremony: { note: "" },
      cosign: { ...tp, person: "bob", role: "witness" },
      sealCeremony: {},
      dismissCeremony: {},
      chooseDirectory: { purpose: "export" },
      exportBundle: { destination: "/media/usb" },
      verifyBundle: { path: "/media/usb/bundle" },
      getInventory: {},
      requestRevocation: { serial: "0a1b", reason: "keyCompromise" },
      approveRevocation: { ...tp, requestId: "r-1", person: "carol", role: "officer" },
      executeRevocation: { requestId: "r-1" },
      cancelRevocation: { requestId: "r-1" },
    };
    for (const c of COMMANDS) {
      expect(ARG_SCHEMAS[c].safeParse(valid[c]).success, c).toBe(true);
      expect(ARG_SCHEMAS[c].safeParse({ ...valid[c], unexpected: "key" }).success, c).toBe(false);
    }
  });

  it("offers no command that takes bytes to sign", () => {
    for (const c of COMMANDS) expect(c).not.toMatch(/sign(Bytes|Data|Raw)|raw|bytes/i);
    for (const [c, s] of Object.entries(ARG_SCHEMAS)) {
      const keys = Object.keys((s as unknown as { shape: Record<string, unknown> }).shape);
      expect(
        keys.filter((k) => /data|bytes|tbs|der|payload|digest/i.test(k)),
        c,
      ).toEqual([]);
    }
  });

  it("refuses paths that are not absolute and ids that are not ids", () => {
    expect(() => parseArgs("verifyBundle", { path: "relative/dir" })).toThrow(/absolute/);
    expect(() => parseArgs("exportBundle", { destination: "/media/usb\0x" })).toThrow();
    expect(() => parseArgs("prepareStep", { stepId: "../../etc" })).toThrow();
    expect(() => parseArgs("startCeremony", { packageId: "../x" })).toThrow();
    expect(() =>
      parseArgs("approveStep", { stepId: "a", person: "Bob", role: "officer", tokenLabel: "t", pin: "1" }),
    ).toThrow();
    expect(
      parseArgs("approveStep", { stepId: "a", person: "bob", role: "officer", tokenLabel: "t", pin: "1" }),
    ).toEqual({
      stepId: "a",
      person: "bob",
      role: "officer",
      tokenLabel: "t",
      pin: "1",
    });
  });

  it("maps errors once, by kind, and never echoes a PIN or a stack", () => {
    const pinErr = new HsmError("pkcs11", 'wrong PIN for token "p-carol"', "CKR_PIN_INCORRECT", "C_Login");
    expect(toErrorView(pinErr)).toEqual({ kind: "wrong-pin", message: 'wrong PIN for token "p-carol"' });
    expect(toErrorView(new CeremonyError("quorum-not-met", "needs 1 more"))).toEqual({
      kind: "quorum-not-met",
      message: "needs 1 more",
    });
    expect(toErrorView(new ConsoleError("not-present", "Carol has not checked in"))).toMatchObject({
      kind: "not-present",
    });
    const logged: string[] = [];
    const v = toErrorView(new Error("secret-pin-1234 at /x/y.ts:1"), (m) => logged.push(m));
    expect(v).toEqual({
      kind: "internal",
      message: "internal error in the console (details are in the console's log)",
    });
    expect(logged).toHaveLength(1);
  });

  it("runs commands one at a time and rejects unknown commands and bad arguments as values", async () => {
    const order: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const handlers = {
      prepareStep: async () => {
        order.push("prepare:start");
        await gate;
        order.push("prepare:end");
        return {};
      },
      executeStep: async () => {
        order.push("execute");
        return {};
      },
    } as unknown as Handlers;
    const dispatch = createDispatcher(handlers);
    const a = dispatch("prepareStep", { stepId: "s1" });
    const b = dispatch("executeStep", { stepId: "s1" });
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual(["prepare:start"]);
    release();
    expect((await a).ok).toBe(true);
    expect((await b).ok).toBe(true);
    expect(order).toEqual(["prepare:start", "prepare:end", "execute"]);
    expect(await dispatch("signTheseBytes", {})).toMatchObject({ ok: false, error: { kind: "bad-arguments" } });
    expect(await dispatch("executeStep", { stepId: 7 })).toMatchObject({ ok: false, error: { kind: "bad-arguments" } });
  });
});
