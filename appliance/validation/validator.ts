// The validation authority: createValidator(config) wires guard, resolver, dialer and the three
// challenge checks behind the Validator contract, with a deadline, bounded retries and a semaphore.
import { networkInterfaces } from "node:os";
import type { ValidationRecord, ValidationRequest, ValidationResult, Validator } from "./api.js";
import type { ChallengeContext, Outcome } from "./challenge-context.js";
import { type ValidationConfig, parseValidationConfig } from "./config.js";
import { type DialTarget, type Dialer, createDialer } from "./dialer.js";
import { checkDns01 } from "./dns01.js";
import { checkHttp01 } from "./http01.js";
import { BASE64URL, type Target, parseIdentifier } from "./names.js";
import { type NetworkGuard, createNetworkGuard } from "./network-guard.js";
import { createPlantResolver } from "./resolver.js";
import { QueueFullError, Semaphore } from "./semaphore.js";
import { checkTlsAlpn01 } from "./tlsalpn01.js";

export interface ValidatorOptions {
  /** observer called right before every socket connect; throwing aborts that connect (tests, metrics) */
  beforeConnect?: (t: DialTarget) => void;
  /**
   * addresses of this host's interfaces; default: os.networkInterfaces(), re-read when the last read
   * is older than HOST_ADDRESSES_TTL_MS (a syscall per validation shows in CPU profiles)
   */
  hostAddresses?: () => string[];
}

export interface ValidatorStats {
  running: number;
  queued: number;
  succeeded: number;
  failed: number;
}

export interface ValidationAuthority extends Validator {
  readonly config: ValidationConfig;
  stats(): ValidatorStats;
}

/** How long the default reader reuses this host's interface addresses (DHCP, a new VLAN: seen within this). */
export const HOST_ADDRESSES_TTL_MS = 1000;

/** Non-loopback addresses of this host (link-local ones are refused by the guard anyway). */
function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal) out.push(a.address.split("%")[0]!);
  }
  return out;
}

/** interfaceAddresses(), re-read at most every `ttlMs` (monotonic clock). */
function cachedInterfaceAddresses(ttlMs: number): () => string[] {
  let at = Number.NEGATIVE_INFINITY;
  let value: string[] = [];
  return () => {
    const now = performance.now();
    if (now - at >= ttlMs) {
      value = interfaceAddresses();
      at = now;
    }
    return value;
  };
}

/** Checks the caller's request (the ACME layer builds it, but nothing goes on the wire unchecked). */
function checkRequest(req: ValidationRequest): { ok: true; target: Target } | { ok: false; result: ValidationResult } {
  const bad = (type: "serverInternal" | "rejectedIdentifier", detail: string) => ({
    ok: false as const,
    result: { ok: false, records: [], problem: { type, detail } },
  });
  if (req === null || typeof req !== "object") return bad("serverInternal", "invalid validation request");
  if (req.type !== "http-01" && req.type !== "tls-alpn-01" && req.type !== "dns-01") {
    return bad("serverInternal", `unsupported challenge type "${String(req.type)}"`);
  }
  if (typeof req.token !== "string" || req.token.length > 256 || !BASE64URL.test(req.token)) {
    return bad("serverInternal", "invalid validation request: token is not base64url");
  }
  const ka = req.keyAuthorization;
  if (typeof ka !== "string" || !ka.startsWith(`${req.token}.`) || !BASE64URL.test(ka.slice(req.token.length + 1))) {
    return bad("serverInternal", "invalid validation request: keyAuthorization is not token.thumbprint");
  }
  const id = req.identifier && typeof req.identifier === "object" ? parseIdentifier(req.identifier) : undefined;
  if (!id) return bad("rejectedIdentifier", "missing identifier");
  if (!id.ok) return bad("rejectedIdentifier", id.reason);
  return { ok: true, target: id.target };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export function createValidator(input: unknown, opts: ValidatorOptions = {}): ValidationAuthority {
  const config = parseValidationConfig(input);
  const resolver = createPlantResolver({
    ...(config.resolver.dnsServers ? { dnsServers: config.resolver.dnsServers } : {}),
    ...(config.resolver.hosts ? { hosts: config.resolver.hosts } : {}),
    timeoutMs: config.timeouts.dnsMs,
    tries: config.timeouts.dnsTries,
  });
  const sem = new Semaphore(config.concurrency, config.maxQueued);
  const readHostAddresses = opts.hostAddresses ?? cachedInterfaceAddresses(HOST_ADDRESSES_TTL_MS);
  let cachedGuard: { key: string; guard: NetworkGuard; dialer: Dialer } | undefined;
  const counters = { succeeded: 0, failed: 0 };

  /**
   * The guard for this moment and the dialer bound to it: rebuilt only when this host's addresses
   * changed (DHCP, new VLAN).
   */
  function currentGuard(): { guard: NetworkGuard; dialer: Dialer } {
    const host = config.refuseHostAddresses ? readHostAddresses() : [];
    const key = host.join(",");
    if (cachedGuard?.key !== key) {
      const guard = createNetworkGuard({
        allowedNetworks: config.allowedNetworks,
        ownAddresses: config.ownAddresses,
        ownListeners: config.ownListeners,
        hostAddresses: host,
      });
      const dialer = createDialer({
        guard,
        connectTimeoutMs: config.timeouts.connectMs,
        ...(opts.beforeConnect ? { beforeConnect: opts.beforeConnect } : {}),
      });
      cachedGuard = { key, guard, dialer };
    }
    return cachedGuard;
  }

  async function attempt(
    req: ValidationRequest,
    target: Target,
    signal: AbortSignal,
  ): Promise<[Outcome, ValidationRecord[]]> {
    const { guard, dialer } = currentGuard();
    const ctx: ChallengeContext = {
      config,
      guard,
      resolver,
      dialer,
      signal,
      records: [],
    };
    let outcome: Outcome;
    switch (req.type) {
      case "http-01":
        outcome = await checkHttp01(ctx, target, req.token, req.keyAuthorization);
        break;
      case "tls-alpn-01":
        outcome = await checkTlsAlpn01(ctx, target, req.keyAuthorization);
        break;
      case "dns-01":
        outcome = await checkDns01(ctx, target, req.keyAuthorization);
        break;
    }
    return [outcome, ctx.records];
  }

  async function run(req: ValidationRequest, signal: AbortSignal, records: { current: ValidationRecord[] }) {
    const checked = checkRequest(req);
    if (!checked.ok) return checked.result;
    let release: () => void;
    try {
      release = await sem.acquire(signal);
    } catch (e) {
      const detail =
        e instanceof QueueFullError
          ? `validation capacity exhausted (${config.concurrency} running, ${e.message}); try again later`
          : `no validation slot became free within ${config.timeouts.totalMs} ms`;
      return { ok: false, records: [], problem: { type: "serverInternal" as const, detail } };
    }
    try {
      let outcome: Outcome = { ok: false, type: "serverInternal", detail: "not attempted", retryable: false };
      for (let i = 0; i <= config.retries; i++) {
        if (i > 0) {
          await sleep(config.retryDelayMs, signal);
          if (signal.aborted) break;
        }
        const [o, recs] = await attempt(req, checked.target, signal);
        outcome = o;
        records.current = recs;
        if (o.ok || !o.retryable || signal.aborted) break;
      }
      if (outcome.ok) return { ok: true, records: records.current };
      const deadline = signal.aborted ? ` (validation stopped at its ${config.timeouts.totalMs} ms limit)` : "";
      return {
        ok: false,
        records: records.current,
        problem: { type: outcome.type, detail: `${outcome.detail}${deadline}` },
      };
    } finally {
      release();
    }
  }

  async function validate(req: ValidationRequest): Promise<ValidationResult> {
    const total = config.timeouts.totalMs;
    const ac = new AbortController();
    const records = { current: [] as ValidationRecord[] };
    const abortTimer = setTimeout(() => ac.abort(new Error("deadline")), total);
    let hardTimer: NodeJS.Timeout | undefined;
    // Every I/O path honours the abort; the hard stop is the backstop that keeps the contract
    // "resolves within the configured bound" even if one did not.
    const hardStop = new Promise<ValidationResult>((resolve) => {
      hardTimer = setTimeout(
        () =>
          resolve({
            ok: false,
            records: records.current,
            problem: { type: "connection", detail: `validation did not finish within ${total} ms` },
          }),
        total + 200,
      );
    });
    try {
      const result = await Promise.race([
        run(req, ac.signal, records).catch(
          (): ValidationResult => ({
            ok: false,
            records: records.current,
            problem: { type: "serverInternal", detail: "internal error while validating" },
          }),
        ),
        hardStop,
      ]);
      if (result.ok) counters.succeeded++;
      else counters.failed++;
      return result;
    } finally {
      clearTimeout(abortTimer);
      clearTimeout(hardTimer);
    }
  }

  return {
    config,
    validate,
    stats: () => ({ running: sem.running, queued: sem.queued, ...counters }),
  };
}
