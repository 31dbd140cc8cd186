/**
 * The state store in Redis (`store: redis`): what several replicas must share,
 * pending SAML requests, review holds, replay marks, throttle counters, the flow
 * history. Every call is one atomic Redis command or one Lua script, so two
 * replicas racing for the same key cannot interleave inside it: take-once is
 * GETDEL, a mark is SET NX, a counter INCRBY with its window set in the same
 * script, a bounded list LPUSH and LTRIM in one script.
 *
 * Values are JSON text under mock-idp:state:<key>. Times to live are Redis's own
 * (PX), counted from the call on Redis's clock: with a fixed IdP clock (`clock:`
 * in the config), values still expire in real time here, as sessions do.
 *
 * A failing command (Redis away, or slower than COMMAND_TIMEOUT_MS: each goes
 * through the connection's `run`) becomes the 503 users see, never a 500 or a hang.
 */
import { IdpError } from '../errors.js';
import { KEY_PREFIX, type RedisConnection } from '../store/redis.js';
import type { StateStore } from './types.js';

const PREFIX = `${KEY_PREFIX}state:`;

/** INCRBY, and the window starts with the counter: an existing counter keeps its expiry (a fixed window). */
const INCREMENT = `local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n`;

/** LPUSH, then what is past the maximum is trimmed and returned (newest of them first). */
const PUSH = `redis.call('LPUSH', KEYS[1], ARGV[1])
local max = tonumber(ARGV[2])
local gone = redis.call('LRANGE', KEYS[1], max, -1)
if max == 0 then redis.call('DEL', KEYS[1]) elseif #gone > 0 then redis.call('LTRIM', KEYS[1], 0, max - 1) end
return gone`;

/** A Redis failure as the clear 503 users see. */
export function stateUnavailable(cause: unknown): IdpError {
  return new IdpError('service_unavailable', 'The shared store (Redis) is unavailable right now. Try again in a moment.', { cause, headers: { 'Retry-After': '5' } });
}

/** A glob pattern matching keys that start with `prefix` literally. */
function globPrefix(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
}

export class RedisStateStore implements StateStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;

  /** `prefix`: where the keys live (tests give each store its own). */
  constructor(redis: RedisConnection, options: { prefix?: string } = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? PREFIX;
  }

  async #run<T>(command: (client: RedisConnection['client']) => Promise<T>): Promise<T> {
    try {
      return await this.#redis.run(command);
    } catch (err) {
      throw stateUnavailable(err);
    }
  }

  async get<T>(key: string): Promise<T | undefined> {
    const text = await this.#run((c) => c.get(this.#prefix + key));
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    await this.#run((c) => c.set(this.#prefix + key, JSON.stringify(value), { expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) } }));
  }

  async setIfAbsent(key: string, value: unknown, ttlMs: number): Promise<boolean> {
    const reply = await this.#run((c) => c.set(this.#prefix + key, JSON.stringify(value), { condition: 'NX', expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) } }));
    return reply === 'OK';
  }

  async take<T>(key: string): Promise<T | undefined> {
    const text = await this.#run((c) => c.getDel(this.#prefix + key));
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  async delete(key: string): Promise<void> {
    await this.#run((c) => c.del(this.#prefix + key));
  }

  async increment(key: string, delta: number, ttlMs: number): Promise<number> {
    if (!Number.isInteger(delta)) throw new TypeError(`a counter moves by whole numbers, not ${delta}`);
    const n = await this.#run((c) => c.eval(INCREMENT, { keys: [this.#prefix + key], arguments: [String(delta), String(Math.max(1, Math.ceil(ttlMs)))] }));
    return Number(n);
  }

  async push<T>(key: string, value: T, maxLength: number): Promise<T[]> {
    const gone = (await this.#run((c) => c.eval(PUSH, { keys: [this.#prefix + key], arguments: [JSON.stringify(value), String(Math.max(0, Math.floor(maxLength)))] }))) as string[];
    return gone.reverse().map((text) => JSON.parse(text) as T);
  }

  async range<T>(key: string, offset: number, count: number): Promise<T[]> {
    if (count <= 0) return [];
    const texts = await this.#run((c) => c.lRange(this.#prefix + key, offset, offset + count - 1));
    return texts.map((text) => JSON.parse(text) as T);
  }

  async length(key: string): Promise<number> {
    return this.#run((c) => c.lLen(this.#prefix + key));
  }

  async clear(prefix: string): Promise<void> {
    // One bounded command at a time (a long clear is not one command that times out).
    const match = globPrefix(this.#prefix + prefix);
    let cursor = '0';
    do {
      const reply = await this.#run((c) => c.scan(cursor, { MATCH: match, COUNT: 500 }));
      cursor = String(reply.cursor);
      if (reply.keys.length > 0) await this.#run((c) => c.unlink(reply.keys));
    } while (cursor !== '0');
  }

  async close(): Promise<void> {
    // The connection belongs to the services, which close it.
  }
}
