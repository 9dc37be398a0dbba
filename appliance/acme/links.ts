// Every URL of the ACME server, built from ids in one place (stored records keep ids only), and
// the reverse parse of an account URL (`kid`).

export type LinkType =
  | "directory"
  | "newNonce"
  | "newAccount"
  | "newOrder"
  | "revokeCert"
  | "keyChange"
  | "renewalInfo"
  | "account"
  | "accountOrders"
  | "order"
  | "finalize"
  | "authorization"
  | "challenge"
  | "certificate";

/** Path templates under the ACME prefix; `:id` is the resource id. */
export const ROUTES = {
  directory: "/directory",
  newNonce: "/new-nonce",
  newAccount: "/new-account",
  newOrder: "/new-order",
  revokeCert: "/revoke-cert",
  keyChange: "/key-change",
  renewalInfo: "/renewal-info",
  account: "/acct/:id",
  accountOrders: "/acct/:id/orders",
  order: "/order/:id",
  finalize: "/order/:id/finalize",
  authorization: "/authz/:id",
  challenge: "/chall/:id",
  certificate: "/cert/:id",
} as const satisfies Record<LinkType, string>;

export const ACME_PREFIX = "/acme";

export class Links {
  /** e.g. https://127.0.0.1:8443 — scheme, host and port exactly as clients reach the server */
  readonly origin: string;
  private readonly acmeBase: string;

  constructor(origin: string) {
    this.origin = origin.replace(/\/+$/, "");
    this.acmeBase = this.origin + ACME_PREFIX;
  }

  url(type: LinkType, id?: string): string {
    const path: string = ROUTES[type];
    if (path.includes(":id")) {
      if (id === undefined) throw new TypeError(`link ${type} needs an id`);
      return this.acmeBase + path.replace(":id", encodeURIComponent(id));
    }
    return this.acmeBase + path;
  }

  /** The account id of a `kid` URL of this server, or undefined for anything else. */
  accountIdFromKid(kid: string): string | undefined {
    const prefix = `${this.acmeBase}/acct/`;
    if (!kid.startsWith(prefix)) return undefined;
    const id = kid.slice(prefix.length);
    return /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : undefined;
  }
}
