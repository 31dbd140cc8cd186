/**
 * The state store in this process's memory: the default for a single IdP.
 * Values are copied on the way out (structuredClone), so a reader never shares
 * them; a value handed in is the store's (types.ts), so it is kept as given: the
 * sign-in hot path hands it a flow record per request, and copying that in too
 * cost as much as the rest of the bookkeeping.
 *
 * Expired values are dropped when read, and by a sweep over everything once the
 * writes since the last one reach half the store's size (so each write pays for
 * about two entries of sweeping). Bounded: past `maxEntries` values, the oldest
 * short-lived ones (an hour or less: replay marks, pending requests) go first,
 * then the oldest of any kind.
 */
import type { Now, StateStore } from './types.js';

interface Entry {
  value: unknown;
  expires: number;
  ttl: number;
}

/** Sweep after at least this many writes, however small the store. */
const SWEEP_AFTER = 1024;
/** What counts as short-lived when the store is over its bound. */
const SHORT_LIVED_MS = 3600 * 1000;

const copy = <T>(value: T): T => (value === null || typeof value !== 'object' ? value : structuredClone(value));

export class MemoryStateStore implements StateStore {
  readonly #now: Now;
  readonly #maxEntries: number;
  /** In insertion order (a value set again keeps its place): the oldest first. */
  readonly #values = new Map<string, Entry>();
  readonly #lists = new Map<string, unknown[]>();
  #writes = 0;

  constructor(options: { now: Now; maxEntries?: number }) {
    this.#now = options.now;
    this.#maxEntries = options.maxEntries ?? 100_000;
  }

  #live(key: string): Entry | undefined {
    const entry = this.#values.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires > this.#now()) return entry;
    this.#values.delete(key);
    return undefined;
  }

  #put(key: string, value: unknown, ttlMs: number): void {
    const now = this.#now();
    // Set in place, not deleted and added again: in a large Map, V8 makes delete-then-set of
    // one key cost time in proportion to the Map's size (measured: 90 µs at 150,000 entries).
    this.#values.set(key, { value, expires: now + ttlMs, ttl: ttlMs });
    if (++this.#writes >= Math.max(SWEEP_AFTER, this.#values.size / 2) || this.#values.size > this.#maxEntries) this.#sweep(now);
  }

  #sweep(now: number): void {
    this.#writes = 0;
    for (const [k, v] of this.#values) if (v.expires <= now) this.#values.delete(k);
    if (this.#values.size <= this.#maxEntries) return;
    // Over the bound: make room for a tenth more, short-lived values first.
    const target = Math.floor(this.#maxEntries * 0.9);
    for (const shortOnly of [true, false]) {
      for (const [k, v] of this.#values) {
        if (this.#values.size <= target) return;
        if (!shortOnly || v.ttl <= SHORT_LIVED_MS) this.#values.delete(k);
      }
    }
  }

  async get<T>(key: string): Promise<T | undefined> {
    return copy(this.#live(key)?.value) as T | undefined;
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    this.#put(key, value, ttlMs);
  }

  async setIfAbsent(key: string, value: unknown, ttlMs: number): Promise<boolean> {
    if (this.#live(key) !== undefined) return false;
    this.#put(key, value, ttlMs);
    return true;
  }

  async take<T>(key: string): Promise<T | undefined> {
    const entry = this.#live(key);
    this.#values.delete(key);
    return entry?.value as T | undefined;
  }

  async delete(key: string): Promise<void> {
    this.#values.delete(key);
    this.#lists.delete(key);
  }

  async increment(key: string, delta: number, ttlMs: number): Promise<number> {
    const entry = this.#live(key);
    const next = (typeof entry?.value === 'number' ? entry.value : 0) + delta;
    if (entry) entry.value = next;
    else this.#put(key, next, ttlMs);
    return next;
  }

  async push<T>(key: string, value: T, maxLength: number): Promise<T[]> {
    let list = this.#lists.get(key);
    if (!list) this.#lists.set(key, (list = []));
    list.push(value);
    return list.length > maxLength ? (list.splice(0, list.length - maxLength) as T[]) : [];
  }

  async range<T>(key: string, offset: number, count: number): Promise<T[]> {
    const list = this.#lists.get(key) ?? [];
    const out: T[] = [];
    for (let i = list.length - 1 - offset; i >= 0 && out.length < count; i--) out.push(copy(list[i]) as T);
    return out;
  }

  async length(key: string): Promise<number> {
    return this.#lists.get(key)?.length ?? 0;
  }

  async clear(prefix: string): Promise<void> {
    for (const key of [...this.#values.keys()]) if (key.startsWith(prefix)) this.#values.delete(key);
    for (const key of [...this.#lists.keys()]) if (key.startsWith(prefix)) this.#lists.delete(key);
  }

  async close(): Promise<void> {
    this.#values.clear();
    this.#lists.clear();
  }
}
