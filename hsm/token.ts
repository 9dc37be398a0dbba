// A PKCS#11 token opened by label: login, a control session plus a small pool of signing sessions,
// key generation and lookup, and self-recovery after device/session errors.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type * as graphene from "graphene-pk11";
import type * as Pkcs11Js from "pkcs11js";
import { HsmError, ckrOf, toHsmError } from "./errors.js";
import { EC_PARAMS } from "./encoding.js";
import { HsmKey, type KeyHandleSource } from "./key.js";
import { keyFamily, type KeySpec, parseKeySpec, rsaBits } from "./key-spec.js";
import { DEFAULT_LIBRARY, Pkcs11Module } from "./module.js";
import { C, CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN } from "./pkcs11-constants.js";
import { parsePkcs11Uri } from "./pkcs11-uri.js";
import { type PinSource, readPin } from "./pin.js";

export interface OpenTokenOptions {
  /** path of the PKCS#11 library; default SoftHSM2 */
  library?: string;
  /** CKA token label (never a slot number: SoftHSM renumbers slots) */
  label: string;
  pin: PinSource;
  /** sessions used for asynchronous (RSA) signing; default 2, one per core */
  signingSessions?: number;
  /**
   * Default true: the token keeps its PIN in memory to log in again by itself after a session or
   * device loss. false: it logs in once and drops the PIN (for a PIN rebuilt from a quorum's shares);
   * after a session loss every operation fails with kind `login-required` — a new login (a new quorum).
   */
  keepPin?: boolean;
}

export interface GenerateKeyOptions {
  label: string;
  spec: KeySpec;
  /**
   * true only when a ceremony explicitly chose wrapped backup: the private key is then
   * CKA_EXTRACTABLE (still CKA_SENSITIVE, so it can only leave the token wrapped).
   */
  extractable?: boolean;
}

export interface TokenInfo {
  label: string;
  manufacturer: string;
  model: string;
  serial: string;
}

export interface KeyListing {
  label: string;
  id: string;
  class: "private" | "public" | "secret";
}

// Login state is per process and token, shared by every session. To make sure a second HsmToken on
// an already logged-in token still proves its PIN, remember a keyed digest of the PIN that logged in
// (memory only), and the PIN itself only when its holder keeps it anyway (for re-login after recovery).
const PIN_DIGEST_KEY = randomBytes(32);
const pinDigest = (pin: string) => createHmac("sha256", PIN_DIGEST_KEY).update(pin).digest();
const loggedIn = new Map<string, { digest: Buffer; pin?: string }>();
/** open HsmTokens per token serial: when the last one closes, its PIN is forgotten */
const holders = new Map<string, number>();

function loginUser(
  lib: Pkcs11Js.PKCS11,
  session: Pkcs11Js.Handle,
  serial: string,
  pin: string,
  keepPin: boolean,
): void {
  const digest = pinDigest(pin);
  try {
    lib.C_Login(session, 1 /* CKU_USER */, pin);
  } catch (e) {
    if (ckrOf(e) !== "CKR_USER_ALREADY_LOGGED_IN") throw e;
    const known = loggedIn.get(serial);
    if (known !== undefined && timingSafeEqual(known.digest, digest)) {
      // the PIN stays in this map only while every holder sharing the login keeps it anyway
      if (!keepPin) delete known.pin;
      return;
    }
    // logged in earlier with another (or an unknown) PIN: prove this one, then restore the old login
    lib.C_Logout(session);
    try {
      lib.C_Login(session, 1, pin);
    } catch (e2) {
      if (known?.pin !== undefined) {
        try {
          lib.C_Login(session, 1, known.pin);
        } catch {
          /* the other holders re-login by themselves on their next call */
        }
      }
      throw e2;
    }
  }
  loggedIn.set(serial, keepPin ? { digest, pin } : { digest });
}

const SESSION_FLAGS = 2 /* CKF_RW_SESSION */ | 4; /* CKF_SERIAL_SESSION */

/** Sessions cannot be re-opened while asynchronous calls run on them; the caller retries later. */
function deferred(label: string): HsmError {
  return new HsmError(
    "pkcs11",
    `token "${label}" is recovering from a device error while asynchronous operations finish; retry`,
    undefined,
    "C_OpenSession",
  );
}

export class HsmToken implements KeyHandleSource {
  readonly library: string;
  readonly label: string;
  private pin: string;
  private readonly keepPin: boolean;
  private heldSerial: string | undefined;
  private readonly poolSize: number;
  private readonly module: Pkcs11Module;

  private generation = -1;
  private openCount = 0;
  private slot: graphene.Slot | undefined;
  private control: Pkcs11Js.Handle | undefined;
  private pool: Pkcs11Js.Handle[] = [];
  private free: Pkcs11Js.Handle[] = [];
  private waiters: Array<{ resolve: (s: Pkcs11Js.Handle) => void; reject: (e: Error) => void }> = [];
  private closed = false;
  private info: TokenInfo | undefined;
  /** sessions failed while asynchronous calls were running on them: re-open once those are done */
  private stale = false;
  private recovering: Promise<void> | undefined;

  private constructor(opts: OpenTokenOptions) {
    this.library = opts.library ?? DEFAULT_LIBRARY;
    this.label = opts.label;
    this.pin = readPin(opts.pin);
    this.keepPin = opts.keepPin ?? true;
    this.poolSize = Math.max(1, Math.min(16, opts.signingSessions ?? 2));
    this.module = Pkcs11Module.get(this.library);
  }

  /** Opens the token with label `label` and logs in as the user (see `keepPin`). */
  static open(opts: OpenTokenOptions): HsmToken {
    const t = new HsmToken(opts);
    try {
      t.ensureOpen();
    } finally {
      if (!t.keepPin) t.pin = "";
    }
    return t;
  }

  /** Whether this token still holds its PIN (false after `keepPin: false` once logged in, and after close). */
  get holdsPin(): boolean {
    return this.pin !== "";
  }

  /** The refusal when a token opened with `keepPin: false` would have to log in again. */
  private loginRequired(): HsmError {
    return new HsmError(
      "login-required",
      `token "${this.label}" lost its login and its PIN was not kept (opened with keepPin: false, e.g. rebuilt ` +
        "from a quorum's shares): a new login is needed — for a quorum token, a new quorum unlocking it",
      undefined,
      "C_Login",
    );
  }

  get lib(): Pkcs11Js.PKCS11 {
    return this.module.module.lib;
  }

  /** Bumped whenever sessions were re-opened; key handles from an older epoch are stale. */
  get epoch(): number {
    return this.openCount;
  }

  tokenInfo(): TokenInfo {
    this.ensureOpen();
    return this.info!;
  }

  // ---- session management and recovery ----

  private needsOpen(): boolean {
    return this.control === undefined || this.stale || this.generation !== this.module.generation;
  }

  private ensureOpen(): void {
    if (this.closed) throw new HsmError("bad-input", `token "${this.label}" was closed`);
    if (!this.needsOpen()) return;
    // closing sessions under a running asynchronous C_Sign crashes the process: not now
    if (this.module.busy) throw deferred(this.label);
    try {
      this.openSessions();
    } catch (e) {
      throw toHsmError(e, "C_OpenSession", [this.pin]); // slot/token enumeration throws raw errors too
    }
  }

  private findSlot(): graphene.Slot {
    const slots = this.module.slotsWithToken();
    const matches = slots.filter((s) => s.getToken().label.trim() === this.label);
    if (matches.length === 0) throw new HsmError("token-not-found", `no token with label "${this.label}"`);
    if (matches.length > 1) throw new HsmError("token-not-found", `more than one token with label "${this.label}"`);
    return matches[0]!;
  }

  private openSessions(): void {
    const lib = this.lib;
    this.dropSessions();
    if (this.pin === "") throw this.loginRequired();
    const slot = this.findSlot();
    const tok = slot.getToken();
    this.info = {
      label: tok.label.trim(),
      manufacturer: tok.manufacturerID.trim(),
      model: tok.model.trim(),
      serial: tok.serialNumber.trim(),
    };
    let control: Pkcs11Js.Handle;
    try {
      control = lib.C_OpenSession(slot.handle, SESSION_FLAGS);
    } catch (e) {
      throw toHsmError(e, "C_OpenSession");
    }
    try {
      loginUser(lib, control, this.info.serial, this.pin, this.keepPin);
    } catch (e) {
      try {
        lib.C_CloseSession(control);
      } catch {
        /* ignore */
      }
      const ckr = ckrOf(e);
      if (ckr === "CKR_PIN_INCORRECT")
        throw new HsmError("pkcs11", `wrong PIN for token "${this.label}"`, ckr, "C_Login");
      if (ckr === "CKR_PIN_LOCKED")
        throw new HsmError("pkcs11", `PIN of token "${this.label}" is locked`, ckr, "C_Login");
      throw toHsmError(e, "C_Login", [this.pin]);
    }
    if (this.heldSerial === undefined) {
      this.heldSerial = this.info.serial;
      holders.set(this.heldSerial, (holders.get(this.heldSerial) ?? 0) + 1);
    }
    this.slot = slot;
    this.control = control;
    for (let i = 0; i < this.poolSize; i++) this.pool.push(lib.C_OpenSession(slot.handle, SESSION_FLAGS));
    this.free = [...this.pool];
    this.generation = this.module.generation;
    this.stale = false;
    this.openCount++;
    // hand fresh sessions to anyone who waited through a recovery
    while (this.waiters.length && this.free.length) this.waiters.shift()!.resolve(this.free.pop()!);
  }

  private dropSessions(): void {
    const lib = this.module.module.lib;
    for (const s of [this.control, ...this.pool]) {
      if (s === undefined) continue;
      try {
        lib.C_CloseSession(s);
      } catch {
        // the handle is already gone: that is why we are here
      }
    }
    this.control = undefined;
    this.pool = [];
    this.free = [];
  }

  /** Re-open after a recoverable error: first sessions only, then the whole module. Only when idle. */
  private recover(): void {
    if (this.module.busy) throw deferred(this.label);
    try {
      this.openSessions();
      return;
    } catch (e) {
      const err = toHsmError(e, "C_OpenSession", [this.pin]);
      if (!err.recoverable && err.kind !== "token-not-found") throw err;
    }
    this.module.reinitialize();
    this.openSessions();
  }

  /**
   * Runs `fn` on the control session. On a recoverable CKR the token re-opens (and, if needed,
   * re-initialises the module and logs in again) and retries once; a second failure is thrown and
   * the next call tries again.
   */
  withSession<T>(op: string, fn: (lib: Pkcs11Js.PKCS11, session: Pkcs11Js.Handle) => T): T {
    this.ensureOpen();
    try {
      return fn(this.lib, this.control!);
    } catch (e) {
      const err = toHsmError(e, op, [this.pin]);
      if (!err.recoverable) throw err;
      if (this.module.busy || this.module.gate) {
        // asynchronous calls run on this token's sessions: re-open once they are done
        this.stale = true;
        throw err;
      }
      try {
        this.recover();
      } catch (re) {
        this.control = undefined; // next call retries the whole open
        throw toHsmError(re, op, [this.pin]);
      }
      try {
        return fn(this.lib, this.control!);
      } catch (e2) {
        throw toHsmError(e2, op, [this.pin]);
      }
    }
  }

  private async acquire(): Promise<Pkcs11Js.Handle> {
    for (;;) {
      const gate = this.module.gate;
      if (gate) {
        await gate; // a recovery is waiting for the running calls to finish
        continue;
      }
      if (this.needsOpen() && this.module.busy) {
        await this.module.idle();
        continue;
      }
      this.ensureOpen();
      const s = this.free.pop();
      if (s !== undefined) return s;
      return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    }
  }

  private release(s: Pkcs11Js.Handle, gen: number): void {
    if (gen !== this.openCount) return; // a session from before a recovery: already closed
    const w = this.waiters.shift();
    if (w) w.resolve(s);
    else this.free.push(s);
  }

  /** Runs an asynchronous operation on a leased signing session, with the same recovery rule. */
  async withSigningSession<T>(
    op: string,
    fn: (lib: Pkcs11Js.PKCS11, session: Pkcs11Js.Handle) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const s = await this.acquire();
      const gen = this.openCount;
      let err: HsmError;
      this.module.asyncBegin();
      try {
        return await fn(this.lib, s);
      } catch (e) {
        err = toHsmError(e, op, [this.pin]);
      } finally {
        this.module.asyncEnd();
        this.release(s, gen);
      }
      if (!err.recoverable || attempt > 0) throw err;
      if (gen === this.openCount) await this.recoverWhenIdle(op);
    }
  }

  /**
   * Recovery for the asynchronous path: new asynchronous calls wait at the module's gate, the running
   * ones finish (on a broken device they fail fast), then sessions (and the module) are re-opened.
   * Concurrent callers share one recovery.
   */
  private recoverWhenIdle(op: string): Promise<void> {
    this.recovering ??= (async () => {
      this.module.closeGate();
      try {
        await this.module.idle();
        this.recover();
      } catch (re) {
        this.stale = true; // the next call tries the whole open again
        throw toHsmError(re, op, [this.pin]);
      } finally {
        this.module.openGate();
        this.recovering = undefined;
      }
    })();
    return this.recovering;
  }

  // ---- objects ----

  private findHandles(lib: Pkcs11Js.PKCS11, session: Pkcs11Js.Handle, template: Pkcs11Js.Template): Pkcs11Js.Handle[] {
    lib.C_FindObjectsInit(session, template);
    try {
      return lib.C_FindObjects(session, 100);
    } finally {
      lib.C_FindObjectsFinal(session);
    }
  }

  /**
   * C_FindObjects silently hides private objects when the session is not logged in (another holder
   * of this token may have logged out): make sure we are, before trusting an empty result.
   */
  private ensureLoggedIn(lib: Pkcs11Js.PKCS11, s: Pkcs11Js.Handle): void {
    const state = lib.C_GetSessionInfo(s).state;
    if (state !== 3 /* CKS_RW_USER_FUNCTIONS */ && state !== 1 /* CKS_RO_USER_FUNCTIONS */) {
      if (this.pin === "") throw this.loginRequired();
      loginUser(lib, s, this.info!.serial, this.pin, this.keepPin);
    }
  }

  /** The private key handle for CKA_ID `id` in the current epoch (used by HsmKey). */
  privateKeyHandle(id: Buffer): Pkcs11Js.Handle {
    return this.withSession("C_FindObjects", (lib, s) => {
      this.ensureLoggedIn(lib, s);
      const h = this.findHandles(lib, s, [
        { type: C.CKA_CLASS!, value: C.CKO_PRIVATE_KEY! },
        { type: C.CKA_ID!, value: id },
      ]);
      if (h.length === 0) throw new HsmError("key-not-found", `private key with id ${id.toString("hex")} is gone`);
      return h[0]!;
    });
  }

  labelExists(label: string): boolean {
    return this.withSession("C_FindObjects", (lib, s) => {
      this.ensureLoggedIn(lib, s);
      return this.findHandles(lib, s, [{ type: C.CKA_LABEL!, value: label }]).length > 0;
    });
  }

  /** Generates a key pair on the token. Refuses a label that already exists. */
  generateKeyPair(opts: GenerateKeyOptions): HsmKey {
    const spec = parseKeySpec(opts.spec);
    if (!opts.label || opts.label.length > 128) throw new HsmError("bad-input", "key label must be 1..128 characters");
    if (this.labelExists(opts.label))
      throw new HsmError("key-exists", `an object labelled "${opts.label}" already exists on token "${this.label}"`);
    const id = randomBytes(16);
    const extractable = opts.extractable === true;
    const common = [
      { type: C.CKA_TOKEN!, value: true },
      { type: C.CKA_LABEL!, value: opts.label },
      { type: C.CKA_ID!, value: id },
    ];
    const pub: Pkcs11Js.Template = [
      ...common,
      { type: C.CKA_CLASS!, value: C.CKO_PUBLIC_KEY! },
      { type: C.CKA_VERIFY!, value: true },
      { type: C.CKA_ENCRYPT!, value: false },
      { type: C.CKA_WRAP!, value: false },
      { type: C.CKA_PRIVATE!, value: false },
    ];
    const priv: Pkcs11Js.Template = [
      ...common,
      { type: C.CKA_CLASS!, value: C.CKO_PRIVATE_KEY! },
      { type: C.CKA_PRIVATE!, value: true },
      { type: C.CKA_SENSITIVE!, value: true },
      { type: C.CKA_EXTRACTABLE!, value: extractable },
      { type: C.CKA_SIGN!, value: true },
      { type: C.CKA_DECRYPT!, value: false },
      { type: C.CKA_UNWRAP!, value: false },
      { type: C.CKA_DERIVE!, value: false },
    ];
    let mechanism: number;
    const fam = keyFamily(spec);
    if (fam === "rsa") {
      mechanism = C.CKM_RSA_PKCS_KEY_PAIR_GEN!;
      pub.push({ type: C.CKA_KEY_TYPE!, value: C.CKK_RSA! });
      pub.push({ type: C.CKA_MODULUS_BITS!, value: rsaBits(spec) });
      pub.push({ type: C.CKA_PUBLIC_EXPONENT!, value: Buffer.from([1, 0, 1]) });
      priv.push({ type: C.CKA_KEY_TYPE!, value: C.CKK_RSA! });
    } else if (fam === "ec") {
      mechanism = C.CKM_EC_KEY_PAIR_GEN!;
      pub.push({ type: C.CKA_KEY_TYPE!, value: C.CKK_EC! });
      pub.push({ type: C.CKA_EC_PARAMS!, value: EC_PARAMS[spec as "P-256" | "P-384"] });
      priv.push({ type: C.CKA_KEY_TYPE!, value: C.CKK_EC! });
    } else {
      if (!this.supportsMechanism(CKM_EC_EDWARDS_KEY_PAIR_GEN))
        throw new HsmError(
          "unsupported",
          `token "${this.label}" does not support Ed25519 keys`,
          "CKR_MECHANISM_INVALID",
        );
      mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
      pub.push({ type: C.CKA_KEY_TYPE!, value: CKK_EC_EDWARDS });
      pub.push({ type: C.CKA_EC_PARAMS!, value: EC_PARAMS.Ed25519 });
      priv.push({ type: C.CKA_KEY_TYPE!, value: CKK_EC_EDWARDS });
    }
    this.withSession("C_GenerateKeyPair", (lib, s) =>
      lib.C_GenerateKeyPair(s, { mechanism, parameter: undefined }, pub, priv),
    );
    return this.loadKey(id, opts.label, spec);
  }

  supportsMechanism(mech: number): boolean {
    this.ensureOpen();
    return this.lib.C_GetMechanismList(this.slot!.handle).includes(mech);
  }

  /** Reads the public half of a key pair and wraps it as an HsmKey. */
  private loadKey(id: Buffer, label: string, spec?: KeySpec): HsmKey {
    const pubInfo = this.withSession("C_GetAttributeValue", (lib, s) => {
      const h = this.findHandles(lib, s, [
        { type: C.CKA_CLASS!, value: C.CKO_PUBLIC_KEY! },
        { type: C.CKA_ID!, value: id },
      ]);
      if (h.length === 0) throw new HsmError("key-not-found", `no public key for "${label}" on token "${this.label}"`);
      const [kt] = lib.C_GetAttributeValue(s, h[0]!, [{ type: C.CKA_KEY_TYPE! }]);
      const keyType = Number((kt!.value as Buffer).readBigUInt64LE(0));
      if (keyType === C.CKK_RSA) {
        const [m, e] = lib.C_GetAttributeValue(s, h[0]!, [{ type: C.CKA_MODULUS! }, { type: C.CKA_PUBLIC_EXPONENT! }]);
        return { keyType: "rsa" as const, modulus: m!.value as Buffer, exponent: e!.value as Buffer };
      }
      const [p, params] = lib.C_GetAttributeValue(s, h[0]!, [{ type: C.CKA_EC_POINT! }, { type: C.CKA_EC_PARAMS! }]);
      return {
        keyType: keyType === CKK_EC_EDWARDS ? ("ed25519" as const) : ("ec" as const),
        point: p!.value as Buffer,
        params: params!.value as Buffer,
      };
    });
    let detected: KeySpec;
    if (pubInfo.keyType === "rsa") {
      const bits = pubInfo.modulus.length * 8;
      detected = `RSA-${bits}` as KeySpec;
      if (![2048, 3072, 4096].includes(bits))
        throw new HsmError("unsupported", `RSA key "${label}" has unsupported size ${bits}`);
    } else if (pubInfo.keyType === "ed25519") {
      detected = "Ed25519";
    } else if (pubInfo.params.equals(EC_PARAMS["P-256"])) detected = "P-256";
    else if (pubInfo.params.equals(EC_PARAMS["P-384"])) detected = "P-384";
    else throw new HsmError("unsupported", `EC key "${label}" is on an unsupported curve`);
    if (spec && spec !== detected) throw new HsmError("bad-input", `key "${label}" is ${detected}, expected ${spec}`);
    return new HsmKey(this, { id, label, spec: detected, pub: pubInfo });
  }

  /** Finds a key pair by label or by an RFC 7512 URI (`pkcs11:token=…;object=…;type=private`). */
  findKey(labelOrUri: string): HsmKey {
    let label: string | undefined = labelOrUri;
    let id: Buffer | undefined;
    if (labelOrUri.startsWith("pkcs11:")) {
      const u = parsePkcs11Uri(labelOrUri);
      if (u.token !== undefined && u.token !== this.label)
        throw new HsmError("token-not-found", `URI names token "${u.token}", this is "${this.label}"`);
      if (u.type !== undefined && u.type !== "private" && u.type !== "public")
        throw new HsmError("bad-uri", `URI type "${u.type}" does not name a key pair`);
      label = u.object;
      id = u.id;
      if (label === undefined && id === undefined) throw new HsmError("bad-uri", "URI names neither object nor id");
    }
    const template: Pkcs11Js.Template = [{ type: C.CKA_CLASS!, value: C.CKO_PRIVATE_KEY! }];
    if (label !== undefined) template.push({ type: C.CKA_LABEL!, value: label });
    if (id !== undefined) template.push({ type: C.CKA_ID!, value: id });
    const found = this.withSession("C_FindObjects", (lib, s) => {
      this.ensureLoggedIn(lib, s);
      const handles = this.findHandles(lib, s, template);
      return handles.map((h) => {
        const [i, l] = lib.C_GetAttributeValue(s, h, [{ type: C.CKA_ID! }, { type: C.CKA_LABEL! }]);
        return { id: i!.value as Buffer, label: (l!.value as Buffer).toString("utf8") };
      });
    });
    const what = label ?? id!.toString("hex");
    if (found.length === 0) throw new HsmError("key-not-found", `no private key "${what}" on token "${this.label}"`);
    if (found.length > 1)
      throw new HsmError("key-not-found", `more than one private key "${what}" on token "${this.label}"`);
    return this.loadKey(found[0]!.id, found[0]!.label);
  }

  listObjects(): KeyListing[] {
    return this.withSession("C_FindObjects", (lib, s) => {
      this.ensureLoggedIn(lib, s);
      const out: KeyListing[] = [];
      for (const [cls, name] of [
        [C.CKO_PRIVATE_KEY!, "private"],
        [C.CKO_PUBLIC_KEY!, "public"],
        [C.CKO_SECRET_KEY!, "secret"],
      ] as const) {
        for (const h of this.findHandles(lib, s, [{ type: C.CKA_CLASS!, value: cls }])) {
          const [i, l] = lib.C_GetAttributeValue(s, h, [{ type: C.CKA_ID! }, { type: C.CKA_LABEL! }]);
          out.push({
            label: (l!.value as Buffer).toString("utf8"),
            id: (i!.value as Buffer).toString("hex"),
            class: name,
          });
        }
      }
      return out;
    });
  }

  /** Random bytes from the token's RNG. */
  random(n: number): Buffer {
    return this.withSession("C_GenerateRandom", (lib, s) => lib.C_GenerateRandom(s, Buffer.alloc(n)));
  }

  /**
   * Closes every session of this holder. When no HsmToken in the process holds the token any more,
   * PKCS#11 ends the login with the last session and the remembered PIN is dropped as well.
   */
  close(): void {
    if (this.closed) return;
    this.dropSessions();
    this.closed = true;
    this.pin = "";
    if (this.heldSerial !== undefined) {
      const n = (holders.get(this.heldSerial) ?? 1) - 1;
      if (n <= 0) {
        holders.delete(this.heldSerial);
        loggedIn.delete(this.heldSerial);
      } else holders.set(this.heldSerial, n);
    }
    for (const w of this.waiters.splice(0)) w.reject(new HsmError("bad-input", `token "${this.label}" was closed`));
  }
}
