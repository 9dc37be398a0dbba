// The lean ACME load driver of `npm run bench:acme`: ECDSA account keys signed synchronously, one
// shared TLS context, keep-alive sockets, a nonce pool fed by every Replay-Nonce, pre-built CSRs,
// no redirects. The same code drives the appliance and Pebble so only the server differs.
import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import https from "node:https";
import tls from "node:tls";

export interface DriverAccount {
  key: KeyObject;
  jwk: Record<string, string>;
  thumbprint: string;
  url?: string;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface RunOptions {
  orders: number;
  concurrency: number;
  /** identifiers of order i */
  identifier: (i: number) => { type: "dns" | "ip"; value: string };
  /** DER CSR of order i (built before the timed phase) */
  csr: (i: number) => Buffer;
  /** called with token → key authorization before a challenge is answered (http-01 responder) */
  publish?: (token: string, keyAuthorization: string) => void;
  /** give up when no order completed for this long */
  stallMs: number;
  /** delay between polls when the server sends no Retry-After */
  pollMs: number;
}

export interface RunResult {
  completed: number;
  failed: number;
  stalled: boolean;
  wallMs: number;
  /** per completed order: newOrder → certificate downloaded, ms */
  latencies: number[];
  errors: Record<string, number>;
  requests: number;
}

export function newDriverAccount(): DriverAccount {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  // x and y from the SPKI's uncompressed point, not export({ format: "jwk" }): on Node 20 a garbage
  // collection inside the JWK export can deadlock the process (seen with 10,000 accounts)
  const point = publicKey.export({ type: "spki", format: "der" }).subarray(-64);
  const jwk = {
    crv: "P-256",
    kty: "EC",
    x: point.subarray(0, 32).toString("base64url"),
    y: point.subarray(32).toString("base64url"),
  };
  const thumbprint = createHash("sha256")
    .update(`{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`)
    .digest("base64url");
  return { key: privateKey, jwk, thumbprint };
}

const b64 = (s: string) => Buffer.from(s).toString("base64url");

export class AcmeDriver {
  private readonly agent: https.Agent;
  private readonly nonces: string[] = [];
  private dir!: Record<string, string>;
  requests = 0;

  constructor(
    private readonly directoryUrl: string,
    caPem: string,
    maxSockets: number,
  ) {
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets,
      secureContext: tls.createSecureContext({ ca: caPem }),
    });
  }

  /** Fetches the directory, waiting up to 10 s for the listener (Pebble logs "ready" before it listens). */
  async init(): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        this.dir = JSON.parse((await this.send("GET", this.directoryUrl)).body.toString());
        return;
      } catch (e) {
        if (i >= 100 || (e as NodeJS.ErrnoException).code !== "ECONNREFUSED") throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private send(method: string, url: string, body?: string): Promise<Reply> {
    this.requests++;
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          method,
          agent: this.agent,
          headers:
            body === undefined
              ? {}
              : { "Content-Type": "application/jose+json", "Content-Length": Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const n = res.headers["replay-nonce"];
            if (typeof n === "string") this.nonces.push(n);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  private async nonce(): Promise<string> {
    const n = this.nonces.pop();
    if (n) return n;
    await this.send("HEAD", this.dir.newNonce!);
    return this.nonces.pop()!;
  }

  /** Signed POST; retries badNonce like every client does. */
  async post(acct: DriverAccount, url: string, payload: unknown): Promise<Reply> {
    for (let attempt = 0; ; attempt++) {
      const header = acct.url
        ? `{"alg":"ES256","kid":"${acct.url}","nonce":"${await this.nonce()}","url":"${url}"}`
        : JSON.stringify({ alg: "ES256", jwk: acct.jwk, nonce: await this.nonce(), url });
      const p = b64(header);
      const pl = payload === "" ? "" : b64(JSON.stringify(payload));
      const sig = sign("sha256", Buffer.from(`${p}.${pl}`), { key: acct.key, dsaEncoding: "ieee-p1363" }).toString(
        "base64url",
      );
      const r = await this.send("POST", url, `{"protected":"${p}","payload":"${pl}","signature":"${sig}"}`);
      if (r.status === 400 && attempt < 5 && r.body.includes("badNonce")) continue;
      return r;
    }
  }

  async register(acct: DriverAccount): Promise<void> {
    const r = await this.post(acct, this.dir.newAccount!, { termsOfServiceAgreed: true });
    if (r.status !== 201 && r.status !== 200) throw new Error(`newAccount ${r.status} ${r.body}`);
    acct.url = r.headers.location as string;
  }

  private async pollUntil(
    acct: DriverAccount,
    url: string,
    done: (s: string) => boolean,
    pollMs: number,
    what: string,
  ) {
    for (let i = 0; i < 600; i++) {
      const r = await this.post(acct, url, "");
      const o = JSON.parse(r.body.toString()) as { status: string };
      if (r.status !== 200) throw new Error(`${what} poll ${r.status}`);
      if (done(o.status)) return o as Record<string, unknown>;
      if (o.status === "invalid") throw new Error(`${what} invalid`);
      const ra = Number(r.headers["retry-after"]);
      await new Promise((res) => setTimeout(res, Number.isFinite(ra) && ra > 0 ? ra * 1000 : pollMs));
    }
    throw new Error(`${what} never settled`);
  }

  /** One full issuance: newOrder → authorization → challenge → finalize → certificate. */
  async issue(acct: DriverAccount, id: { type: string; value: string }, csr: Buffer, o: RunOptions): Promise<void> {
    const or = await this.post(acct, this.dir.newOrder!, { identifiers: [id] });
    if (or.status !== 201) throw new Error(`newOrder ${or.status} ${or.body.toString().slice(0, 120)}`);
    const orderUrl = or.headers.location as string;
    let order = JSON.parse(or.body.toString()) as {
      status: string;
      authorizations: string[];
      finalize: string;
      certificate?: string;
    };
    for (const az of order.authorizations) {
      const a = JSON.parse((await this.post(acct, az, "")).body.toString()) as {
        status: string;
        challenges: Array<{ type: string; url: string; token: string }>;
      };
      if (a.status === "valid") continue;
      const ch = a.challenges.find((c) => c.type === "http-01");
      if (!ch) throw new Error("no http-01 challenge");
      o.publish?.(ch.token, `${ch.token}.${acct.thumbprint}`);
      const cr = await this.post(acct, ch.url, {});
      if (cr.status !== 200) throw new Error(`challenge ${cr.status} ${cr.body.toString().slice(0, 120)}`);
      const cs = (JSON.parse(cr.body.toString()) as { status: string }).status;
      if (cs === "invalid") throw new Error("challenge invalid");
      if (cs !== "valid") await this.pollUntil(acct, az, (s) => s === "valid", o.pollMs, "authorization");
    }
    const fr = await this.post(acct, order.finalize, { csr: csr.toString("base64url") });
    if (fr.status !== 200) throw new Error(`finalize ${fr.status} ${fr.body.toString().slice(0, 160)}`);
    order = JSON.parse(fr.body.toString());
    if (order.status !== "valid")
      order = (await this.pollUntil(acct, orderUrl, (s) => s === "valid", o.pollMs, "order")) as typeof order;
    const cert = await this.post(acct, order.certificate!, "");
    if (cert.status !== 200 || !cert.body.includes("BEGIN CERTIFICATE")) throw new Error(`certificate ${cert.status}`);
  }

  /** Runs `orders` issuances over the accounts with `concurrency` workers; never waits forever. */
  async run(accounts: DriverAccount[], o: RunOptions): Promise<RunResult> {
    const res: RunResult = {
      completed: 0,
      failed: 0,
      stalled: false,
      wallMs: 0,
      latencies: [],
      errors: {},
      requests: 0,
    };
    const startReq = this.requests;
    let next = 0;
    let last = performance.now();
    const started = performance.now();
    let stallTimer: NodeJS.Timeout | undefined;
    const stalled = new Promise<void>((resolve) => {
      stallTimer = setInterval(() => {
        if (performance.now() - last > o.stallMs) {
          res.stalled = true;
          resolve();
        }
      }, 250);
    });
    const worker = async (w: number) => {
      while (!res.stalled) {
        const i = next++;
        if (i >= o.orders) return;
        const t0 = performance.now();
        try {
          await this.issue(accounts[(i + w) % accounts.length]!, o.identifier(i), o.csr(i), o);
          res.latencies.push(performance.now() - t0);
          res.completed++;
          last = performance.now();
        } catch (e) {
          if (res.stalled) return;
          res.failed++;
          const k = String((e as Error).message).slice(0, 80);
          res.errors[k] = (res.errors[k] ?? 0) + 1;
        }
      }
    };
    await Promise.race([Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w))), stalled]);
    clearInterval(stallTimer);
    res.wallMs = performance.now() - started;
    if (res.stalled) res.failed = o.orders - res.completed;
    res.requests = this.requests - startReq;
    return res;
  }
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
