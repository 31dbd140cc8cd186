/**
 * The IdP's side of NameIDs (src/saml/nameid.ts chooses them): the stored secret
 * persistent pseudonyms are derived with, fresh transient values, and the durable
 * note of which persistent NameIDs were established (AllowCreate="false").
 *
 * The secret is 32 random bytes kept in the data directory (the kv table), so
 * pseudonyms stay the same across restarts; with deterministicSeed it is derived
 * from the seed; with store: redis the first replica's is every replica's (SET NX,
 * src/replicas/shared-secrets.ts). Changing it changes every persistent NameID:
 * SPs then see new users. It is never logged or shown.
 */
import crypto from 'node:crypto';
import { pairwisePseudonym, type NameIdSource } from '../saml/nameid.js';
import type { StateStore } from '../state/types.js';
import { kvGet, kvSet, type Db } from '../store/db.js';
import type { RedisConnection } from '../store/redis.js';

const SECRET_KEY = 'nameid-persistent-secret';
const ESTABLISHED = 'nameid:persistent:';
/** An established persistent NameID is remembered for good (a century is the store's "forever"). */
const ESTABLISHED_TTL_MS = 100 * 365 * 24 * 3600 * 1000;

/** The persistent-NameID secret: derived from the seed, else the stored one (made at the first start), shared by replicas. */
export async function persistentSecret(db: Db, seed: string | undefined, redis: RedisConnection | undefined): Promise<Buffer> {
  if (seed !== undefined) return crypto.createHmac('sha256', seed).update(SECRET_KEY).digest();
  let mine = kvGet(db, SECRET_KEY);
  if (mine === undefined) {
    mine = crypto.randomBytes(32).toString('hex');
    kvSet(db, SECRET_KEY, mine);
  }
  if (redis) {
    const shared = await (await import('../replicas/shared-secrets.js')).sharedSecret(redis, 'nameid-persistent', mine);
    if (shared !== mine) kvSet(db, SECRET_KEY, shared);
    mine = shared;
  }
  return Buffer.from(mine, 'hex');
}

export interface NameIdsDeps {
  secret: Buffer;
  idpEntityId: () => string;
  /** A fresh transient value (at least 128 random bits, or from deterministicSeed). */
  newTransient: () => string;
  /** Where established persistent NameIDs are noted: the durable state (SQLite, or Redis for replicas). */
  durable: StateStore;
}

export function nameIdSource(deps: NameIdsDeps): NameIdSource {
  const { secret, durable } = deps;
  const key = (spId: string, email: string) => `${ESTABLISHED}${spId}\n${email.toLowerCase()}`;
  return {
    idpEntityId: deps.idpEntityId,
    persistent: (spEntityId, email) => pairwisePseudonym(secret, spEntityId, email),
    transient: deps.newTransient,
    established: async (spId, email) => (await durable.get(key(spId, email))) !== undefined,
    establish: async (spId, email) => {
      await durable.setIfAbsent(key(spId, email), 1, ESTABLISHED_TTL_MS);
    },
  };
}
