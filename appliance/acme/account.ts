// Accounts (RFC 8555 §7.1.2, §7.3): contact validation, the valid → deactivated transition, and the
// checks every authenticated request makes on the account it names.
import { clip } from "../clip.js";
import { problems } from "./problems.js";
import type { AccountStatus } from "./status.js";

export interface Account {
  id: string;
  status: AccountStatus;
  contact: string[];
  termsOfServiceAgreed: boolean;
  /** RFC 7638 SHA-256 thumbprint of the account key, base64url */
  thumbprint: string;
  /** the account's public JWK exactly as registered (members of RFC 7638 only) */
  jwk: Record<string, string>;
  /** the EAB key ID this account was bound with */
  eabKid?: string;
  createdAt: Date;
}

const MAX_CONTACTS = 10;

/**
 * Parses `contact` (RFC 8555 §7.3): only `mailto:` with one plain address, no header fields.
 * Plant accounts usually have none; an empty list is fine.
 */
export function parseContacts(raw: unknown): string[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw problems.malformed("contact must be an array of URLs");
  if (raw.length > MAX_CONTACTS) throw problems.malformed(`at most ${MAX_CONTACTS} contacts are accepted`);
  return raw.map((c) => {
    if (typeof c !== "string") throw problems.malformed("contact entries must be strings");
    if (!c.startsWith("mailto:")) throw problems.unsupportedContact(`only mailto: contacts are supported: ${clip(c)}`);
    const addr = c.slice("mailto:".length);
    if (addr.includes("?") || addr.includes(",") || addr.includes("%") || addr.length > 254)
      throw problems.invalidContact(`invalid mailto contact: ${clip(c)}`);
    if (!/^[A-Za-z0-9.!#$&'*+/=^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(addr))
      throw problems.invalidContact(`invalid e-mail address in contact: ${clip(c)}`);
    return c;
  });
}

/** Requests authenticated by `kid` need a valid account (RFC 8555 §7.3.6: deactivated → unauthorized). */
export function requireValidAccount(a: Account | undefined): Account {
  if (!a) throw problems.accountDoesNotExist("the account named by kid does not exist");
  if (a.status !== "valid") throw problems.unauthorized(`the account is ${a.status}`);
  return a;
}

/** RFC 8555 §7.3.6: a valid account may deactivate itself; it stays deactivated. */
export function deactivateAccount(a: Account): Account {
  if (a.status !== "valid") throw problems.unauthorized(`the account is ${a.status}`);
  return { ...a, status: "deactivated" };
}
