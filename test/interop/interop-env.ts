// Shared setup of the interop tests: the appliance (real CA on SoftHSM, real validator) with its
// validation ports pointed at ports a real ACME client listens on, plus helpers to run the client,
// mint EAB credentials and check certificates with openssl against the demo root.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEab } from "../../appliance/acme/service/eab.js";
import { demoValidationConfig } from "../../appliance/validation/index.js";
import { freePort, type Harness, startHarness } from "../helpers/acme-harness.js";

export interface InteropEnv {
  h: Harness;
  /** where the client must listen for http-01 / tls-alpn-01 (the validator connects there) */
  http01: number;
  tlsAlpn01: number;
  work: string;
  rootFile: string;
  close(): Promise<void>;
}

export async function startInterop(opts: { dnsServer?: string } = {}): Promise<InteropEnv> {
  const http01 = await freePort();
  const tlsAlpn01 = await freePort();
  const h = await startHarness({
    validation: () =>
      opts.dnsServer
        ? {
            allowedNetworks: ["127.0.0.0/8", "::1/128"],
            ports: { http01, tlsAlpn01 },
            resolver: {
              dnsServers: [opts.dnsServer],
              hosts: { localhost: ["127.0.0.1"], "*.localhost": ["127.0.0.1"] },
            },
          }
        : demoValidationConfig({ http01Port: http01, tlsAlpn01Port: tlsAlpn01 }),
  });
  const work = mkdtempSync(join(tmpdir(), "interop-"));
  const rootFile = join(work, "root.pem");
  writeFileSync(rootFile, h.rootPem);
  return { h, http01, tlsAlpn01, work, rootFile, close: () => h.close() };
}

export async function newEab(env: InteropEnv): Promise<{ kid: string; hmacKey: string }> {
  const c = await createEab(env.h.db, { label: "interop" });
  return { kid: c.kid, hmacKey: c.hmacKey };
}

export interface ToolRun {
  code: number | null;
  out: string;
}

/** Runs an ACME client to completion (bounded), collecting stdout and stderr. */
export function runTool(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

/** Splits a PEM bundle into certificates. */
export function pemCerts(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

/** `openssl verify` of the leaf (first certificate) against the demo root, intermediates untrusted. */
export function opensslVerify(env: InteropEnv, leafPem: string, chainPem: string): string {
  const dir = mkdtempSync(join(env.work, "verify-"));
  writeFileSync(join(dir, "leaf.pem"), leafPem);
  writeFileSync(join(dir, "chain.pem"), chainPem);
  return execFileSync(
    "openssl",
    ["verify", "-CAfile", env.rootFile, "-untrusted", join(dir, "chain.pem"), join(dir, "leaf.pem")],
    {
      stdio: "pipe",
    },
  )
    .toString()
    .trim();
}

export function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber.toLowerCase();
}

export function sansOf(pem: string): string {
  return new X509Certificate(pem).subjectAltName ?? "";
}
