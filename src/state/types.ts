/**
 * The one home of the IdP's short-lived state: pending SAML requests, review
 * holds, replay marks of request IDs and of sent tokens, login throttle
 * counters, the flow history. Every call may be a network round trip (a later
 * Redis implementation shares all of it between replicas), so the interface is
 * async and has no way to iterate over everything.
 *
 * Values are plain JSON data (objects, arrays, strings, numbers, booleans,
 * null): what goes in comes out equal, and what comes out is the reader's own
 * copy. A value handed to the store is the store's from then on: the caller does
 * not change it afterwards (a store across a network would not see the change). Keys are namespaced by their users (`replay:…`, `review:…`);
 * `clear(prefix)` drops one namespace (the control API's reset).
 */
export interface StateStore {
  /** The value under `key`, or undefined when there is none or it has expired. */
  get<T>(key: string): Promise<T | undefined>;
  /** Sets `key` to `value` for `ttlMs` milliseconds. */
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  /** Sets `key` only when it has no live value; true when this call set it (a replay mark, a claim). */
  setIfAbsent(key: string, value: unknown, ttlMs: number): Promise<boolean>;
  /** The value under `key`, removed in the same step: of two callers, one gets it and the other undefined. */
  take<T>(key: string): Promise<T | undefined>;
  delete(key: string): Promise<void>;
  /**
   * Adds `delta` to the counter under `key` and returns the new count. A counter
   * that does not exist (or has expired) starts at 0 and lives `ttlMs` from now;
   * incrementing does not extend its life (a fixed window).
   */
  increment(key: string, delta: number, ttlMs: number): Promise<number>;
  /** Adds `value` at the newest end of the list under `key`, keeping at most `maxLength` items; returns the items that went (oldest first). */
  push<T>(key: string, value: T, maxLength: number): Promise<T[]>;
  /** Up to `count` items of the list, newest first, skipping the `offset` newest. */
  range<T>(key: string, offset: number, count: number): Promise<T[]>;
  /** How many items the list holds. */
  length(key: string): Promise<number>;
  /** Drops every key (values, counters and lists) that starts with `prefix`. */
  clear(prefix: string): Promise<void>;
  close(): Promise<void>;
}

/** Milliseconds since the epoch: the IdP clock, so that expiry follows a fixed or shifted clock. */
export type Now = () => number;
