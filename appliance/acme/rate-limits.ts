// Per-account and per-address rate limits (new accounts, new orders, failed validations) as GCRA
// buckets in memory: `count` events per `periodSeconds`, bursting up to `count`, with Retry-After.
import { problems } from "./problems.js";

export interface LimitSpec {
  count: number;
  periodSeconds: number;
}

export const LIMIT_NAMES = [
  "newAccountsPerAddress",
  "newOrdersPerAccount",
  "newOrdersPerAddress",
  "failedValidationsPerAccount",
  "failedValidationsPerAddress",
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

export type RateLimitConfig = Record<LimitName, LimitSpec>;

export const DEFAULT_RATE_LIMITS: RateLimitConfig = {
  newAccountsPerAddress: { count: 50, periodSeconds: 3600 },
  newOrdersPerAccount: { count: 3000, periodSeconds: 3600 },
  newOrdersPerAddress: { count: 6000, periodSeconds: 3600 },
  failedValidationsPerAccount: { count: 100, periodSeconds: 3600 },
  // several devices may answer from one address (a cell gateway): higher than per account
  failedValidationsPerAddress: { count: 300, periodSeconds: 3600 },
};

const MAX_KEYS = 100_000;

export class RateLimiter {
  /** theoretical arrival time (ms) per limit and key */
  private readonly tat = new Map<LimitName, Map<string, number>>();

  /**
   * @param now milliseconds on a monotonic clock (default performance.now): a wall clock stepped back
   * by D would lock every key used before the step out for about D.
   */
  constructor(
    private readonly config: RateLimitConfig,
    private readonly now: () => number = () => performance.now(),
  ) {
    for (const n of LIMIT_NAMES) this.tat.set(n, new Map());
  }

  /** Seconds to wait before one more event is allowed (0 = allowed now). Spends nothing. */
  peek(name: LimitName, key: string): number {
    const { interval, period } = this.spec(name);
    const now = this.now();
    const tat = Math.max(this.tat.get(name)!.get(key) ?? now, now);
    const over = tat + interval - now - period;
    return over > 0 ? Math.ceil(over / 1000) : 0;
  }

  /** Records one event regardless of the limit (failed validations are counted after the fact). */
  spend(name: LimitName, key: string): void {
    const m = this.tat.get(name)!;
    const now = this.now();
    m.set(key, Math.max(m.get(key) ?? now, now) + this.spec(name).interval);
    if (m.size > MAX_KEYS) this.prune(m, now);
  }

  /** Allows and records one event, or throws rateLimited with Retry-After. */
  take(name: LimitName, key: string, what: string): void {
    const wait = this.peek(name, key);
    if (wait > 0) throw problems.rateLimited(`too many ${what}; retry after ${wait} s`, { retryAfter: wait });
    this.spend(name, key);
  }

  /** Throws rateLimited when the limit is exhausted, without recording anything. */
  check(name: LimitName, key: string, what: string): void {
    const wait = this.peek(name, key);
    if (wait > 0) throw problems.rateLimited(`too many ${what}; retry after ${wait} s`, { retryAfter: wait });
  }

  private spec(name: LimitName): { interval: number; period: number } {
    const s = this.config[name] ?? DEFAULT_RATE_LIMITS[name]; // configs written before a limit existed
    const period = s.periodSeconds * 1000;
    return { interval: period / Math.max(1, s.count), period };
  }

  private prune(m: Map<string, number>, now: number): void {
    for (const [k, t] of m) if (t <= now) m.delete(k);
  }
}
