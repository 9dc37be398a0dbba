// Clock jumps, injected through the CA's `now` (the system clock is never touched): a step forward past
// the CRL's nextUpdate and a step back before its thisUpdate are both noticed by the CRL schedule
// within a minute (timers are monotonic, the wall clock is not) and a CRL valid at the new time is
// served; OCSP, issuance and the audit chain keep working across the jumps. openssl judges validity
// at the jumped time with -attime.
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { verifyAuditChain } from "../../appliance/audit/index.js";
import { derToPem } from "../../appliance/ca/cert-parse.js";
import { CHECK_EVERY_MS } from "../../appliance/ca/crl-service.js";
import { caFixture, type CaFixture } from "../helpers/ca-fixture.js";
import { csrFor } from "../helpers/csr.js";
import { openssl, writeTemp } from "../helpers/softhsm.js";

const DAY = 86_400_000;
// the clock starts 20 days ahead, so steps back never reach before the SubCA (made at the real time)
let offset = 20 * DAY;
const now = () => new Date(Date.now() + offset);
let f: CaFixture;
let chain: string;

beforeAll(async () => {
  f = await caFixture({ crl: { lifetimeSeconds: 7 * 86400, refreshSeconds: 86400 } }, { now });
  chain = writeTemp(f.dir, "chain.pem", derToPem(f.boot.issuingDer) + derToPem(f.boot.rootDer));
});
afterAll(async () => {
  vi.useRealTimers();
  await f.close();
});

async function issue(name: string) {
  const ids = [{ type: "dns" as const, value: `${name}.plant.example` }];
  const c = await f.ca.issue({ csr: csrFor(ids), identifiers: ids, requester: { accountId: "clock" } });
  return { ...c, pem: writeTemp(f.dir, `${name}.pem`, derToPem(c.der)) };
}

/** openssl verify of a leaf against the current CRL, judged at the injected clock's time. */
function verifyAt(leafPem: string): string {
  const crl = writeTemp(f.dir, "current.crl.pem", derToPem(f.ca.crl.current()!.der, "X509 CRL"));
  const at = String(Math.floor(now().getTime() / 1000));
  try {
    return openssl(["verify", "-attime", at, "-crl_check", "-CAfile", chain, "-CRLfile", crl, leafPem]);
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e);
  }
}

/** Lets the CRL schedule run for one check period of (fake) timer time, then waits for its work. */
async function oneCheckPeriod(before: bigint): Promise<bigint> {
  await vi.advanceTimersByTimeAsync(CHECK_EVERY_MS + 1000);
  vi.useRealTimers();
  await expect.poll(() => f.ca.crl.current()!.number, { timeout: 10_000 }).toBeGreaterThan(before);
  return f.ca.crl.current()!.number;
}

describe("clock jumps", () => {
  it("forward past nextUpdate: the schedule notices within a minute and serves a CRL valid at the new time", async () => {
    const good = await issue("fwd-good");
    const bad = await issue("fwd-revoked");
    await f.ca.revoke(bad.serial, 1, { accountId: "clock" });
    expect(verifyAt(good.pem)).toMatch(/: OK/);
    expect(verifyAt(bad.pem)).toMatch(/certificate revoked/);

    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const n = (await f.ca.crl.refresh("arm the schedule under fake timers")).number;
    offset += 8 * DAY; // NTP step (or an operator) moves the wall clock 8 days on; the 7-day CRL is expired
    expect(verifyAt(good.pem)).toMatch(/CRL has expired/);
    const n2 = await oneCheckPeriod(n);
    expect(n2).toBe(n + 1n);
    expect(f.ca.crl.current()!.thisUpdate.getTime()).toBeGreaterThan(Date.now() + 7 * DAY);
    expect(verifyAt(good.pem)).toMatch(/: OK/);
    expect(verifyAt(bad.pem)).toMatch(/certificate revoked/);
  });

  it("backwards before thisUpdate: regenerated within a minute (a CRL from the future is not valid yet)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const n = (await f.ca.crl.refresh("arm the schedule under fake timers")).number;
    offset -= 10 * DAY; // the wall clock is stepped back 10 days
    const leaf = await issue("back-good"); // issuance follows the clock
    expect(verifyAt(leaf.pem)).toMatch(/CRL is not yet valid/);
    const n2 = await oneCheckPeriod(n);
    expect(n2).toBe(n + 1n); // the number still only grows
    expect(verifyAt(leaf.pem)).toMatch(/: OK/);
  });

  it("a start after a jump regenerates a CRL that is not valid at the new time", async () => {
    const n = f.ca.crl.current()!.number;
    offset += 9 * DAY; // past nextUpdate of the CRL made at -2 days
    await f.ca.crl.init();
    expect(f.ca.crl.current()!.number).toBe(n + 1n);
    offset -= 3 * DAY;
    await f.ca.crl.init(); // thisUpdate is now 3 days ahead of the clock
    expect(f.ca.crl.current()!.number).toBe(n + 2n);
    const leaf = await issue("restart-good");
    expect(verifyAt(leaf.pem)).toMatch(/: OK/);
  });

  it("issuance, OCSP and the audit chain work across jumps in both directions", async () => {
    const times: number[] = [];
    for (const step of [0, -5 * DAY, 30 * DAY, -20 * DAY, 1000]) {
      offset += step;
      const leaf = await issue(`jump${times.length}`);
      // validity follows the clock: backdated by the policy's 300 s, never in the real past/future
      expect(Math.abs(leaf.notBefore.getTime() - (now().getTime() - 300_000))).toBeLessThan(2000);
      const reqPath = `${f.dir}/req${times.length}.der`;
      openssl(["ocsp", "-issuer", chain, "-cert", leaf.pem, "-no_nonce", "-reqout", reqPath]);
      const answer = await f.ca.ocsp.respond(readFileSync(reqPath));
      const resp = writeTemp(f.dir, `resp${times.length}.der`, answer.der);
      const text = openssl(["ocsp", "-respin", resp, "-resp_text", "-noverify"]);
      const produced = Date.parse(/Produced At: (.+)/.exec(text)![1]!);
      expect(Math.abs(produced - now().getTime())).toBeLessThan(2000);
      expect(text).toMatch(/Cert Status: good/);
      times.push(now().getTime());
    }
    await f.ca.audit.checkpoint();
    const report = await verifyAuditChain(f.db, {
      trustedKey: createPublicKey(readFileSync(f.boot.paths.auditKey)),
    });
    expect(report.problems).toEqual([]);
    // the chain keeps the order of events, whatever the clock said
    const rows = await f.db.all<{ seq: number; time: string }>("SELECT seq, time FROM audit_log ORDER BY seq");
    expect(rows.some((r, i) => i > 0 && r.time < rows[i - 1]!.time)).toBe(true);
  });
});
