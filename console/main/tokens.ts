// Participants' tokens in the main process: which tokens are present, and opening one person's token
// with the PIN they typed, checking it holds their enrolled approval key, and closing it afterwards.
import { HsmToken, Pkcs11Module } from "../../hsm/index.js";
import { OfficerToken, type Registry } from "../../ceremonies/index.js";
import type { TokenView } from "../common/views.js";
import { ConsoleError } from "./errors.js";

const CKF_TOKEN_INITIALIZED = 0x400;

/** Initialised tokens present in the PKCS#11 library (SoftHSM's free slot is left out). */
export function listTokens(library: string): TokenView[] {
  const out: TokenView[] = [];
  for (const slot of Pkcs11Module.get(library).slotsWithToken()) {
    const t = slot.getToken();
    if ((t.flags & CKF_TOKEN_INITIALIZED) === 0) continue;
    out.push({
      label: t.label.trim(),
      serial: t.serialNumber.trim(),
      manufacturer: t.manufacturerID.trim(),
      model: t.model.trim(),
    });
  }
  return out.sort((a, b) => a.label.localeCompare(b.label));
}

/** Opens a token with a typed PIN; the PIN lives only as long as the token is open. */
export async function withToken<T>(
  library: string,
  tokenLabel: string,
  pin: string,
  fn: (token: HsmToken) => Promise<T> | T,
): Promise<T> {
  const token = HsmToken.open({ library, label: tokenLabel, pin: { value: pin } });
  try {
    return await fn(token);
  } finally {
    token.close();
  }
}

/**
 * Opens `person`'s token and hands `fn` their OfficerToken, after checking that the token holds the
 * approval key the registry enrolled for them (a colleague's card is refused before anything is signed).
 */
export function withOfficer<T>(
  library: string,
  registry: Registry,
  person: string,
  tokenLabel: string,
  pin: string,
  fn: (officer: OfficerToken) => Promise<T> | T,
): Promise<T> {
  const p = registry.get(person);
  if (!p) throw new ConsoleError("not-found", `"${person}" is not in the participant registry`);
  return withToken(library, tokenLabel, pin, async (token) => {
    let officer: OfficerToken;
    try {
      officer = OfficerToken.open(person, token);
    } catch {
      throw new ConsoleError("token-mismatch", `token "${tokenLabel}" holds no enrolled approval key`);
    }
    if (officer.keyId !== p.keyId)
      throw new ConsoleError(
        "token-mismatch",
        `token "${tokenLabel}" is not ${p.name}'s: its approval key is not the one enrolled for ${person}`,
      );
    return fn(officer);
  });
}
