// `npm run bench:acme-ab`: server CPU per certificate of two (or more) source trees of the appliance
// in the same command, alternating A B B A … so machine load drifts hit both alike (appliance only).
// BENCH_AB_TREES="base=/tmp/plantroot-base,new=." — each tree gets its own demo data directory.
import "reflect-metadata";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { percentile } from "./acme-driver.js";
import { buildOrders, builtTree, measureRun, type Row, startAppliance } from "./servers.js";

const TREES = (process.env.BENCH_AB_TREES ?? `new=${process.cwd()}`).split(",").map((t) => {
  const [name, dir] = t.includes("=") ? (t.split("=") as [string, string]) : [t, t];
  // BENCH_BUILD=1: each tree compiled (dist/, as the package ships it) instead of run through tsx
  return { name, root: process.env.BENCH_BUILD ? builtTree(resolve(dir)) : resolve(dir) };
});
const REPS = Number(process.env.BENCH_AB_REPS ?? 4);
const ORDERS = Number(process.env.BENCH_ORDERS ?? 600);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 400);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "bench-acme-ab-"));
  console.log(
    `bench:acme-ab — ${TREES.map((t) => `${t.name}=${t.root}`).join(", ")}; ${REPS} reps of ${ORDERS} orders (+${WARMUP} warm-up) at c=${CONCURRENCY}`,
  );
  const rows = new Map<string, Row[]>(TREES.map((t) => [t.name, []]));
  try {
    const dirs = new Map<string, string>();
    for (const t of TREES) {
      const d = join(work, t.name);
      mkdirSync(d);
      dirs.set(t.name, d);
      await (await startAppliance(d, t.root)).stop(); // first start: demo ceremony, not timed
    }
    for (let rep = 1; rep <= REPS; rep++) {
      // A B, then B A: a load change during the command shifts both trees alike
      const order = rep % 2 === 1 ? TREES : [...TREES].reverse();
      for (const t of order) {
        const orders = await buildOrders(`${t.name}${rep}-${Date.now().toString(36)}`, WARMUP + ORDERS);
        const server = await startAppliance(dirs.get(t.name)!, t.root);
        let row: Row;
        try {
          row = await measureRun(server, {
            concurrency: CONCURRENCY,
            round: rep,
            orders,
            warmup: WARMUP,
            timed: ORDERS,
            accounts: 16,
            stallMs: 20_000,
            pollMs: 50,
            threads: Boolean(process.env.BENCH_THREADS),
          });
        } finally {
          await server.stop();
        }
        rows.get(t.name)!.push(row);
        console.log(
          `${t.name.padEnd(8)} rep ${rep}: server CPU ${row.cpuMsPerCert.toFixed(2)} ms/cert, ${row.certsPerSec.toFixed(0)} certs/s, p99 ${row.p99.toFixed(0)} ms, peak RSS ${row.peakRssMb.toFixed(0)} MB, failed ${row.result.failed}${row.result.stalled ? " (STALLED)" : ""}` +
            (row.db
              ? `, SQLite calls/cert ${row.db.writerCalls.toFixed(2)} writer + ${row.db.readerCalls.toFixed(2)} reader, commits/cert ${row.db.commits.toFixed(2)}`
              : ""),
        );
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    if (process.env.BENCH_BUILD) for (const t of TREES) rmSync(t.root, { recursive: true, force: true });
  }
  console.log("\ntree      CPU ms/cert: median  (min–max)  runs   failed");
  const base = TREES[0]!.name;
  const med = (name: string) =>
    percentile(
      rows.get(name)!.map((r) => r.cpuMsPerCert),
      50,
    );
  for (const t of TREES) {
    const cpu = rows.get(t.name)!.map((r) => r.cpuMsPerCert);
    const failed = rows.get(t.name)!.reduce((a, r) => a + r.result.failed, 0);
    console.log(
      `${t.name.padEnd(9)} ${med(t.name).toFixed(2).padStart(18)}  (${Math.min(...cpu).toFixed(2)}–${Math.max(...cpu).toFixed(2)})  ${String(cpu.length).padStart(4)}  ${String(failed).padStart(7)}` +
        (t.name === base ? "" : `   ${t.name}/${base} ${(med(t.name) / med(base)).toFixed(3)}`),
    );
  }
  // runs of the same rep ran next to each other: their ratio cancels most of the machine's drift
  for (const t of TREES.slice(1)) {
    const pairs = rows.get(t.name)!.map((r, i) => r.cpuMsPerCert / rows.get(base)![i]!.cpuMsPerCert);
    console.log(
      `paired ${t.name}/${base} per rep: ${pairs.map((x) => x.toFixed(3)).join(", ")}; median ${percentile(pairs, 50).toFixed(3)}`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
