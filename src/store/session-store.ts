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
    this.#get = db.prepare('SELECT data FROM sessions WHERE sid = ? AND expires > ?');
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

  override get(sid: string, cb: Callback<session.SessionData | null>): void {
    try {
      const row = this.#get.get(sid, this.#now()) as { data: string } | undefined;
      cb(null, row ? (JSON.parse(row.data) as session.SessionData) : null);
    } catch (err) {
      cb(err);
    }
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

  sweep(): number {
    return this.#sweep.run(this.#now()).changes;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
