/**
 * Login abuse controls: failed sign-ins counted per account (the normalized email,
 * whether or not such a user exists) and per client address, in the SQLite store,
 * so the counts survive a restart and are shared by every process on the data
 * directory.
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
 */
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';

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

interface Row {
  failures: number;
  window_start: number;
  locked_until: number;
}

/** Sweep rows that can no longer matter every this many counted attempts. */
const SWEEP_EVERY = 256;

export class LoginThrottle {
  readonly #config: ThrottleConfig;
  readonly #clock: Clock;
  readonly #get;
  readonly #put;
  readonly #delete;
  readonly #sweep;
  readonly #begin;
  readonly #succeeded;
  #sinceSweep = 0;

  constructor(db: Db, config: ThrottleConfig, clock: Clock) {
    this.#config = config;
    this.#clock = clock;
    // Its own table, created on first use: nothing else reads it, and it needs no migration.
    db.exec(`CREATE TABLE IF NOT EXISTS login_throttle (
      key TEXT PRIMARY KEY,
      failures INTEGER NOT NULL,
      window_start INTEGER NOT NULL,
      locked_until INTEGER NOT NULL
    )`);
    this.#get = db.prepare('SELECT failures, window_start, locked_until FROM login_throttle WHERE key = ?');
    this.#put = db.prepare(
      `INSERT INTO login_throttle (key, failures, window_start, locked_until) VALUES (@key, @failures, @windowStart, @lockedUntil)
       ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, locked_until = excluded.locked_until`,
    );
    this.#delete = db.prepare('DELETE FROM login_throttle WHERE key = ?');
    this.#sweep = db.prepare('DELETE FROM login_throttle WHERE locked_until <= @now AND window_start <= @windowStart');
    // One transaction: check both keys, then count the attempt on both, so that no
    // other process on the same store can interleave between the check and the count.
    this.#begin = db.transaction((account: string, ip: string, now: number): ThrottleDecision => {
      const keys = [
        { key: `account:${account}`, max: this.#config.maxFailuresPerAccount },
        { key: `ip:${ip}`, max: this.#config.maxFailuresPerIp },
      ];
      const rows = keys.map(({ key }) => this.#get.get(key) as Row | undefined);
      const lockedUntil = Math.max(0, ...rows.map((r) => r?.locked_until ?? 0));
      if (lockedUntil > now) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((lockedUntil - now) / 1000)) };
      let lockedIp = false;
      keys.forEach(({ key, max }, i) => {
        const row = rows[i];
        const fresh = !row || row.window_start + this.#config.windowSeconds * 1000 <= now;
        const failures = (fresh ? 0 : row.failures) + 1;
        const lock = failures >= max;
        if (lock && key.startsWith('ip:')) lockedIp = true;
        this.#put.run({
          key,
          // Locking starts a fresh count, for after the lockout.
          failures: lock ? 0 : failures,
          windowStart: fresh || lock ? now : row.window_start,
          lockedUntil: lock ? now + this.#config.lockoutSeconds * 1000 : 0,
        });
      });
      return { allowed: true, ticket: { account: keys[0]!.key, ip: keys[1]!.key, lockedIp } };
    });
    this.#succeeded = db.transaction((ticket: ThrottleTicket): void => {
      this.#delete.run(ticket.account);
      const row = this.#get.get(ticket.ip) as Row | undefined;
      if (!row) return;
      if (ticket.lockedIp) {
        // This attempt locked the address and turned out to be right: unlock, one short of the maximum.
        this.#put.run({ key: ticket.ip, failures: this.#config.maxFailuresPerIp - 1, windowStart: row.window_start, lockedUntil: 0 });
        return;
      }
      if (row.failures > 0) this.#put.run({ key: ticket.ip, failures: row.failures - 1, windowStart: row.window_start, lockedUntil: row.locked_until });
    });
  }

  get enabled(): boolean {
    return this.#config.enabled;
  }

  /**
   * Before checking a password: refuses when the account or the address is locked,
   * else counts the attempt as a failure until `succeeded` says otherwise.
   * `account` is the normalized email (users' emailKey), `ip` the client address.
   */
  begin(account: string, ip: string): ThrottleDecision {
    if (!this.#config.enabled) return { allowed: true, ticket: { account: '', ip: '', lockedIp: false } };
    const now = this.#clock.now();
    // IMMEDIATE: take the write lock first (waiting busy_timeout for other processes on the store). A deferred
    // transaction that reads and then writes fails at once with SQLITE_BUSY when another process wrote meanwhile.
    const decision = this.#begin.immediate(account, ip, now);
    if (++this.#sinceSweep >= SWEEP_EVERY) {
      this.#sinceSweep = 0;
      this.#sweep.run({ now, windowStart: now - this.#config.windowSeconds * 1000 });
    }
    return decision;
  }

  /** The password was right: the account starts over, the address gets this attempt back. */
  succeeded(ticket: ThrottleTicket): void {
    if (!this.#config.enabled) return;
    this.#succeeded.immediate(ticket);
  }
}
