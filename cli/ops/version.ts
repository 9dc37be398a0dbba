// The running Plantroot's version: package.json beside the sources, or dist/package.json in a build.
import { readFileSync } from "node:fs";

export function plantrootVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}
