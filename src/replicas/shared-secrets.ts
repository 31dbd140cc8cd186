/**
 * Secrets the IdP generates when the config gives none (the session cookie's
 * signing secret, HS256 secrets of SPs without `jwt.secret`), made the same on
 * every replica (`store: redis`): the first replica's generated value is kept in
 * Redis (SET NX) and every other replica takes it instead of its own. Redis
 * therefore holds these secrets: protect it as the data directory is protected.
 */
import type { GeneratedSecret } from '../jwt/secrets.js';
import type { ResolvedServiceProvider } from '../config/load.js';
import { kvSet, type Db } from '../store/db.js';
import { KEY_PREFIX, type RedisConnection } from '../store/redis.js';

/** The shared value of the secret `name`: `mine` when this replica is the first to offer one. */
export async function sharedSecret(redis: RedisConnection, name: string, mine: string): Promise<string> {
  const key = `${KEY_PREFIX}secret:${name}`;
  if ((await redis.client.set(key, mine, { condition: 'NX' })) === 'OK') return mine;
  return (await redis.client.get(key)) ?? mine;
}

/**
 * The generated HS256 secrets made shared: each SP's secret becomes the one
 * Redis holds (kept in this replica's store too); returns the secrets this
 * replica generated and that are now everyone's (to show once).
 */
export async function shareHsSecrets(
  redis: RedisConnection,
  db: Db,
  serviceProviders: readonly ResolvedServiceProvider[],
  resolved: { secrets: Map<string, string>; generated: GeneratedSecret[] },
): Promise<GeneratedSecret[]> {
  for (const sp of serviceProviders) {
    if (sp.jwt?.algorithm !== 'HS256' || sp.jwt.secret) continue;
    const mine = resolved.secrets.get(sp.id)!;
    const shared = await sharedSecret(redis, `jwt:${sp.id}`, mine);
    if (shared === mine) continue;
    kvSet(db, `jwt-secret:${sp.id}`, shared);
    resolved.secrets.set(sp.id, shared);
  }
  return resolved.generated.filter((g) => resolved.secrets.get(g.spId) === g.secret);
}
