// A minimal hand-driven ACME client for tests that must send what real clients never send (wrong
// url, reused nonce, alg none, HS256, both jwk and kid…): builds each JWS itself and shows raw replies.
import { createHmac, generateKeyPairSync, type KeyObject, sign as nodeSign } from "node:crypto";
import https from "node:https";
import { jwkThumbprint } from "../../appliance/acme/jws.js";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => Record<string, unknown>;
}

export interface AccountKey {
  priv: KeyObject;
  jwk: Record<string, string>;
  alg: "ES256" | "ES384" | "RS256" | "PS256" | "EdDSA";
}

export function newAccountKey(kind: "P-256" | "Ed25519" | "RSA" = "P-256"): AccountKey {
  const k =
    kind === "P-256"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : kind === "Ed25519"
        ? generateKeyPairSync("ed25519")
        : generateKeyPairSync("rsa", { modulusLength: 2048 });
  const full = k.publicKey.export({ format: "jwk" }) as Record<string, string>;
  const jwk: Record<string, string> =
    full.kty === "EC"
      ? { kty: "EC", crv: full.crv!, x: full.x!, y: full.y! }
      : full.kty === "OKP"
        ? { kty: "OKP", crv: full.crv!, x: full.x! }
        : { kty: "RSA", n: full.n!, e: full.e! };
  return { priv: k.privateKey, jwk, alg: kind === "P-256" ? "ES256" : kind === "Ed25519" ? "EdDSA" : "RS256" };
}

export function thumbprint(k: AccountKey): string {
  return jwkThumbprint(k.jwk);
}

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

export function signWith(k: AccountKey, input: string): string {
  switch (k.alg) {
    case "ES256":
      return nodeSign("sha256", Buffer.from(input), { key: k.priv, dsaEncoding: "ieee-p1363" }).toString("base64url");
    case "EdDSA":
      return nodeSign(null, Buffer.from(input), k.priv).toString("base64url");
    default:
      return nodeSign("sha256", Buffer.from(input), k.priv).toString("base64url");
  }
}

export interface PostOptions {
  key: AccountKey;
  /** account URL; when absent the jwk is sent */
  kid?: string;
  /** override or add protected header members (set to undefined to drop one) */
  header?: Record<string, unknown>;
  /** replace the signature computation entirely */
  signature?: (signingInput: string) => string;
  nonce?: string;
  contentType?: string;
  /** send this body instead of the JWS */
  rawBody?: string | Buffer;
}

export class RawAcmeClient {
  readonly agent: https.Agent;
  dir!: Record<string, string>;
  /** where key authorizations go before a challenge is answered (the test's http-01 responder) */
  publish?: (token: string, keyAuthorization: string) => void;

  constructor(
    readonly directoryUrl: string,
    caPem: string,
    /** connect from this loopback address (per-address rate limits see it as the client's) */
    localAddress?: string,
  ) {
    this.agent = new https.Agent({ ca: caPem, keepAlive: true, ...(localAddress ? { localAddress } : {}) });
  }

  async init(): Promise<this> {
    this.dir = (await this.request("GET", this.directoryUrl)).json() as Record<string, string>;
    return this;
  }

  request(
    method: string,
    url: string,
    body?: string | Buffer,
    headers: Record<string, string> = {},
  ): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) });
        });
      });
      req.on("error", reject);
      if (body !== undefined) req.end(body);
      else req.end();
    });
  }

  async nonce(): Promise<string> {
    const r = await this.request("HEAD", this.dir.newNonce!);
    return r.headers["replay-nonce"] as string;
  }

  /** Builds the flattened JWS for `payload` ("" = POST-as-GET) as a well-behaved client would. */
  async jws(url: string, payload: unknown, o: PostOptions): Promise<string> {
    const header: Record<string, unknown> = {
      alg: o.key.alg,
      nonce: o.nonce ?? (await this.nonce()),
      url,
      ...(o.kid ? { kid: o.kid } : { jwk: o.key.jwk }),
      ...o.header,
    };
    for (const k of Object.keys(header)) if (header[k] === undefined) delete header[k];
    const protectedB64 = b64(header);
    const payloadB64 = payload === "" ? "" : b64(payload);
    const input = `${protectedB64}.${payloadB64}`;
    const signature = o.signature ? o.signature(input) : signWith(o.key, input);
    return JSON.stringify({ protected: protectedB64, payload: payloadB64, signature });
  }

  async post(url: string, payload: unknown, o: PostOptions): Promise<RawResponse> {
    const body = o.rawBody ?? (await this.jws(url, payload, o));
    return this.request("POST", url, body, { "Content-Type": o.contentType ?? "application/jose+json" });
  }

  /** newAccount; returns the account URL. */
  async register(key: AccountKey, payload: Record<string, unknown> = { termsOfServiceAgreed: true }): Promise<string> {
    const r = await this.post(this.dir.newAccount!, payload, { key });
    if (r.status !== 201 && r.status !== 200) throw new Error(`newAccount failed: ${r.status} ${r.body}`);
    return r.headers.location as string;
  }

  /** An EAB binding for newAccount (HS256 over the account JWK). */
  eab(key: AccountKey, kid: string, hmacKeyB64url: string, alg = "HS256"): Record<string, string> {
    const protectedB64 = b64({ alg, kid, url: this.dir.newAccount });
    const payloadB64 = b64(key.jwk);
    const mac = createHmac(alg === "HS512" ? "sha512" : "sha256", Buffer.from(hmacKeyB64url, "base64url"))
      .update(`${protectedB64}.${payloadB64}`)
      .digest("base64url");
    return { protected: protectedB64, payload: payloadB64, signature: mac };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** An account on the server driven by the raw client: the common steps of an issuance. */
export class RawAccount {
  constructor(
    readonly c: RawAcmeClient,
    readonly key: AccountKey,
    readonly url: string,
  ) {}

  static async create(c: RawAcmeClient, key = newAccountKey(), payload?: Record<string, unknown>): Promise<RawAccount> {
    return new RawAccount(c, key, await c.register(key, payload));
  }

  post(url: string, payload: unknown, extra: Partial<PostOptions> = {}): Promise<RawResponse> {
    return this.c.post(url, payload, { key: this.key, kid: this.url, ...extra });
  }

  async newOrder(identifiers: Array<{ type: string; value: string }>, extra: Record<string, unknown> = {}) {
    const r = await this.post(this.c.dir.newOrder!, { identifiers, ...extra });
    if (r.status !== 201) throw new Error(`newOrder: ${r.status} ${r.body}`);
    return {
      url: r.headers.location as string,
      body: r.json() as { authorizations: string[]; finalize: string; status: string },
    };
  }

  /** Answers the first challenge of `type` in every pending authorization of the order. */
  async validate(order: { body: { authorizations: string[] } }, type = "http-01"): Promise<void> {
    for (const a of order.body.authorizations) {
      const authz = (await this.post(a, "")).json() as {
        status: string;
        challenges: Array<{ type: string; url: string }>;
      };
      if (authz.status !== "pending") continue;
      const ch = authz.challenges.find((x) => x.type === type) as
        | { type: string; url: string; token?: string }
        | undefined;
      if (!ch) throw new Error(`no ${type} challenge`);
      if (ch.token) this.c.publish?.(ch.token, `${ch.token}.${thumbprint(this.key)}`);
      const r = await this.post(ch.url, {});
      if (r.status !== 200) throw new Error(`challenge: ${r.status} ${r.body}`);
      for (let i = 0; i < 100; i++) {
        const s = ((await this.post(a, "")).json() as { status: string }).status;
        if (s !== "pending") break;
        await new Promise((res) => setTimeout(res, 20));
      }
    }
  }

  async finalize(order: { url: string; body: { finalize: string } }, csrDer: Buffer): Promise<RawResponse> {
    return this.post(order.body.finalize, { csr: csrDer.toString("base64url") });
  }

  /** Polls the order until it leaves processing; returns its JSON. */
  async settled(orderUrl: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 200; i++) {
      const o = (await this.post(orderUrl, "")).json();
      if (o.status !== "processing" && o.status !== "pending") return o;
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error("order did not settle");
  }
}
