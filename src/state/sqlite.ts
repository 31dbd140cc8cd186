/**
 * The state store in the IdP's SQLite file: what must outlive a restart and be
 * shared by every process on one data directory (the login throttle's counters).
 * Each call is one statement or one immediate transaction, so processes on the
 * same file cannot interleave inside it.
 */
import type { Db } from '../store/db.js';
import type { Now, StateStore } from './types.js';

/** Sweep expired values every this many writes. */
const SWEEP_EVERY = 256;

export class SqliteStateStore implements StateStore {
  readonly #db: Db;
  readonly #now: Now;
  readonly #get;
  readonly #put;
  readonly #insert;
  readonly #take;
  readonly #delete;
  readonly #increment;
  readonly #push;
  readonly #range;
  readonly #length;
  readonly #sweep;
  #writes = 0;

  constructor(db: Db, options: { now: Now }) {
    this.#db = db;
    this.#now = options.now;
    // Its own tables, created on first use: nothing else reads them, and they need no migration.
    db.exec(`CREATE TABLE IF NOT EXISTS state_values (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS state_lists (key TEXT NOT NULL, seq INTEGER PRIMARY KEY AUTOINCREMENT, value TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS state_lists_key ON state_lists(key, seq);`);
    this.#get = db.prepare('SELECT value FROM state_values WHERE key = ? AND expires > ?');
    this.#put = db.prepare(
      'INSERT INTO state_values (key, value, expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires',
    );
    // Sets only over nothing or an expired value: one statement, so it is atomic across processes.
    this.#insert = db.prepare(
      'INSERT INTO state_values (key, value, expires) VALUES (@key, @value, @expires) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires WHERE state_values.expires <= @now',
    );
    this.#take = db.prepare('DELETE FROM state_values WHERE key = ? RETURNING value, expires');
    const deleteValue = db.prepare('DELETE FROM state_values WHERE key = ?');
    const deleteList = db.prepare('DELETE FROM state_lists WHERE key = ?');
    this.#delete = db.transaction((key: string) => {
      deleteValue.run(key);
      deleteList.run(key);
    });
    // One statement (one commit): a live counter gains delta and keeps its expiry, anything else starts over.
    this.#increment = db.prepare(
      `INSERT INTO state_values (key, value, expires) VALUES (@key, @delta, @expires) ON CONFLICT(key) DO UPDATE SET
         value = CASE WHEN state_values.expires > @now THEN CAST(state_values.value AS REAL) + @delta ELSE @delta END,
         expires = CASE WHEN state_values.expires > @now THEN state_values.expires ELSE @expires END
       RETURNING value`,
    );
    const append = db.prepare('INSERT INTO state_lists (key, value) VALUES (?, ?)');
    const trim = db.prepare(
      'DELETE FROM state_lists WHERE key = @key AND seq <= (SELECT seq FROM state_lists WHERE key = @key ORDER BY seq DESC LIMIT 1 OFFSET @keep) RETURNING seq, value',
    );
    this.#push = db.transaction((key: string, value: string, keep: number) => {
      append.run(key, value);
      return trim.all({ key, keep }) as { seq: number; value: string }[];
    });
    this.#range = db.prepare('SELECT value FROM state_lists WHERE key = ? ORDER BY seq DESC LIMIT ? OFFSET ?');
    this.#length = db.prepare('SELECT COUNT(*) AS n FROM state_lists WHERE key = ?');
    this.#sweep = db.prepare('DELETE FROM state_values WHERE expires <= ?');
  }

  #wrote(now: number): void {
    if (++this.#writes < SWEEP_EVERY) return;
    this.#writes = 0;
    this.#sweep.run(now);
  }

  async get<T>(key: string): Promise<T | undefined> {
    const row = this.#get.get(key, this.#now()) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    const now = this.#now();
    this.#put.run(key, JSON.stringify(value), now + ttlMs);
    this.#wrote(now);
  }

  async setIfAbsent(key: string, value: unknown, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const { changes } = this.#insert.run({ key, value: JSON.stringify(value), expires: now + ttlMs, now });
    this.#wrote(now);
    return changes > 0;
  }

  async take<T>(key: string): Promise<T | undefined> {
    const row = this.#take.get(key) as { value: string; expires: number } | undefined;
    return row && row.expires > this.#now() ? (JSON.parse(row.value) as T) : undefined;
  }

  async delete(key: string): Promise<void> {
    this.#delete(key);
  }

  async increment(key: string, delta: number, ttlMs: number): Promise<number> {
    const now = this.#now();
    const row = this.#increment.get({ key, delta, expires: now + ttlMs, now }) as { value: string | number };
    this.#wrote(now);
    return Number(row.value);
  }

  async push<T>(key: string, value: T, maxLength: number): Promise<T[]> {
    const gone = this.#push(key, JSON.stringify(value), Math.max(0, maxLength));
    return gone.sort((a, b) => a.seq - b.seq).map((r) => JSON.parse(r.value) as T);
  }

  async range<T>(key: string, offset: number, count: number): Promise<T[]> {
    return (this.#range.all(key, count, offset) as { value: string }[]).map((r) => JSON.parse(r.value) as T);
  }

  async length(key: string): Promise<number> {
    return (this.#length.get(key) as { n: number }).n;
  }

  async clear(prefix: string): Promise<void> {
    // GLOB, not LIKE: '_' and '%' in a prefix are literal; '*', '?' and '[' are escaped as classes.
    const pattern = `${prefix.replace(/[*?[]/g, (c) => `[${c}]`)}*`;
    this.#db.prepare('DELETE FROM state_values WHERE key GLOB ?').run(pattern);
    this.#db.prepare('DELETE FROM state_lists WHERE key GLOB ?').run(pattern);
  }

  async close(): Promise<void> {
    // The database belongs to the services, which close it.
  }
}
