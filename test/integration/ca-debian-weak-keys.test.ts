// Debian weak-key blocklist (openssl-blacklist format) on the real CA: the fingerprint equals what the
// openssl | sha1sum pipeline of openssl-vulnkey gives; a listed RSA key is refused before signing with
// nothing recorded; other keys are issued; a malformed list stops the CA from starting.
import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Identifier } from "../../appliance/ca/api.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import { debianModulusFingerprint } from "../../appliance/ca/debian-weak-keys.js";
import { parseSpki } from "../../appliance/ca/spki.js";
import { type CaFixture, caFixture } from "../helpers/ca-fixture.js";
import { buildCsr, csrFor } from "../helpers/csr.js";
import { writeTemp } from "../helpers/softhsm.js";

const dns = (value: string): Identifier => ({ type: "dns", value });
const requester = { accountId: "acct-deb" };
const rsa = () => {
  const k = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...k, spki: Buffer.from(k.publicKey.export({ type: "spki", format: "der" })) };
};
const weak = rsa();
const good = rsa();
let f: CaFixture;
let list: string;

beforeAll(async () => {
  // a small list in the shipped format: the openssl-blacklist header, decoys, and the weak key's line
  const probe = await caFixture();
  const pub = writeTemp(probe.dir, "weak.pub.pem", weak.publicKey.export({ type: "spki", format: "pem" }));
  const fromOpenssl = execFileSync("sh", [
    "-c",
    `openssl rsa -pubin -noout -modulus -in '${pub}' | sha1sum | cut -d ' ' -f 1 | cut -c 21-`,
  ])
    .toString()
    .trim();
  list = writeTemp(
    probe.dir,
    "blacklist.RSA-2048",
    [
      "# After these initial comments, each line must consist of the lower-case key",
      "# modulus checksum: openssl rsa -noout -modulus -in key.pem | sha1sum, first 20 characters removed",
      "00005890bc78bcbee3ca",
      "3c3fbae22fb5042dae07",
      fromOpenssl,
      "",
    ].join("\n"),
  );
  await probe.close();
  f = await caFixture({ keyPolicy: { debianWeakKeysFiles: [list] } });
});
afterAll(async () => {
  await f?.close();
});

describe("Debian weak-key blocklist", () => {
  it("the fingerprint is the lower 80 bits of SHA-1 of openssl's Modulus= line", () => {
    const pub = writeTemp(f.dir, "w.pub.pem", weak.publicKey.export({ type: "spki", format: "pem" }));
    const line = execFileSync("openssl", ["rsa", "-pubin", "-noout", "-modulus", "-in", pub]).toString();
    expect(line).toMatch(/^Modulus=[0-9A-F]+\n$/);
    const key = parseSpki(weak.spki);
    if (key.type !== "rsa") throw new Error("not RSA");
    const fp = debianModulusFingerprint(key.n);
    expect(fp).toMatch(/^[0-9a-f]{20}$/);
    expect(fp).toBe(createHash("sha1").update(line).digest("hex").slice(20));
  });

  it("refuses a listed RSA key before signing, nothing recorded; unlisted RSA and EC keys are issued", async () => {
    const count = async () => ({
      rows: (await f.db.get<{ n: number }>("SELECT count(*) AS n FROM ca_certificates"))!.n,
      audit: (await f.db.get<{ n: number }>("SELECT count(*) AS n FROM audit_log"))!.n,
    });
    const ids = [dns("deb.plant.example")];
    const before = await count();
    await expect(
      f.ca.issue({
        csr: buildCsr({ privateKey: weak.privateKey, spki: weak.spki, sans: ids, alg: "rsa-pkcs1-sha256" }),
        identifiers: ids,
        requester,
      }),
    ).rejects.toMatchObject({
      kind: "badKey",
      message: expect.stringMatching(/key is on a blocklist: RSA modulus is a known Debian weak key \(CVE-2008-0166/),
    });
    expect(await count()).toEqual(before);
    const ok = await f.ca.issue({
      csr: buildCsr({ privateKey: good.privateKey, spki: good.spki, sans: ids, alg: "rsa-pkcs1-sha256" }),
      identifiers: ids,
      requester,
    });
    expect(ok.serial).toMatch(/^[0-9a-f]+$/);
    expect((await f.ca.issue({ csr: csrFor(ids), identifiers: ids, requester })).serial).toMatch(/^[0-9a-f]+$/);
  });

  it("a list with a malformed line, or a missing file, stops the CA from starting", async () => {
    const bad = writeTemp(f.dir, "bad-list", "# header\n00005890bc78bcbee3ca\nnot-a-fingerprint\n");
    await expect(
      createCa({
        config: { ...f.boot.config, keyPolicy: { debianWeakKeysFiles: [bad] } },
        token: f.token,
        db: f.db,
      }),
    ).rejects.toThrow(/Debian weak-key list .*bad-list: line 3 is not 20 hex digits/);
    await expect(
      createCa({
        config: { ...f.boot.config, keyPolicy: { debianWeakKeysFiles: [`${f.dir}/missing`] } },
        token: f.token,
        db: f.db,
      }),
    ).rejects.toThrow(/Debian weak-key list .*missing/);
  });
});
