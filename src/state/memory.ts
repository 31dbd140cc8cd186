/**
 * The state store in this process's memory: the default for a single IdP.
 * Values are copied on the way in and out (structuredClone), so the store behaves
 * like one across a network. Expired values go as new ones come: keys are also
 * kept in one queue per time to live, where insertion order is expiry order, so a
 * write sweeps the expired front of its queue. Bounded: past `maxEntries` values,
 * the oldest are dropped.
 */
import type { Now, StateStore } from './types.js';

interface Entry {
  value: unknown;
  expires: number;
  ttl: number;
}

/** The queue of a time to live: the next power of two, so that a few queues serve any mix of lifetimes. */
const bucketOf = (ttlMs: number): number => (ttlMs <= 1 ? 1 : 2 ** Math.ceil(Math.log2(ttlMs)));

const copy = <T>(value: T): T => (value === null || typeof value !== 'object' ? value : structuredClone(value));

export class MemoryStateStore implements StateStore {
  readonly #now: Now;
  readonly #maxEntries: number;
  /** Insertion order is roughly expiry order: sweeps stop at the first live entry. */
  readonly #values = new Map<string, Entry>();
  readonly #lists = new Map<string, unknown[]>();
  /** Keys by time-to-live bucket, oldest first, with their expiry: a write sweeps the expired front of its bucket. */
  readonly #queues = new Map<number, Map<string, number>>();

  constructor(options: { now: Now; maxEntries?: number }) {
    this.#now = options.now;
    this.#maxEntries = options.maxEntries ?? 100_000;
  }

  #live(key: string): Entry | undefined {
    const entry = this.#values.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires > this.#now()) return entry;
    this.#drop(key);
    return undefined;
  }

  /** Removes a value and its place in its queue. */
  #drop(key: string): Entry | undefined {
    const entry = this.#values.get(key);
    if (entry === undefined) return undefined;
    this.#values.delete(key);
    this.#queues.get(bucketOf(entry.ttl))?.delete(key);
    return entry;
  }

  #put(key: string, value: unknown, ttlMs: number): void {
    const now = this.#now();
    const expires = now + ttlMs;
    this.#drop(key);
    this.#values.set(key, { value, expires, ttl: ttlMs });
    const bucket = bucketOf(ttlMs);
    let queue = this.#queues.get(bucket);
    if (!queue) this.#queues.set(bucket, (queue = new Map()));
    for (const [k, until] of queue) {
      if (until > now) break;
      this.#drop(k);
    }
    queue.set(key, expires);
    if (this.#values.size <= this.#maxEntries) return;
    for (const [k, v] of this.#values) {
      if (v.expires > now && this.#values.size <= this.#maxEntries) break;
      this.#drop(k);
    }
  }

  async get<T>(key: string): Promise<T | undefined> {
    return copy(this.#live(key)?.value) as T | undefined;
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    this.#put(key, copy(value), ttlMs);
  }

  async setIfAbsent(key: string, value: unknown, ttlMs: number): Promise<boolean> {
    if (this.#live(key) !== undefined) return false;
    this.#put(key, copy(value), ttlMs);
    return true;
  }

  async take<T>(key: string): Promise<T | undefined> {
    const entry = this.#live(key);
    this.#drop(key);
    return entry?.value as T | undefined;
  }

  async delete(key: string): Promise<void> {
    this.#drop(key);
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
    list.push(copy(value));
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
    for (const key of [...this.#values.keys()]) if (key.startsWith(prefix)) this.#drop(key);
    for (const key of [...this.#lists.keys()]) if (key.startsWith(prefix)) this.#lists.delete(key);
  }

  async close(): Promise<void> {
    this.#values.clear();
    this.#lists.clear();
    this.#queues.clear();
  }
}
