// Writes the machine-readable debian/copyright of the plantroot package: Plantroot itself plus one
// stanza per bundled npm package (name, version, license, its copyright lines), from the staged tree.
// Usage: node copyright.mjs STAGE_DIR > copyright
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const stage = process.argv[2];
const out = [
  "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
  "Upstream-Name: plantroot",
  "",
  "Files: *",
  "Copyright: Plantroot contributors",
  "License: Apache-2.0",
  " On Debian systems the full text of the Apache License 2.0 is in",
  " /usr/share/common-licenses/Apache-2.0.",
  "",
];
const licenses = new Set();
const packages = [];
const walk = (dir) => {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".")) continue;
    const p = join(dir, name);
    if (name.startsWith("@")) walk(p);
    else if (existsSync(join(p, "package.json"))) {
      packages.push(p);
      walk(join(p, "node_modules"));
    }
  }
};
walk(join(stage, "node_modules"));
for (const p of packages) {
  const pkg = JSON.parse(readFileSync(join(p, "package.json"), "utf8"));
  let license = typeof pkg.license === "string" ? pkg.license : (pkg.license?.type ?? "UNKNOWN");
  license = license.replace(/^\((.*)\)$/, "$1");
  const lic = readdirSync(p).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  const text = lic ? readFileSync(join(p, lic), "utf8") : "";
  const holders = [...new Set(text.split("\n").filter((l) => /^\s*copyright\s+(\(c\)|©|\d{4})/i.test(l)))]
    .map((l) => l.trim())
    .slice(0, 5);
  out.push(`Files: usr/lib/plantroot/${p.slice(stage.length + 1)}/*`);
  out.push(`Copyright: ${holders.length ? holders.join("\n ") : `${pkg.name} authors`}`);
  out.push(`License: ${license}`);
  out.push(
    ` ${pkg.name} ${pkg.version}${lic ? `; full text in usr/lib/plantroot/${p.slice(stage.length + 1)}/${lic}` : ""}`,
  );
  out.push("");
  for (const l of license.split(/\s+(?:OR|AND)\s+/)) licenses.add(l);
}
process.stdout.write(out.join("\n"));
process.stderr.write(`copyright: ${packages.length} bundled packages; licenses: ${[...licenses].sort().join(", ")}\n`);
