/**
 * The one Redis connection of an IdP with `store: redis`: sessions
 * (connect-redis), the state store (src/state/redis.ts) and what replicas tell
 * each other use it, so several IdP replicas behind a load balancer share all of
 * it. While Redis is unreachable, commands fail at once (no offline queue) or
 * within COMMAND_TIMEOUT_MS, the client keeps reconnecting, and the IdP answers
 * 503 where it needs Redis; it recovers by itself when Redis returns.
 */
import { RedisStore } from 'connect-redis';
import { createClient, type RedisClientType } from 'redis';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';

/** No command waits longer than this for Redis: a clear 503 instead of a hanging request. */
export const COMMAND_TIMEOUT_MS = 2_000;

/** Every key the IdP writes starts with this, so that it can share a Redis database with others. */
export const KEY_PREFIX = 'mock-idp:';

export type RedisClient = RedisClientType;

export interface RedisConnection {
  client: RedisClient;
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

async function closeClient(client: RedisClient): Promise<void> {
  try {
    await client.close();
  } catch {
    client.destroy();
  }
}

export async function connectRedis(url: string, options: { logger: Logger; connectTimeoutMs?: number }): Promise<RedisConnection> {
  const where = safeRedisUrl(url);
  const timeout = options.connectTimeoutMs ?? 3_000;
  const client = newClient(url, timeout);
  let lastError = 0;
  client.on('error', (err: Error) => {
    // One line per 10 s at most while Redis is away.
    if (Date.now() - lastError > 10_000) options.logger.warn({ redis: where, err: err.message }, 'redis unavailable; reconnecting');
    lastError = Date.now();
  });
  client.on('ready', () => {
    if (lastError) options.logger.info({ redis: where }, 'redis is back');
    lastError = 0;
  });
  try {
    await connectWithin(client, timeout);
  } catch (err) {
    client.destroy();
    throw new ConfigError(`Cannot reach Redis at ${where} for store: redis (${(err as Error).message}). Start Redis or fix redisUrl / REDIS_URL.`);
  }
  const subscribers: RedisClient[] = [];
  return {
    client,
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
      try {
        await client.ping();
        return 'ok';
      } catch {
        return `redis at ${where} does not answer`;
      }
    },
    close: async () => {
      await Promise.all([...subscribers.map(closeClient), closeClient(client)]);
    },
  };
}

/** The session store on the connection (connect-redis), sessions under mock-idp:sess:. */
export function redisSessionStore(connection: RedisConnection, ttlSeconds: number): RedisStore {
  return new RedisStore({ client: connection.client, prefix: `${KEY_PREFIX}sess:`, ttl: ttlSeconds });
}
