/**
 * The one Redis connection of an IdP with `store: redis`: sessions
 * (connect-redis), the state store (src/state/redis.ts) and what replicas tell
 * each other use it, so several IdP replicas behind a load balancer share all of
 * it. While Redis is unreachable, commands fail at once (no offline queue) or
 * within COMMAND_TIMEOUT_MS, the client keeps reconnecting, and the IdP answers
 * 503 where it needs Redis; it recovers by itself when Redis returns.
 *
 * The client's own timeout only covers a command waiting to be written: one
 * written to a Redis that keeps the connection open but does not answer (paused,
 * or a host gone without a reset) would wait for ever. So every command goes
 * through `run`, which gives up after COMMAND_TIMEOUT_MS and then drops the
 * connection and reconnects: the next commands fail at once until Redis answers
 * again, instead of each waiting for its own timeout on a dead connection.
 */
import { RedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import { createClient, type RedisClientType } from 'redis';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';

/** No command waits longer than this for Redis: a clear 503 instead of a hanging request. */
export const COMMAND_TIMEOUT_MS = 2_000;

/** Every key the IdP writes starts with this, so that it can share a Redis database with others. */
export const KEY_PREFIX = 'mock-idp:';

export type RedisClient = RedisClientType;

export interface RedisConnection {
  /** The client; commands sent through `run` are bounded in time, direct ones are not. */
  client: RedisClient;
  /** Runs commands on the client; rejects when they take longer than COMMAND_TIMEOUT_MS (and reconnects). */
  run<T>(command: (client: RedisClient) => Promise<T>): Promise<T>;
  /** The URL without its password, for messages. */
  where: string;
  /** True while the client is connected and ready. */
  readonly ready: boolean;
  /** A second connection, for subscriptions (a subscribed connection runs no other command); closed with this one. */
  subscriber(): Promise<RedisClient>;
  /** "ok" or what is wrong, for /readyz. */
  health(): Promise<string>;
  close(): Promise<void>;
}

/** The URL without its password, for messages. */
export function safeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(unparsable URL)';
  }
}

function newClient(url: string, connectTimeoutMs: number): RedisClient {
  return createClient({
    url,
    // Fail commands at once while disconnected (a clear 503) instead of queueing them.
    disableOfflineQueue: true,
    commandOptions: { timeout: COMMAND_TIMEOUT_MS },
    socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2_000) },
  }) as RedisClient;
}

async function connectWithin(client: RedisClient, timeoutMs: number): Promise<void> {
  await Promise.race([
    client.connect(),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()),
  ]);
}

/** Closes gracefully when connected (within COMMAND_TIMEOUT_MS), else at once: a shutdown never waits on a Redis that does not answer. */
async function closeClient(client: RedisClient): Promise<void> {
  if (!client.isReady) {
    if (client.isOpen) client.destroy();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([client.close(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer')), COMMAND_TIMEOUT_MS)))]);
  } catch {
    client.destroy();
  } finally {
    clearTimeout(timer);
  }
}

/** A command given up on: Redis did not answer within COMMAND_TIMEOUT_MS. */
export class RedisTimeoutError extends Error {
  constructor() {
    super(`no answer within ${COMMAND_TIMEOUT_MS} ms`);
    this.name = 'RedisTimeoutError';
  }
}

export async function connectRedis(url: string, options: { logger: Logger; connectTimeoutMs?: number }): Promise<RedisConnection> {
  const where = safeRedisUrl(url);
  const timeout = options.connectTimeoutMs ?? 3_000;
  const client = newClient(url, timeout);
  // What is wrong since Redis went away, for /readyz; one warn line per 10 s at most while it stays away.
  let problem: string | undefined;
  let lastWarned = 0;
  const unavailable = (reason: string): void => {
    problem = reason;
    if (Date.now() - lastWarned > 10_000) {
      options.logger.warn({ redis: where, err: reason }, 'redis unavailable; reconnecting');
      lastWarned = Date.now();
    }
  };
  client.on('error', (err: Error) => unavailable(err.message));
  client.on('ready', () => {
    if (problem !== undefined) options.logger.info({ redis: where }, 'redis is back');
    problem = undefined;
    lastWarned = 0;
  });
  try {
    await connectWithin(client, timeout);
  } catch (err) {
    client.destroy();
    throw new ConfigError(`Cannot reach Redis at ${where} for store: redis (${(err as Error).message}). Start Redis or fix redisUrl / REDIS_URL.`);
  }
  let closing = false;
  /** A connection that takes commands but answers none: dropped, and a new one made (commands fail at once meanwhile). */
  const stalled = (): void => {
    if (closing || !client.isReady) return;
    unavailable(`no answer within ${COMMAND_TIMEOUT_MS} ms`);
    client.destroy();
    client.connect().catch(() => undefined);
  };
  const run = <T>(command: (c: RedisClient) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new RedisTimeoutError());
        stalled();
      }, COMMAND_TIMEOUT_MS);
      timer.unref();
      command(client).then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  const subscribers: RedisClient[] = [];
  return {
    client,
    run,
    where,
    get ready() {
      return client.isReady;
    },
    subscriber: async () => {
      const sub = client.duplicate() as RedisClient;
      // Errors are reported once by the main client; this one only reconnects.
      sub.on('error', () => undefined);
      await connectWithin(sub, timeout);
      subscribers.push(sub);
      return sub;
    },
    health: async () => {
      // Not connected: say why at once, without waiting for a command to fail.
      if (!client.isReady) return `redis at ${where} is unreachable (${problem ?? 'reconnecting'}); reconnecting`;
      try {
        await run((c) => c.ping());
        return 'ok';
      } catch (err) {
        return `redis at ${where} does not answer (${(err as Error).message})`;
      }
    },
    close: async () => {
      closing = true;
      await Promise.all([...subscribers.map(closeClient), closeClient(client)]);
    },
  };
}

type Callback = (err?: unknown, data?: unknown) => unknown;

/** Calls an express-session callback with how a promise settled. */
function settle(promise: Promise<unknown>, cb: Callback | undefined): Promise<unknown> {
  return promise.then(
    (data) => cb?.(null, data),
    (err: unknown) => cb?.(err),
  );
}

/** connect-redis with each session command bounded in time (COMMAND_TIMEOUT_MS), as the state store's are. */
class BoundedRedisStore extends RedisStore {
  readonly #run: RedisConnection['run'];

  constructor(connection: RedisConnection, ttlSeconds: number) {
    super({ client: connection.client, prefix: `${KEY_PREFIX}sess:`, ttl: ttlSeconds });
    this.#run = connection.run;
  }

  // Called without a callback, connect-redis's methods answer with a promise that rejects on failure.
  override get(sid: string, cb?: Callback): Promise<unknown> {
    return settle(this.#run(() => super.get(sid)), cb);
  }

  override set(sid: string, sess: SessionData, cb?: Callback): Promise<unknown> {
    return settle(this.#run(() => super.set(sid, sess)), cb);
  }

  override touch(sid: string, sess: SessionData, cb?: Callback): Promise<unknown> {
    return settle(this.#run(() => super.touch(sid, sess)), cb);
  }

  override destroy(sid: string, cb?: Callback): Promise<unknown> {
    return settle(this.#run(() => super.destroy(sid)), cb);
  }
}

/** The session store on the connection (connect-redis), sessions under mock-idp:sess:. */
export function redisSessionStore(connection: RedisConnection, ttlSeconds: number): RedisStore {
  return new BoundedRedisStore(connection, ttlSeconds);
}
