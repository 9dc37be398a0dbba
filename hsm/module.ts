// The process-wide PKCS#11 module: loaded and C_Initialize'd once per library path per process,
// re-initialised (generation bump) when a device error makes every handle invalid.
import * as graphene from "graphene-pk11";
import { HsmError, ckrOf, toHsmError } from "./errors.js";

export const DEFAULT_LIBRARY = "/usr/lib/softhsm/libsofthsm2.so";

export class Pkcs11Module {
  private static readonly loaded = new Map<string, Pkcs11Module>();

  /** bumped on every re-initialisation: handles from an older generation are stale */
  generation = 0;
  private mod: graphene.Module | undefined;
  /**
   * Asynchronous calls (C_Sign on the libuv threadpool) in flight on this module, of any token.
   * C_Finalize or C_CloseSession underneath one of them frees what the worker thread is using and
   * crashes the process, so session teardown and re-initialisation wait until this is 0.
   */
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];
  private gateHolders = 0;
  private gateP: Promise<void> | undefined;
  private openGateFn: (() => void) | undefined;

  private constructor(readonly library: string) {}

  /** The single module instance for `library` in this process, initialised. */
  static get(library = DEFAULT_LIBRARY): Pkcs11Module {
    let m = Pkcs11Module.loaded.get(library);
    if (!m) {
      m = new Pkcs11Module(library);
      Pkcs11Module.loaded.set(library, m);
    }
    m.ensure();
    return m;
  }

  get module(): graphene.Module {
    return this.ensure();
  }

  private ensure(): graphene.Module {
    if (this.mod) return this.mod;
    let mod: graphene.Module;
    try {
      mod = graphene.Module.load(this.library, "plantroot");
    } catch (e) {
      throw new HsmError("unsupported", `cannot load PKCS#11 library ${this.library}: ${(e as Error).message}`);
    }
    try {
      // CKF_OS_LOCKING_OK: sessions may be used from the libuv threadpool (async C_Sign)
      mod.initialize({ flags: 2 });
    } catch (e) {
      if (ckrOf(e) !== "CKR_CRYPTOKI_ALREADY_INITIALIZED") throw toHsmError(e, "C_Initialize");
    }
    this.mod = mod;
    this.generation++;
    return mod;
  }

  /** An asynchronous call starts (pair with asyncEnd()). */
  asyncBegin(): void {
    this.inflight++;
  }

  asyncEnd(): void {
    if (--this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** True while asynchronous calls run: no session teardown or re-initialisation now. */
  get busy(): boolean {
    return this.inflight > 0;
  }

  /** Resolves once no asynchronous call runs on the module. */
  idle(): Promise<void> {
    return this.inflight === 0 ? Promise.resolve() : new Promise((r) => this.idleWaiters.push(r));
  }

  /** While closed (recoveries wait to tear sessions down), new asynchronous calls wait. Counted. */
  closeGate(): void {
    if (this.gateHolders++ === 0)
      this.gateP = new Promise((r) => {
        this.openGateFn = r;
      });
  }

  openGate(): void {
    if (--this.gateHolders > 0) return;
    const open = this.openGateFn;
    this.gateP = undefined;
    this.openGateFn = undefined;
    open?.();
  }

  /** The promise new asynchronous calls wait on, when the gate is closed. */
  get gate(): Promise<void> | undefined {
    return this.gateP;
  }

  /**
   * Finalize and initialise again. Every session, login and object handle of every token in this
   * process becomes invalid; tokens notice through `generation` and re-open themselves.
   */
  reinitialize(): void {
    if (this.busy)
      throw new HsmError(
        "pkcs11",
        "cannot re-initialise the module while asynchronous operations run",
        "CKR_FUNCTION_FAILED",
      );
    const mod = this.mod;
    this.mod = undefined;
    if (mod) {
      try {
        mod.finalize();
      } catch {
        // already finalized underneath us, or the device is gone: initialise anyway
      }
    }
    this.ensure();
  }

  slotsWithToken(): graphene.Slot[] {
    return this.slots(true);
  }

  allSlots(): graphene.Slot[] {
    return this.slots(false);
  }

  /** Slot enumeration; re-initialises once if the library was finalized underneath us. */
  private slots(withToken: boolean): graphene.Slot[] {
    const read = () => {
      const list = this.module.getSlots(withToken);
      const out: graphene.Slot[] = [];
      for (let i = 0; i < list.length; i++) out.push(list.items(i));
      return out;
    };
    try {
      return read();
    } catch (e) {
      if (ckrOf(e) !== "CKR_CRYPTOKI_NOT_INITIALIZED") throw toHsmError(e, "C_GetSlotList");
      this.reinitialize();
      try {
        return read();
      } catch (e2) {
        throw toHsmError(e2, "C_GetSlotList");
      }
    }
  }
}
