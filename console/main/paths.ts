// Which local paths the renderer may name: only under the removable-media roots, the console's data
// directory, or a directory the officer picked in the main process's own dialog. A compromised renderer
// cannot make the main process read /etc/shadow into a bundle or write evidence somewhere else.
import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { ConsoleError } from "./errors.js";

export class PathPolicy {
  private readonly roots: string[];
  private readonly granted = new Set<string>();

  constructor(roots: string[]) {
    this.roots = roots.filter((r) => existsSync(r)).map((r) => realpathSync(r));
  }

  /** A path the officer chose in the main process's dialog (never one the renderer typed). */
  grant(path: string): void {
    this.granted.add(realpathSync(path));
  }

  /** Resolves symlinks (of the path, or of its parent when it does not exist yet) and checks the result. */
  check(path: string, what: string): string {
    const abs = resolve(path);
    let real: string;
    try {
      real = existsSync(abs) ? realpathSync(abs) : join(realpathSync(dirname(abs)), basename(abs));
    } catch {
      throw new ConsoleError("not-found", `${abs} does not exist (is the medium mounted?)`);
    }
    const inside = (root: string) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
    if (this.roots.some(inside) || [...this.granted].some(inside)) return real;
    throw new ConsoleError(
      "not-allowed",
      `${what} must be on removable media (${this.roots.join(", ") || "none mounted"}) or chosen in the directory dialog: ${abs}`,
    );
  }
}
