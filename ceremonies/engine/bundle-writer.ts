// Writes the evidence bundle directory as the ceremony runs: the directory must not exist, every file
// is created exclusively (never overwritten) and synced, the transcript is appended line by line.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { CeremonyError } from "../errors.js";
import { sha256Hex } from "../jcs.js";
import { BUNDLE_PATH } from "../script.js";

export class BundleWriter {
  readonly dir: string;
  private transcriptFd: number | undefined;

  /** Creates `dir` (its parent must exist; `dir` itself must not). */
  constructor(dir: string) {
    this.dir = resolve(dir);
    try {
      mkdirSync(this.dir, { mode: 0o750 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new CeremonyError(
        "check-failed",
        code === "EEXIST"
          ? `bundle directory ${this.dir} already exists`
          : `cannot create bundle directory ${this.dir}: ${code}`,
      );
    }
  }

  /** Absolute path of a bundle-relative path, refusing anything that escapes the bundle. */
  path(rel: string): string {
    if (!BUNDLE_PATH.test(rel) || rel.split("/").includes(".."))
      throw new CeremonyError("check-failed", `"${rel}" is not a valid bundle path`);
    const abs = resolve(this.dir, rel);
    if (!abs.startsWith(this.dir + sep)) throw new CeremonyError("check-failed", `"${rel}" escapes the bundle`);
    return abs;
  }

  exists(rel: string): boolean {
    return existsSync(this.path(rel));
  }

  /** Writes a new file (O_EXCL: an existing file is never overwritten) and fsyncs it; returns its SHA-256. */
  write(rel: string, data: Buffer | string): string {
    const abs = this.path(rel);
    mkdirSync(dirname(abs), { recursive: true, mode: 0o750 });
    let fd: number;
    try {
      fd = openSync(abs, "wx", 0o640);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new CeremonyError(
        "check-failed",
        code === "EEXIST" ? `output ${rel} already exists` : `cannot write ${rel}: ${code}`,
      );
    }
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    try {
      writeSync(fd, buf);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return sha256Hex(buf);
  }

  /** Appends one transcript line and fsyncs: an entry is on disk before the engine moves on. */
  appendTranscript(line: string): void {
    if (this.transcriptFd === undefined) this.transcriptFd = openSync(join(this.dir, "transcript.jsonl"), "ax", 0o640);
    writeSync(this.transcriptFd, line);
    fsyncSync(this.transcriptFd);
  }

  close(): void {
    if (this.transcriptFd !== undefined) closeSync(this.transcriptFd);
    this.transcriptFd = undefined;
  }
}
