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

  /**
   * Finalize and initialise again. Every session, login and object handle of every token in this
   * process becomes invalid; tokens notice through `generation` and re-open themselves.
   */
  reinitialize(): void {
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
