// Cache of account keys imported as KeyObjects (importing a JWK costs more than verifying with it),
// keyed by account id with the account's status; bounded LRU, refreshed whenever an account changes.
import type { Account } from "./account.js";
import { type ImportedKey, importAccountJwk } from "./jws.js";

export interface CachedAccount {
  account: Account;
  key: ImportedKey;
}

export class AccountKeyCache {
  private readonly m = new Map<string, CachedAccount>();

  constructor(private readonly max = 10_000) {}

  get(id: string): CachedAccount | undefined {
    const v = this.m.get(id);
    if (v) {
      this.m.delete(id);
      this.m.set(id, v);
    }
    return v;
  }

  /** Stores the account with its key (re-imported only when the key changed). */
  put(account: Account, key?: ImportedKey): CachedAccount {
    const prev = this.m.get(account.id);
    const k = key ?? (prev && prev.key.thumbprint === account.thumbprint ? prev.key : importAccountJwk(account.jwk));
    const v = { account, key: k };
    this.m.delete(account.id);
    this.m.set(account.id, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
    return v;
  }

  delete(id: string): void {
    this.m.delete(id);
  }

  get size(): number {
    return this.m.size;
  }
}
