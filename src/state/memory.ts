/**
 * The state store in this process's memory: the default for a single IdP.
 * Values are copied on the way in and out (structuredClone), so the store behaves
 * like one across a network. Bounded: past `maxEntries` values, expired ones are
 * swept and then the oldest dropped.
 */
import type { Now, StateStore } from './types.js';

interface Entry {
  value: unknown;
  expires: number;
}

const copy = <T>(value: T): T => (value === null || typeof value !== 'object' ? value : structuredClone(value));

export class MemoryStateStore implements StateStore {
  readonly #now: Now;
  readonly #maxEntries: number;
  /** Insertion order is roughly expiry order: sweeps stop at the first live entry. */
  readonly #values = new Map<string, Entry>();
  readonly #lists = new Map<string, unknown[]>();

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
    this.#values.delete(key);
    this.#values.set(key, { value, expires: now + ttlMs });
    if (this.#values.size <= this.#maxEntries) return;
    for (const [k, v] of this.#values) {
      if (v.expires > now && this.#values.size <= this.#maxEntries) break;
      this.#values.delete(k);
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

  async push(key: string, value: unknown, maxLength: number): Promise<void> {
    let list = this.#lists.get(key);
    if (!list) this.#lists.set(key, (list = []));
    list.push(copy(value));
    if (list.length > maxLength) list.splice(0, list.length - maxLength);
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
