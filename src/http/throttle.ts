/**
 * Login abuse controls: failed sign-ins counted per account (the normalized email,
 * whether or not such a user exists) and per client address, in the state store.
 * The IdP gives it the SQLite one, so the counts survive a restart and are shared
 * by every process on the data directory.
 *
 * An attempt is counted *before* the password is checked (`begin`), so a burst of
 * concurrent guesses cannot all slip past the check while the hashes run; a
 * success then takes its count back (`succeeded`): the account's counter is
 * cleared, the address's counter only loses this attempt. A locked account or
 * address is answered 429 with Retry-After without hashing anything.
 *
 * Each counter is a fixed window: it starts at the first counted attempt and lasts
 * windowSeconds; reaching the maximum within it locks the key for lockoutSeconds
 * and starts a fresh count.
 *
 * In the store, per key (`account:<email>`, `ip:<address>`): a counter
 * `throttle:failures:<key>` that lives windowSeconds, and while locked a value
 * `throttle:lock:<key>` (when the lock ends, in ms) that lives lockoutSeconds.
 * Each store call is atomic on its own; the count itself decides who reached the
 * maximum, so of attempts racing from several processes only the max-th is let
 * through and any past it is refused.
 */
import type { Clock } from '../clock.js';
import type { StateStore } from '../state/types.js';

export interface ThrottleConfig {
  enabled: boolean;
  maxFailuresPerAccount: number;
  maxFailuresPerIp: number;
  windowSeconds: number;
  lockoutSeconds: number;
}

/** An attempt that was let through: what `succeeded` needs to take it back. */
export interface ThrottleTicket {
  account: string;
  ip: string;
  /** Whether this very attempt locked the address (a success unlocks it again). */
  lockedIp: boolean;
}

export type ThrottleDecision = { allowed: true; ticket: ThrottleTicket } | { allowed: false; retryAfterSeconds: number };

const failuresKey = (key: string) => `throttle:failures:${key}`;
const lockKey = (key: string) => `throttle:lock:${key}`;

export class LoginThrottle {
  readonly #store: StateStore;
  readonly #config: ThrottleConfig;
  readonly #clock: Clock;

  constructor(store: StateStore, config: ThrottleConfig, clock: Clock) {
    this.#store = store;
    this.#config = config;
    this.#clock = clock;
  }

  get enabled(): boolean {
    return this.#config.enabled;
  }

  get #windowMs(): number {
    return this.#config.windowSeconds * 1000;
  }

  /**
   * Before checking a password: refuses when the account or the address is locked,
   * else counts the attempt as a failure until `succeeded` says otherwise.
   * `account` is the normalized email (users' emailKey), `ip` the client address.
   */
  async begin(account: string, ip: string): Promise<ThrottleDecision> {
    if (!this.#config.enabled) return { allowed: true, ticket: { account: '', ip: '', lockedIp: false } };
    const now = this.#clock.now();
    const counters = [
      { key: `account:${account}`, max: this.#config.maxFailuresPerAccount },
      { key: `ip:${ip}`, max: this.#config.maxFailuresPerIp },
    ];
    const keys = counters.map((c) => c.key);
    const lockedUntil = await this.#lockedUntil(keys);
    if (lockedUntil > now) return refusal(lockedUntil, now);
    let lockedIp = false;
    let pastMax = false;
    for (const { key, max } of counters) {
      const failures = await this.#store.increment(failuresKey(key), 1, this.#windowMs);
      if (failures < max) continue;
      const lockoutMs = this.#config.lockoutSeconds * 1000;
      await this.#store.setIfAbsent(lockKey(key), now + lockoutMs, lockoutMs);
      // Locking starts a fresh count, for after the lockout.
      await this.#store.set(failuresKey(key), 0, this.#windowMs);
      if (failures > max) {
        // Another process's attempt was the max-th: this one is refused like any after the lock.
        pastMax = true;
        break;
      }
      if (key.startsWith('ip:')) lockedIp = true;
    }
    if (pastMax) return refusal(await this.#lockedUntil(keys), now);
    return { allowed: true, ticket: { account: keys[0]!, ip: keys[1]!, lockedIp } };
  }

  /** Seconds until the account's lock ends, or undefined when it is not locked; counts nothing (the user picker asks it). */
  async accountLockedFor(account: string): Promise<number | undefined> {
    if (!this.#config.enabled) return undefined;
    const now = this.#clock.now();
    const until = await this.#lockedUntil([`account:${account}`]);
    return until > now ? Math.max(1, Math.ceil((until - now) / 1000)) : undefined;
  }

  /** The password was right: the account starts over, the address gets this attempt back. */
  async succeeded(ticket: ThrottleTicket): Promise<void> {
    if (!this.#config.enabled) return;
    await this.#store.delete(failuresKey(ticket.account));
    await this.#store.delete(lockKey(ticket.account));
    if (ticket.lockedIp) {
      // This attempt locked the address and turned out to be right: one short of the maximum
      // in the window that began at the lock (the fresh count is 0 until the lock ends), then unlocked.
      await this.#store.increment(failuresKey(ticket.ip), this.#config.maxFailuresPerIp - 1, this.#windowMs);
      await this.#store.delete(lockKey(ticket.ip));
      return;
    }
    const failures = await this.#store.get<number>(failuresKey(ticket.ip));
    if (failures !== undefined && failures > 0) await this.#store.increment(failuresKey(ticket.ip), -1, this.#windowMs);
  }

  /** When the later of the keys' locks ends (ms), 0 when none is locked. */
  async #lockedUntil(keys: readonly string[]): Promise<number> {
    const locks = await Promise.all(keys.map((key) => this.#store.get<number>(lockKey(key))));
    return Math.max(0, ...locks.map((until) => until ?? 0));
  }
}

function refusal(lockedUntil: number, now: number): ThrottleDecision {
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((lockedUntil - now) / 1000)) };
}
