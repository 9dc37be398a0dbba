// Host-name and identifier checks for the validation authority (pure): what may be resolved or
// put in a URL, and the typed target a ValidationRequest's identifier turns into.
import type { Identifier } from "../ca/api.js";
import { type IpAddress, formatIp, parseIp } from "./ip.js";

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Lower-case LDH host name (A-labels), no trailing dot, no wildcard; single labels allowed. */
export function isHostname(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((l) => LABEL.test(l));
}

export type Target = { kind: "dns"; name: string; wildcard: boolean } | { kind: "ip"; ip: IpAddress; text: string };

/** Turns an identifier into a target, or says why it cannot be validated. */
export function parseIdentifier(id: Identifier): { ok: true; target: Target } | { ok: false; reason: string } {
  if (id.type === "ip") {
    const ip = typeof id.value === "string" ? parseIp(id.value) : undefined;
    if (!ip) return { ok: false, reason: `"${String(id.value)}" is not an IP address` };
    return { ok: true, target: { kind: "ip", ip, text: formatIp(ip) } };
  }
  if (id.type === "dns") {
    if (typeof id.value !== "string") return { ok: false, reason: "identifier value is not a string" };
    const v = id.value.toLowerCase();
    const wildcard = v.startsWith("*.");
    const name = wildcard ? v.slice(2) : v;
    if (!isHostname(name)) return { ok: false, reason: `"${id.value}" is not a valid DNS name` };
    if (parseIp(name) !== undefined) return { ok: false, reason: `"${id.value}" is an IP address, not a DNS name` };
    return { ok: true, target: { kind: "dns", name, wildcard } };
  }
  return { ok: false, reason: `identifier type "${String((id as { type: unknown }).type)}" is not supported` };
}

/** base64url without padding: what ACME tokens and JWK thumbprints are made of */
export const BASE64URL = /^[A-Za-z0-9_-]+$/;
