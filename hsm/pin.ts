// Where a token PIN comes from: a file (systemd credential, removable media), an environment
// variable, or a value already in memory (rebuilt from officers' shares). Never logged.
import { readFileSync } from "node:fs";
import { HsmError } from "./errors.js";

export type PinSource = { file: string } | { env: string } | { value: string };

export function readPin(source: PinSource): string {
  let pin: string | undefined;
  if ("value" in source) pin = source.value;
  else if ("env" in source) {
    pin = process.env[source.env];
    if (pin === undefined) throw new HsmError("bad-pin-source", `PIN environment variable ${source.env} is not set`);
  } else {
    try {
      pin = readFileSync(source.file, "utf8");
    } catch (e) {
      throw new HsmError(
        "bad-pin-source",
        `cannot read PIN file ${source.file}: ${(e as NodeJS.ErrnoException).code ?? "error"}`,
      );
    }
    pin = pin.replace(/\r?\n$/, "");
  }
  if (pin.length === 0) throw new HsmError("bad-pin-source", "PIN is empty");
  return pin;
}

/** Parses `file:/path`, `env:NAME` or a literal PIN (only for tests and demo). */
export function parsePinSource(spec: string): PinSource {
  if (spec.startsWith("file:")) return { file: spec.slice(5) };
  if (spec.startsWith("env:")) return { env: spec.slice(4) };
  return { value: spec };
}
