/**
 * express-session store on the SQLite database: sessions survive a restart and
 * live on disk, not in the heap. Expired rows are swept periodically.
 *
 * express-session touches the session on every request that does not change it
 * (the sliding expiry). A touch writes only when the new expiry is later than the
 * stored one by more than a minute (or 1% of the lifetime, if that is less), so a
 * request that only reads its session does not cost a write, WAL traffic and
 * checkpoints; the stored expiry lags the sliding one by at most that much.
 */
import session from 'express-session';
import type { Db } from './db.js';

type Callback<T = void> = (err?: unknown, value?: T) => void;

export class SqliteSessionStore extends session.Store {
  readonly #get;
  readonly #set;
  readonly #destroy;
  readonly #touch;
  readonly #sweep;
  readonly #timer: NodeJS.Timeout;
  readonly #defaultTtlMs: number;
  readonly #touchGranularityMs: number;
  readonly #now: () => number;

  constructor(db: Db, options: { defaultTtlMs: number; now?: () => number; sweepIntervalMs?: number }) {
    super();
    this.#defaultTtlMs = options.defaultTtlMs;
    this.#touchGranularityMs = Math.min(60_000, options.defaultTtlMs / 100);
    this.#now = options.now ?? Date.now;
    this.#get = db.prepare('SELECT data, expires FROM sessions WHERE sid = ? AND expires > ?');
    this.#set = db.prepare(
      'INSERT INTO sessions (sid, data, expires) VALUES (?, ?, ?) ON CONFLICT(sid) DO UPDATE SET data = excluded.data, expires = excluded.expires',
    );
    this.#destroy = db.prepare('DELETE FROM sessions WHERE sid = ?');
    this.#touch = db.prepare('UPDATE sessions SET expires = ? WHERE sid = ? AND expires < ?');
    this.#sweep = db.prepare('DELETE FROM sessions WHERE expires <= ?');
    this.#timer = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 10 * 60_000);
    this.#timer.unref();
  }

  #expires(sess: session.SessionData): number {
    const cookieExpires = sess.cookie?.expires;
    return cookieExpires ? new Date(cookieExpires).getTime() : this.#now() + this.#defaultTtlMs;
  }

  /** The live session with this id and its stored expiry, read synchronously (the sign-in fast path); throws when the store fails. */
  read(sid: string): { session: session.SessionData; expires: number } | undefined {
    const row = this.#get.get(sid, this.#now()) as { data: string; expires: number } | undefined;
    return row ? { session: JSON.parse(row.data) as session.SessionData, expires: row.expires } : undefined;
  }

  override get(sid: string, cb: Callback<session.SessionData | null>): void {
    let found: { session: session.SessionData } | undefined;
    try {
      found = this.read(sid);
    } catch (err) {
      cb(err);
      return;
    }
    cb(null, found?.session ?? null);
  }

  override set(sid: string, sess: session.SessionData, cb?: Callback): void {
    try {
      this.#set.run(sid, JSON.stringify(sess), this.#expires(sess));
      cb?.();
    } catch (err) {
      cb?.(err);
    }
  }

  override destroy(sid: string, cb?: Callback): void {
    try {
      this.#destroy.run(sid);
      cb?.();
    } catch (err) {
      cb?.(err);
    }
  }

  override touch(sid: string, sess: session.SessionData, cb?: Callback): void {
    try {
      const expires = this.#expires(sess);
      this.#touch.run(expires, sid, expires - this.#touchGranularityMs);
      cb?.();
    } catch (err) {
      cb?.(err);
    }
  }

  /** The sliding expiry, as `touch`, for a session just `read`: without a statement when its stored expiry is recent enough. */
  slide(sid: string, storedExpires: number, expires: number): void {
    if (expires - storedExpires > this.#touchGranularityMs) this.#touch.run(expires, sid, expires - this.#touchGranularityMs);
  }

  sweep(): number {
    return this.#sweep.run(this.#now()).changes;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
