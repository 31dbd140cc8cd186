/**
 * Sessions in Redis (connect-redis), so several IdP replicas behind a load
 * balancer share sign-ins. When Redis is unreachable, requests that need a
 * session get a 503 page and the client keeps reconnecting; it recovers by
 * itself when Redis returns.
 */
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';

export interface RedisSessions {
  store: RedisStore;
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

export async function connectRedisSessions(url: string, options: { ttlSeconds: number; logger: Logger; connectTimeoutMs?: number }): Promise<RedisSessions> {
  const where = safeRedisUrl(url);
  const client = createClient({
    url,
    // Fail commands at once while disconnected (a clear 503) instead of queueing them.
    disableOfflineQueue: true,
    socket: { connectTimeout: options.connectTimeoutMs ?? 3_000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2_000) },
  });
  let lastError = 0;
  client.on('error', (err: Error) => {
    // One line per 10 s at most while Redis is away.
    if (Date.now() - lastError > 10_000) options.logger.warn({ redis: where, err: err.message }, 'redis session store unavailable; reconnecting');
    lastError = Date.now();
  });
  client.on('ready', () => {
    if (lastError) options.logger.info({ redis: where }, 'redis session store is back');
    lastError = 0;
  });
  const timeout = options.connectTimeoutMs ?? 3_000;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout).unref()),
    ]);
  } catch (err) {
    client.destroy();
    throw new ConfigError(`Cannot reach Redis at ${where} for sessionStore: redis (${(err as Error).message}). Start Redis or fix redisUrl / REDIS_URL.`);
  }
  const store = new RedisStore({ client, prefix: 'mock-idp:sess:', ttl: options.ttlSeconds });
  return {
    store,
    health: async () => {
      try {
        await client.ping();
        return 'ok';
      } catch {
        return `redis at ${where} does not answer`;
      }
    },
    close: async () => {
      try {
        await client.close();
      } catch {
        client.destroy();
      }
    },
  };
}
