// The console's path policy on a real file system: only removable-media roots, the data directory and
// dialog-chosen directories; symlinks are resolved, so a link on the medium cannot point elsewhere.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PathPolicy } from "../../console/main/paths.js";

describe("console path policy", () => {
  const base = mkdtempSync(join(tmpdir(), "console-paths-"));
  const media = join(base, "media");
  const other = join(base, "other");
  mkdirSync(join(media, "usb"), { recursive: true });
  mkdirSync(other);
  mkdirSync(`${media}-evil`);
  writeFileSync(join(other, "secret"), "x");
  symlinkSync(other, join(media, "usb", "link"));
  const policy = new PathPolicy([media, join(base, "not-mounted")]);

  it("accepts paths on the medium, existing or about to be created", () => {
    expect(policy.check(join(media, "usb"), "x")).toBe(join(media, "usb"));
    expect(policy.check(join(media, "usb", "new-bundle"), "x")).toBe(join(media, "usb", "new-bundle"));
  });

  it("refuses paths elsewhere, through .. or through a symlink on the medium", () => {
    for (const p of [
      "/etc",
      join(other, "secret"),
      join(media, "..", "other", "secret"),
      join(media, "usb", "link", "secret"),
    ])
      expect(() => policy.check(p, "a bundle"), p).toThrow(/must be on removable media/);
    expect(() => policy.check(`${media}-evil/x`, "a bundle")).toThrow(/must be on removable media/);
  });

  it("reports a missing medium as not found, and allows what the dialog granted", () => {
    expect(() => policy.check(join(base, "not-mounted", "x", "y"), "x")).toThrow(/does not exist/);
    policy.grant(other);
    expect(policy.check(join(other, "secret"), "x")).toBe(join(other, "secret"));
  });
});
