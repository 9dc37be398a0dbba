// The console's own append-only log (JSON lines in the data directory): enrollment, attendance,
// ceremony starts, exports. Evidence proper lives in the ceremony bundle; this is the operator's record.
import { appendFileSync } from "node:fs";
import { join } from "node:path";

export class ConsoleLog {
  private readonly path: string;
  constructor(
    dataDir: string,
    private readonly now: () => Date,
  ) {
    this.path = join(dataDir, "console-log.jsonl");
  }

  append(entry: Record<string, unknown>): void {
    appendFileSync(this.path, `${JSON.stringify({ time: this.now().toISOString(), ...entry })}\n`, { mode: 0o640 });
  }
}
