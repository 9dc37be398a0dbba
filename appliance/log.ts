// Structured logs: one JSON object per line (time, level, msg, fields) on a stream, usually stdout.
// Lines written in one event-loop turn leave in one write (a busy server logs a line per request).
import type { Writable } from "node:stream";
import type { Logger } from "./acme/service/index.js";

export type { Logger };

export function jsonLogger(out: Writable = process.stdout, base: Record<string, unknown> = {}): Logger {
  let pending: string[] = [];
  const flush = () => {
    const lines = pending;
    pending = [];
    out.write(lines.join(""));
  };
  const line = (level: string, msg: string, fields?: Record<string, unknown>) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields })}\n`);
  };
  return {
    info: (m, f) => line("info", m, f),
    warn: (m, f) => line("warn", m, f),
    error: (m, f) => line("error", m, f),
  };
}
