// The layering of appliance/acme: the domain modules import no Koa, store, validation network code,
// HSM or sockets; only service/ reaches the store; only http/ imports Koa; nothing calls the HSM.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ACME = resolve(import.meta.dirname, "../../../appliance/acme");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

function imports(file: string): string[] {
  const src = readFileSync(file, "utf8");
  return [...src.matchAll(/^\s*import\s[^;]*?from\s+"([^"]+)"/gm), ...src.matchAll(/import\("([^"]+)"\)/g)].map(
    (m) => m[1]!,
  );
}

describe("appliance/acme layering", () => {
  const all = files(ACME).map((f) => ({ rel: relative(ACME, f), deps: imports(f) }));

  it("sees the modules and their imports (control)", () => {
    expect(all.length).toBeGreaterThan(25);
    expect(all.find((f) => f.rel === "http/app.ts")!.deps).toContain("koa");
    expect(all.find((f) => f.rel === "service/orders.ts")!.deps).toContain("../../store/acme/orders.js");
  });

  it("domain modules (the top folder) import no Koa, store, HSM, sockets or HTTP", () => {
    const forbidden = [
      /^koa$/,
      /^@koa\//,
      /\/store\//,
      /\/hsm\//,
      /^node:(net|http|https|tls|dgram|dns)$/,
      /\/validation\/(?!api\.js)/,
    ];
    for (const f of all.filter((x) => !x.rel.includes("/"))) {
      const bad = f.deps.filter((d) => forbidden.some((re) => re.test(d)));
      expect(bad, f.rel).toEqual([]);
    }
  });

  it("only http/ imports Koa, and nothing in acme reaches the HSM", () => {
    for (const f of all) {
      if (!f.rel.startsWith("http/"))
        expect(
          f.deps.filter((d) => /^(koa|@koa\/)/.test(d)),
          f.rel,
        ).toEqual([]);
      expect(
        f.deps.filter((d) => /\/hsm\//.test(d)),
        f.rel,
      ).toEqual([]);
    }
  });

  it("http/ reaches the store and the CA only through the service and the contract", () => {
    for (const f of all.filter((x) => x.rel.startsWith("http/"))) {
      expect(
        f.deps.filter((d) => /\/store\//.test(d) || (/\/ca\//.test(d) && !d.endsWith("/ca/api.js"))),
        f.rel,
      ).toEqual([]);
    }
  });
});
