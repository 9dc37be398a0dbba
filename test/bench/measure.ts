// Measurement helpers shared by the hardening benchmarks: server CPU and memory from /proc, latency
// percentiles, a timed closed-loop load runner, and waiting for a child's "ready" line.
import { type ChildProcess, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

export const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** utime + stime of a process, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** Resident memory now and at its peak, MB. */
export function memMb(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? Number.NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface LoadResult {
  ok: number;
  errors: Record<string, number>;
  latencies: number[];
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/**
 * Runs `fn` from `concurrency` lanes for `ms` (closed loop: each lane waits for its answer) and
 * summarises. `fn` resolves when the request succeeded and throws (with a short message) when not.
 */
export async function loadFor(ms: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<LoadResult> {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let i = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  const lane = async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        await fn(i++);
        latencies.push(performance.now() - s);
      } catch (e) {
        const k = (e as Error).message.slice(0, 80);
        errors[k] = (errors[k] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    ok: latencies.length,
    errors,
    latencies,
    seconds,
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

export function waitForLine(child: ChildProcess, re: RegExp, ms: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms`)), ms);
    const onExit = (code: number | null) => reject(new Error(`process exited (${code}) before ${re}`));
    child.once("exit", onExit);
    const scan = (stream: NodeJS.ReadableStream | null) =>
      stream &&
      createInterface({ input: stream }).on("line", (line) => {
        const m = re.exec(line);
        if (m) {
          clearTimeout(t);
          child.off("exit", onExit);
          resolve(m);
        }
      });
    scan(child.stdout);
    scan(child.stderr);
  });
}

export const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "-");
