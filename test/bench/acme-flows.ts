// Device flows for the fleet benchmarks on top of the lean ACME driver (test/bench/acme-driver.ts,
// whose signed POSTs, nonce pool and keep-alive sockets they reuse): an issuance that returns the
// certificate (optionally `replaces`, RFC 9773), ARI renewalInfo, and revocation by the account.
import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import { authorityKeyIdOf, parseCertificate, pemToDer } from "../../appliance/ca/cert-parse.js";
import type { AcmeDriver, DriverAccount } from "./acme-driver.js";

export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert: string;
  renewalInfo?: string;
  [k: string]: unknown;
}

export interface Issued {
  pem: string;
  der: Buffer;
  /** RFC 9773 certificate ID (base64url AKI "." base64url serial) */
  certId: string;
}

export class Flows {
  private constructor(
    readonly driver: AcmeDriver,
    readonly dir: Directory,
    private readonly agent: https.Agent,
  ) {}

  static async create(driver: AcmeDriver, directoryUrl: string, caPem: string): Promise<Flows> {
    const agent = new https.Agent({
      keepAlive: true,
      maxSockets: 32,
      secureContext: tls.createSecureContext({ ca: caPem }),
    });
    const dir = JSON.parse((await get(agent, directoryUrl)).body.toString()) as Directory;
    return new Flows(driver, dir, agent);
  }

  close(): void {
    this.agent.destroy();
  }

  private async postJson(acct: DriverAccount, url: string, payload: unknown) {
    const r = await this.driver.post(acct, url, payload);
    return { r, body: r.body.length ? (JSON.parse(r.body.toString()) as Record<string, unknown>) : {} };
  }

  private async poll(acct: DriverAccount, url: string, done: (s: string) => boolean, what: string, pollMs: number) {
    for (let i = 0; i < 1200; i++) {
      const { r, body } = await this.postJson(acct, url, "");
      if (r.status !== 200) throw new Error(`${what} poll ${r.status}`);
      const s = String(body.status);
      if (done(s)) return body;
      if (s === "invalid") throw new Error(`${what} invalid: ${JSON.stringify(body.error ?? "").slice(0, 100)}`);
      const ra = Number(r.headers["retry-after"]);
      await new Promise((res) => setTimeout(res, Number.isFinite(ra) && ra > 0 ? Math.min(ra * 1000, 5000) : pollMs));
    }
    throw new Error(`${what} never settled`);
  }

  /** newOrder → (http-01) → finalize → download; returns the certificate. */
  async issue(
    acct: DriverAccount,
    id: { type: string; value: string },
    csr: Buffer,
    o: { publish?: (token: string, ka: string) => void; replaces?: string; pollMs?: number } = {},
  ): Promise<Issued> {
    const pollMs = o.pollMs ?? 50;
    const { r: or, body: order0 } = await this.postJson(acct, this.dir.newOrder, {
      identifiers: [id],
      ...(o.replaces ? { replaces: o.replaces } : {}),
    });
    if (or.status !== 201) throw new Error(`newOrder ${or.status} ${or.body.toString().slice(0, 120)}`);
    const orderUrl = or.headers.location as string;
    let order = order0 as { status: string; authorizations: string[]; finalize: string; certificate?: string };
    for (const az of order.authorizations) {
      const { body: a } = await this.postJson(acct, az, "");
      if (a.status === "valid") continue;
      const ch = (a.challenges as Array<{ type: string; url: string; token: string }>).find(
        (c) => c.type === "http-01",
      );
      if (!ch) throw new Error("no http-01 challenge");
      o.publish?.(ch.token, `${ch.token}.${acct.thumbprint}`);
      const { r: cr, body: c } = await this.postJson(acct, ch.url, {});
      if (cr.status !== 200) throw new Error(`challenge ${cr.status} ${cr.body.toString().slice(0, 120)}`);
      if (c.status === "invalid") throw new Error("challenge invalid");
      if (c.status !== "valid") await this.poll(acct, az, (s) => s === "valid", "authorization", pollMs);
    }
    const { r: fr, body: f } = await this.postJson(acct, order.finalize, { csr: csr.toString("base64url") });
    if (fr.status !== 200) throw new Error(`finalize ${fr.status} ${fr.body.toString().slice(0, 160)}`);
    order = f as typeof order;
    if (order.status !== "valid")
      order = (await this.poll(acct, orderUrl, (s) => s === "valid", "order", pollMs)) as typeof order;
    const cert = await this.driver.post(acct, order.certificate!, "");
    if (cert.status !== 200 || !cert.body.includes("BEGIN CERTIFICATE")) throw new Error(`certificate ${cert.status}`);
    const pem = cert.body
      .toString()
      .split(/(?<=-----END CERTIFICATE-----)/)[0]!
      .trim();
    const der = pemToDer(pem);
    return { pem, der, certId: certIdOf(der) };
  }

  /** GET renewalInfo/<certId> (RFC 9773): the suggested window. */
  async renewalInfo(certId: string): Promise<{ start: Date; end: Date; retryAfter: number }> {
    if (!this.dir.renewalInfo) throw new Error("the server has no renewalInfo");
    const r = await get(this.agent, `${this.dir.renewalInfo}/${certId}`);
    if (r.status !== 200) throw new Error(`renewalInfo ${r.status}`);
    const w = (JSON.parse(r.body.toString()) as { suggestedWindow: { start: string; end: string } }).suggestedWindow;
    return { start: new Date(w.start), end: new Date(w.end), retryAfter: Number(r.headers["retry-after"] ?? 0) };
  }

  async revoke(acct: DriverAccount, der: Buffer, reason = 4): Promise<void> {
    const r = await this.driver.post(acct, this.dir.revokeCert, { certificate: der.toString("base64url"), reason });
    if (r.status !== 200) throw new Error(`revokeCert ${r.status} ${r.body.toString().slice(0, 120)}`);
  }
}

export function certIdOf(der: Buffer): string {
  const c = parseCertificate(der);
  const aki = authorityKeyIdOf(c)!;
  const serial = c.serial[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), c.serial]) : c.serial;
  return `${aki.toString("base64url")}.${serial.toString("base64url")}`;
}

const plainAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request with keep-alive (https with the given agent, plain http with a shared one). */
export function request(
  url: string,
  opts: { agent?: https.Agent; method?: string; body?: Buffer; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const secure = url.startsWith("https:");
  const send = secure ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      { method: opts.method ?? "GET", agent: secure ? opts.agent : plainAgent, headers: opts.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

function get(agent: https.Agent, url: string): Promise<Reply> {
  return request(url, { agent });
}
