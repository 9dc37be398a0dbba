// hsm/pin.ts: the `credential:NAME` PIN source reads a systemd credential from $CREDENTIALS_DIRECTORY;
// `fd:N` reads an inherited file descriptor.
import { closeSync, mkdtempSync, openSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parsePinSource, readPin } from "../../hsm/pin.js";

const saved = process.env.CREDENTIALS_DIRECTORY;
afterEach(() => {
  if (saved === undefined) delete process.env.CREDENTIALS_DIRECTORY;
  else process.env.CREDENTIALS_DIRECTORY = saved;
});

describe("credential: PIN source", () => {
  it("parses and reads $CREDENTIALS_DIRECTORY/NAME, dropping one trailing newline", () => {
    const dir = mkdtempSync(join(tmpdir(), "creds-"));
    writeFileSync(join(dir, "hsm-pin"), "12345678\n", { mode: 0o400 });
    process.env.CREDENTIALS_DIRECTORY = dir;
    const src = parsePinSource("credential:hsm-pin");
    expect(src).toEqual({ credential: "hsm-pin" });
    expect(readPin(src)).toBe("12345678");
  });

  it("refuses when not running with systemd credentials, and refuses path-like names", () => {
    delete process.env.CREDENTIALS_DIRECTORY;
    expect(() => readPin({ credential: "hsm-pin" })).toThrow(/CREDENTIALS_DIRECTORY is not set/);
    process.env.CREDENTIALS_DIRECTORY = mkdtempSync(join(tmpdir(), "creds-"));
    expect(() => readPin({ credential: "../etc/shadow" })).toThrow(/bad credential name/);
    expect(() => readPin({ credential: "missing" })).toThrow(/cannot read PIN file/);
  });
});

describe("fd: PIN source", () => {
  it("parses fd:N and reads a regular file from its start every time (a ceremony may log in twice)", () => {
    const dir = mkdtempSync(join(tmpdir(), "pinfd-"));
    writeFileSync(join(dir, "pin"), "87654321\n", { mode: 0o400 });
    const fd = openSync(join(dir, "pin"), "r");
    try {
      const src = parsePinSource(`fd:${fd}`);
      expect(src).toEqual({ fd });
      expect(readPin(src)).toBe("87654321");
      expect(readPin(src)).toBe("87654321");
    } finally {
      closeSync(fd);
    }
  });

  it("names the descriptor when it is not open, and never takes fd:x as one", () => {
    expect(() => readPin({ fd: 987 })).toThrow(/cannot read the PIN from file descriptor 987: EBADF/);
    expect(() => readPin({ fd: -1 })).toThrow(/bad file descriptor/);
    expect(parsePinSource("fd:x")).toEqual({ value: "fd:x" });
  });
});
