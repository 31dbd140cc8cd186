/**
 * One key set for every replica (`store: redis`): the IdP's signing keys (JWT
 * RS256/ES256, the SAML key and certificate) and the retired ones still
 * published live in Redis as one value, so that every replica signs with and
 * publishes the same keys, also right after a rotation.
 *
 * - At start, a replica offers the keys it loaded (its keys folder); the first
 *   replica's set is kept (SET NX) and every later one adopts what Redis holds.
 * - A rotation (POST /api/keys/rotate on any replica) takes a lock, rotates
 *   that replica's keys, writes the new set with a new id and publishes the id;
 *   the others adopt it when the message comes, or at their next check of the id
 *   (every CHECK_EVERY_MS), which also covers a message lost while reconnecting.
 *
 * Redis therefore holds the current private signing keys: protect it as the keys
 * folder is protected. Under mock-idp:keys:.
 */
import crypto from 'node:crypto';
import { IdpError } from '../errors.js';
import type { Keystore } from '../keys/keystore.js';
import type { KeySetJson } from '../keys/key-set.js';
import type { Rotation } from '../keys/rotation.js';
import type { Logger } from '../logger.js';
import { KEY_PREFIX, type RedisClient, type RedisConnection } from '../store/redis.js';

const SET_KEY = `${KEY_PREFIX}keys:set`;
const ID_KEY = `${KEY_PREFIX}keys:id`;
const LOCK_KEY = `${KEY_PREFIX}keys:lock`;
const CHANNEL = `${KEY_PREFIX}keys`;
/** How often a replica compares the shared set's id with the one it adopted. */
export const CHECK_EVERY_MS = 500;
/** A rotation holds the lock at most this long (generating keys takes well under a second). */
const LOCK_MS = 30_000;

interface Stored {
  id: string;
  set: KeySetJson;
}

/** Sets `key` to `value` and `idKey` to `id` only when `key` is absent: the first replica's set wins. */
const OFFER = `if redis.call('SET', KEYS[1], ARGV[1], 'NX') then redis.call('SET', KEYS[2], ARGV[2]) return 1 end
return 0`;

export class SharedKeys {
  readonly #redis: RedisConnection;
  readonly #keystore: Keystore;
  readonly #logger: Logger;
  #adoptedId: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #subscriber: RedisClient | undefined;
  #checking: Promise<void> | undefined;

  private constructor(redis: RedisConnection, keystore: Keystore, logger: Logger) {
    this.#redis = redis;
    this.#keystore = keystore;
    this.#logger = logger;
  }

  /** Offers this replica's keys or adopts the shared ones, then follows rotations made elsewhere. */
  static async start(redis: RedisConnection, keystore: Keystore, logger: Logger): Promise<SharedKeys> {
    const shared = new SharedKeys(redis, keystore, logger);
    const mine: Stored = { id: crypto.randomUUID(), set: keystore.exportKeySet() };
    const offered = await redis.client.eval(OFFER, { keys: [SET_KEY, ID_KEY], arguments: [JSON.stringify(mine), mine.id] });
    if (Number(offered) === 1) shared.#adoptedId = mine.id;
    else await shared.#adoptShared();
    shared.#subscriber = await redis.subscriber();
    await shared.#subscriber.subscribe(CHANNEL, () => void shared.check());
    shared.#timer = setInterval(() => void shared.check(), CHECK_EVERY_MS);
    shared.#timer.unref();
    return shared;
  }

  /** Adopts the shared set when its id is not the one this replica has; errors are logged (Redis away), never thrown. */
  check(): Promise<void> {
    this.#checking ??= (async () => {
      try {
        const id = await this.#redis.client.get(ID_KEY);
        if (id !== null && id !== this.#adoptedId) await this.#adoptShared();
      } catch (err) {
        this.#logger.debug({ err: (err as Error).message }, 'checking the shared key set failed; trying again');
      } finally {
        this.#checking = undefined;
      }
    })();
    return this.#checking;
  }

  async #adoptShared(): Promise<void> {
    const text = await this.#redis.client.get(SET_KEY);
    if (text === null) return;
    const stored = JSON.parse(text) as Stored;
    if (stored.id === this.#adoptedId) return;
    this.#keystore.adoptKeySet(stored.set, 'the key set shared in Redis');
    this.#adoptedId = stored.id;
    this.#logger.info({ keys: this.#keystore.jwks().keys.map((k) => k.kid) }, 'signing keys adopted from the shared key set');
  }

  /**
   * Rotates this replica's keys and makes the new set every replica's. One
   * rotation at a time across replicas: a second one meanwhile is refused (409).
   */
  async rotate(rotateHere: () => Promise<Rotation[]>): Promise<Rotation[]> {
    const token = crypto.randomUUID();
    let locked: string | null;
    try {
      locked = await this.#redis.client.set(LOCK_KEY, token, { condition: 'NX', expiration: { type: 'PX', value: LOCK_MS } });
    } catch (err) {
      throw unavailable(err);
    }
    if (locked !== 'OK') throw new IdpError('conflict', 'Another replica is rotating the signing keys right now; try again in a moment.');
    try {
      // Rotate from the shared set, not from what this replica's folder had.
      await this.#adoptShared();
      const before = this.#keystore.exportKeySet();
      const rotations = await rotateHere();
      const next: Stored = { id: crypto.randomUUID(), set: this.#keystore.exportKeySet() };
      try {
        await this.#redis.client.multi().set(SET_KEY, JSON.stringify(next)).set(ID_KEY, next.id).publish(CHANNEL, next.id).exec();
      } catch (err) {
        // Not shared: this replica goes back to signing with the keys every other one still uses.
        this.#keystore.adoptKeySet(before, 'the key set before the failed rotation');
        throw err;
      }
      this.#adoptedId = next.id;
      return rotations;
    } catch (err) {
      if (err instanceof IdpError) throw err;
      throw unavailable(err);
    } finally {
      await this.#redis.client.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", { keys: [LOCK_KEY], arguments: [token] }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#checking;
    // The subscriber connection belongs to the Redis connection, which closes it.
  }
}

function unavailable(cause: unknown): IdpError {
  return new IdpError('service_unavailable', 'The shared store (Redis) is unavailable, so the signing keys cannot be rotated on every replica right now. Try again in a moment.', {
    cause,
    headers: { 'Retry-After': '5' },
  });
}
