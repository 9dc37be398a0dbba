// Structured logs: one JSON object per line (time, level, msg, fields) on a stream, usually stdout.
import type { Writable } from "node:stream";
import type { Logger } from "./acme/service/index.js";

export type { Logger };

export function jsonLogger(out: Writable = process.stdout, base: Record<string, unknown> = {}): Logger {
  const line = (level: string, msg: string, fields?: Record<string, unknown>) => {
    out.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields })}\n`);
  };
  return {
    info: (m, f) => line("info", m, f),
    warn: (m, f) => line("warn", m, f),
    error: (m, f) => line("error", m, f),
  };
}
