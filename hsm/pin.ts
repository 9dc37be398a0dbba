// Where a token PIN comes from: a file (systemd credential, removable media), an inherited file
// descriptor, an environment variable, or a value already in memory (rebuilt from officers' shares).
// Never logged.
import { fstatSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { HsmError } from "./errors.js";

export type PinSource =
  | { file: string }
  | { env: string }
  | { value: string }
  | { credential: string }
  /** an open file descriptor the caller inherited, e.g. `3</etc/plantroot/credentials/hsm-pin` given by root
   * to a command run as the service user, who cannot open that file itself */
  | { fd: number };

export function readPin(source: PinSource): string {
  let pin: string | undefined;
  if ("value" in source) pin = source.value;
  else if ("credential" in source) {
    // a systemd credential (LoadCredential=NAME:PATH): readable only by the service, under $CREDENTIALS_DIRECTORY
    const dir = process.env.CREDENTIALS_DIRECTORY;
    if (!dir || !/^[A-Za-z0-9_.-]+$/.test(source.credential) || source.credential.startsWith("."))
      throw new HsmError(
        "bad-pin-source",
        dir
          ? `bad credential name ${source.credential}`
          : `credential ${source.credential}: CREDENTIALS_DIRECTORY is not set (not running under systemd with LoadCredential)`,
      );
    return readPin({ file: join(dir, source.credential) });
  } else if ("fd" in source) {
    if (!Number.isSafeInteger(source.fd) || source.fd < 0)
      throw new HsmError("bad-pin-source", `bad file descriptor ${source.fd}`);
    try {
      pin = readFd(source.fd);
    } catch (e) {
      throw new HsmError(
        "bad-pin-source",
        `cannot read the PIN from file descriptor ${source.fd}: ${(e as NodeJS.ErrnoException).code ?? "error"} (open it for the command, e.g. ${source.fd}</path/to/pin)`,
      );
    }
    pin = pin.replace(/\r?\n$/, "");
  } else if ("env" in source) {
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

/** Parses `file:/path`, `fd:N`, `env:NAME`, `credential:NAME` (systemd) or a literal PIN (only for tests and demo). */
export function parsePinSource(spec: string): PinSource {
  if (spec.startsWith("file:")) return { file: spec.slice(5) };
  if (/^fd:\d{1,4}$/.test(spec)) return { fd: Number(spec.slice(3)) };
  if (spec.startsWith("credential:")) return { credential: spec.slice(11) };
  if (spec.startsWith("env:")) return { env: spec.slice(4) };
  return { value: spec };
}

/** A regular file is read from its start every time (a ceremony may log in more than once); a pipe once. */
function readFd(fd: number): string {
  if (!fstatSync(fd).isFile()) return readFileSync(fd, "utf8");
  const chunks: Buffer[] = [];
  for (let pos = 0; ; ) {
    const b = Buffer.alloc(4096);
    const n = readSync(fd, b, 0, b.length, pos);
    if (n === 0 || pos > 65536) break;
    chunks.push(b.subarray(0, n));
    pos += n;
  }
  return Buffer.concat(chunks).toString("utf8");
}
