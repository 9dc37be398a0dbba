// SIGKILL through ACME, repeatedly: `plantroot demo` serves 7 device lanes (newOrder → http-01 →
// finalize → download) and a revoking lane, and is killed at random moments, CYCLES times, then started
// once more. Every certificate a device downloaded is still served for its order, byte for byte, and
// stored as issued exactly once; serials never repeat; no intent is left half-done; the audit chain
// verifies; the CRL lists every revocation a device was told succeeded.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../appliance/audit/index.js";
import { parseCertificate, pemToDer } from "../../appliance/ca/cert-parse.js";
import { openReadOnly } from "../../appliance/store/readonly.js";
import { RawAccount, RawAcmeClient } from "../helpers/acme-raw-client.js";
import { csrFor } from "../helpers/csr.js";
import { type DemoProcess, startDemo } from "../helpers/demo-process.js";
import { freePort } from "../helpers/ports.js";
import { openssl } from "../helpers/softhsm.js";

const CYCLES = Number(process.env.PLANTROOT_ACME_CRASH_CYCLES ?? "4");
const dataDir = mkdtempSync(join(tmpdir(), "acme-crash-"));
let ports: number[];
const keyAuth = new Map<string, string>();
let responder: http.Server;

beforeAll(async () => {
  ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  responder = http.createServer((req, res) => {
    const ka = keyAuth.get((req.url ?? "").split("/").pop() ?? "");
    if (ka) res.writeHead(200).end(ka);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => responder.listen(ports[2], "127.0.0.1", () => r()));
});
afterAll(async () => {
  await new Promise((r) => responder.close(r));
});

interface Ack {
  serial: string;
  sha: string;
  orderUrl: string;
  account: number;
}

describe("SIGKILL during ACME issuance and revocation", () => {
  it(`${CYCLES} kills under load, then a clean start: nothing acknowledged is lost or doubled`, async () => {
    const acks: Ack[] = [];
    const revokedAck = new Set<string>();
    const keys: RawAccount["key"][] = [];
    const urls: string[] = [];
    let demo: DemoProcess | undefined;
    for (let cycle = 0; cycle <= CYCLES; cycle++) {
      demo = await startDemo(dataDir, ports);
      const directory = demo.line.replace(/^ACME directory: /, "");
      const c = await new RawAcmeClient(directory, readFileSync(join(dataDir, "root.pem"), "utf8")).init();
      c.publish = (t, ka) => keyAuth.set(t, ka);
      if (cycle === 0)
        for (let i = 0; i < 7; i++) {
          const a = await RawAccount.create(c);
          keys.push(a.key);
          urls.push(a.url);
        }
      const accounts = keys.map((k, i) => new RawAccount(c, k, urls[i]!));
      if (cycle === CYCLES) {
        // the final, clean start: what devices were given is still there
        for (const a of acks) {
          const o = (await accounts[a.account]!.post(a.orderUrl, "")).json();
          expect(o.status, a.orderUrl).toBe("valid");
          const pem = (await accounts[a.account]!.post(o.certificate as string, "")).body;
          expect(createHash("sha256").update(pemToDer(pem)).digest("hex")).toBe(a.sha);
        }
        c.close();
        break;
      }
      let killed = false;
      const before = acks.length;
      const lane = async (li: number) => {
        const a = accounts[li]!;
        for (let i = 0; !killed; i++) {
          try {
            const ids = [{ type: "dns" as const, value: `c${cycle}-l${li}-${i}.localhost` }];
            const o = await a.newOrder(ids);
            await a.validate(o);
            await a.finalize(o, csrFor(ids));
            const done = await a.settled(o.url);
            if (done.status !== "valid") continue;
            const der = pemToDer((await a.post(done.certificate as string, "")).body);
            acks.push({
              serial: parseCertificate(der).serial.toString("hex"),
              sha: createHash("sha256").update(der).digest("hex"),
              orderUrl: o.url,
              account: li,
            });
          } catch {
            if (killed) return; // the server died mid-request: nothing was acknowledged
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      };
      const revoker = async () => {
        while (!killed) {
          const x = acks[Math.floor(Math.random() * acks.length)];
          if (!x || revokedAck.has(x.serial)) {
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          try {
            const der = pemToDer(
              (
                await accounts[x.account]!.post(
                  (await accounts[x.account]!.post(x.orderUrl, "")).json().certificate as string,
                  "",
                )
              ).body,
            );
            // revocation by the certificate's own account
            const r = await accounts[x.account]!.post(c.dir.revokeCert!, {
              certificate: der.toString("base64url"),
              reason: 1,
            });
            if (r.status === 200) revokedAck.add(x.serial);
          } catch {
            if (killed) return;
          }
        }
      };
      const work = Promise.all([...[0, 1, 2, 3, 4, 5, 6].map(lane), revoker()]);
      while (acks.length < before + 12) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      killed = true;
      demo.child.kill("SIGKILL");
      await new Promise((r) => demo!.child.once("exit", r));
      await work;
      c.close();
    }
    await demo!.stop();

    expect(acks.length).toBeGreaterThanOrEqual(12 * CYCLES);
    expect(new Set(acks.map((a) => a.serial)).size).toBe(acks.length);
    const q = await openReadOnly(join(dataDir, "plantroot.db"));
    try {
      expect(await q.get("PRAGMA integrity_check")).toEqual({ integrity_check: "ok" });
      const rows = await q.all<{ serial: string; status: string; order_id: string | null; revoked_at: number | null }>(
        "SELECT serial, status, order_id, revoked_at FROM ca_certificates",
      );
      const bySerial = new Map(rows.map((r) => [r.serial, r]));
      expect(bySerial.size).toBe(rows.length);
      for (const a of acks) expect(bySerial.get(a.serial)?.status).toBe("issued");
      expect(rows.filter((r) => r.status === "signing")).toEqual([]);
      // one certificate per order: a resumed order is completed with the certificate the CA already
      // recorded for it, never issued a second one
      const perOrder = new Map<string, number>();
      for (const r of rows)
        if (r.status === "issued" && r.order_id) perOrder.set(r.order_id, (perOrder.get(r.order_id) ?? 0) + 1);
      const doubled = [...perOrder.entries()].filter(([, n]) => n > 1);
      expect(doubled).toEqual([]);
      // the demo keeps no separate copy of the checkpoint key: each checkpoint's own key is used
      const report = await verifyAuditChain(q);
      expect(report.problems).toEqual([]);
      const crl = (await q.get<{ der: Buffer }>("SELECT der FROM ca_crl_state"))!.der;
      const listed = new Set(
        [...openssl(["crl", "-inform", "DER", "-noout", "-text"], crl).matchAll(/Serial Number: ([0-9A-F]+)/g)].map(
          (m) => m[1]!.toLowerCase(),
        ),
      );
      for (const s of revokedAck) expect(listed.has(s), s).toBe(true);
      for (const r of rows) if (r.revoked_at !== null) expect(listed.has(r.serial), r.serial).toBe(true);
      console.info(
        `acme crash cycles: ${CYCLES} kills, ${acks.length} certificates downloaded, ${revokedAck.size} revocations acknowledged, ` +
          `${rows.filter((r) => r.status === "issued").length} issued rows, ${perOrder.size} orders with a certificate, 0 with two`,
      );
    } finally {
      await q.close();
    }
  }, 300_000);
});
