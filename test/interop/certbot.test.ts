// certbot (Debian) against the appliance: register with and without EAB, http-01 (standalone) for a
// name under .localhost, renew, revoke; certificates verified by openssl against the demo root.
// This certbot (2.1) refuses IP addresses itself, before talking to any server: asserted as such.
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type InteropEnv,
  newEab,
  opensslVerify,
  pemCerts,
  runTool,
  sansOf,
  serialOf,
  startInterop,
} from "./interop-env.js";

let env: InteropEnv;

beforeAll(async () => {
  env = await startInterop();
});
afterAll(async () => {
  await env?.close();
});

function certbot(dir: string, args: string[]) {
  return runTool(
    "certbot",
    [
      ...args,
      "--non-interactive",
      "--config-dir",
      join(dir, "config"),
      "--work-dir",
      join(dir, "work"),
      "--logs-dir",
      join(dir, "logs"),
    ],
    { REQUESTS_CA_BUNDLE: env.rootFile },
    120_000,
  );
}

function certonly(dir: string, name: string, extra: string[] = []) {
  return certbot(dir, [
    "certonly",
    "--standalone",
    "--agree-tos",
    "--register-unsafely-without-email",
    "--server",
    env.h.directoryUrl,
    "--http-01-port",
    String(env.http01),
    "--http-01-address",
    "127.0.0.1",
    "-d",
    name,
    ...extra,
  ]);
}

function live(dir: string, name: string): { leaf: string; chain: string; path: string } {
  const path = realpathSync(join(dir, "config", "live", name, "cert.pem"));
  return {
    leaf: readFileSync(path, "utf8"),
    chain: pemCerts(readFileSync(join(dir, "config", "live", name, "chain.pem"), "utf8")).join(""),
    path,
  };
}

describe("certbot", () => {
  it("without EAB: issues for a .localhost name, renews, revokes", async () => {
    const dir = join(env.work, "certbot-a");
    const r = await certonly(dir, "certbot-a.localhost");
    expect(r.code, r.out).toBe(0);
    const first = live(dir, "certbot-a.localhost");
    expect(sansOf(first.leaf)).toBe("DNS:certbot-a.localhost");
    expect(opensslVerify(env, first.leaf, first.chain)).toMatch(/OK$/);

    const renew = await certbot(dir, ["renew", "--force-renewal", "--no-random-sleep-on-renew"]);
    expect(renew.code, renew.out).toBe(0);
    const second = live(dir, "certbot-a.localhost");
    expect(serialOf(second.leaf)).not.toBe(serialOf(first.leaf));
    expect(opensslVerify(env, second.leaf, second.chain)).toMatch(/OK$/);

    const rev = await certbot(dir, [
      "revoke",
      "--server",
      env.h.directoryUrl,
      "--cert-path",
      second.path,
      "--reason",
      "superseded",
      "--no-delete-after-revoke",
    ]);
    expect(rev.code, rev.out).toBe(0);
    expect(await env.h.ca.status(serialOf(second.leaf))).toMatchObject({ status: "revoked", reason: 4 });
  });

  it("with EAB: the account is bound to the credential", async () => {
    const dir = join(env.work, "certbot-b");
    const { kid, hmacKey } = await newEab(env);
    const r = await certonly(dir, "certbot-b.localhost", ["--eab-kid", kid, "--eab-hmac-key", hmacKey]);
    expect(r.code, r.out).toBe(0);
    const bound = await env.h.db.get<{ n: number }>("SELECT count(*) AS n FROM acme_accounts WHERE eab_kid = ?", [kid]);
    expect(bound!.n).toBe(1);
    const c = live(dir, "certbot-b.localhost");
    expect(opensslVerify(env, c.leaf, c.chain)).toMatch(/OK$/);
  });

  it("refuses 127.0.0.1 on its own side (certbot 2.1 has no IP identifiers); the appliance sees no order", async () => {
    const before = await env.h.db.get<{ n: number }>("SELECT count(*) AS n FROM acme_orders");
    const r = await certonly(join(env.work, "certbot-ip"), "127.0.0.1");
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/is an IP address/);
    const after = await env.h.db.get<{ n: number }>("SELECT count(*) AS n FROM acme_orders");
    expect(after!.n).toBe(before!.n);
  });
});
