/**
 * Run-time changes shared through Redis (src/replicas/), two Services in this
 * process on one real redis-server, each with its own in-memory SQLite: what
 * one changes the other has within a second, a lost message is caught by the
 * version check, two SP edits at once both stay, and with Redis away a change
 * is refused without touching the local copy.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { resolveConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { IdpError } from '../../src/errors.js';
import { kvGet } from '../../src/store/db.js';
import { createServices, type Services } from '../../src/services.js';
import { createClient } from 'redis';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

const alice = { email: 'alice@example.com', password: 'alice-password', name: 'Alice' };

/** Polls until `check` stops throwing; fails with its last error after `withinMs`. */
async function within<T>(withinMs: number, check: () => T): Promise<T> {
  const until = Date.now() + withinMs;
  for (;;) {
    try {
      return check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

describe('run-time changes shared through Redis', () => {
  let redis: TestRedis;
  let replicas: Services[] = [];

  async function replica(extra: Partial<ConfigInput> = {}): Promise<Services> {
    const input: ConfigInput = { store: 'redis', redisUrl: redis.url, dataDir: ':memory:', passwordHashCost: 10, users: [alice], serviceProviders: [], ...extra };
    const services = await createServices(resolveConfig(input, { source: 'replicas test', baseDir: process.cwd() }));
    await services.users.hashConfigPasswords();
    replicas.push(services);
    return services;
  }

  before(async () => {
    redis = await startTestRedis();
  });
  beforeEach(async () => {
    const client = createClient({ url: redis.url });
    await client.connect();
    await client.flushAll();
    await client.close();
  });
  afterEach(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    replicas = [];
  });
  after(async () => {
    await redis.stop();
  });

  it('shows a user created, changed and deleted on one replica on the other within a second, with the one hash made by the writer', async () => {
    const [a, b] = [await replica(), await replica()];
    await a.changes.createUser({ email: 'Bob@Example.com', password: 'bob-password', name: 'Bob' });
    await within(1_000, () => assert.equal(b.users.find('bob@example.com')?.name, 'Bob'));
    const hashOf = (s: Services) => (s.db.prepare('SELECT password_hash FROM users WHERE email_key = ?').get('bob@example.com') as { password_hash: string }).password_hash;
    assert.equal(hashOf(b), hashOf(a), 'hashed once, on the writer; the hash shipped');
    assert.equal((await b.users.authenticate('bob@example.com', 'bob-password')).ok, true);

    await b.changes.updateUser('bob@example.com', { disabled: true });
    await within(1_000, () => assert.equal(a.users.find('bob@example.com')?.disabled, true));
    await a.changes.deleteUser('bob@example.com');
    await within(1_000, () => assert.equal(b.users.find('bob@example.com'), undefined));
    await assert.rejects(b.changes.updateUser('bob@example.com', { name: 'Back?' }), /There is no user bob@example.com/);
  });

  it('refuses a second user of the same email made on another replica before it saw the first', async () => {
    const [a, b] = [await replica(), await replica()];
    await a.changes.createUser({ email: 'carol@example.com', password: 'pw-1' });
    await assert.rejects(b.changes.createUser({ email: 'carol@example.com', password: 'pw-2' }), /already exists/);
    assert.equal((await b.users.authenticate('carol@example.com', 'pw-1')).ok, true, 'the first one stays');
  });

  it('edits a config user for every replica, keeping each one\'s hash of the config password, and a reset puts it back everywhere', async () => {
    const [a, b] = [await replica(), await replica()];
    await a.changes.updateUser('alice@example.com', { name: 'Alice Changed', disabled: true });
    await within(1_000, () => assert.equal(b.users.find('alice@example.com')?.disabled, true));
    assert.equal(b.users.find('alice@example.com')?.name, 'Alice Changed');
    assert.deepEqual(await b.users.authenticate('alice@example.com', 'alice-password'), { ok: false, reason: 'disabled' });

    await b.changes.reset();
    await within(1_000, () => assert.equal(a.users.find('alice@example.com')?.disabled, false));
    assert.equal(a.users.find('alice@example.com')?.name, 'Alice');
    assert.equal((await a.users.authenticate('alice@example.com', 'alice-password')).ok, true);
  });

  it('catches a change whose message was lost, by the version counter', async () => {
    const b = await replica();
    // What a replica writes, but without the message: as if b's subscriber had been reconnecting.
    const client = createClient({ url: redis.url });
    await client.connect();
    const v = await client.incr('mock-idp:runtime:version');
    const user = { email: 'lost@example.com', name: 'Lost', passwordHash: null, attributes: {}, disabled: false };
    await client.hSet('mock-idp:runtime:users', 'lost@example.com', JSON.stringify({ v, kind: 'user', key: 'lost@example.com', user, configDigest: null }));
    await client.close();
    await within(1_000, () => assert.equal(b.users.find('lost@example.com')?.name, 'Lost'));
  });

  it('keeps both of two SPs added at the same moment on two replicas, and ships a generated HS256 secret', async () => {
    const [a, b] = [await replica(), await replica()];
    const add = (s: Services, id: string) => s.changes.editServiceProviders((list) => [...list, { id, jwt: { redirectUrls: [`https://${id}.example.test/c`] } }]);
    const [fromA] = await Promise.all([add(a, 'sp-a'), add(b, 'sp-b')]);
    for (const s of [a, b]) await within(1_000, () => assert.deepEqual(s.config.serviceProviders.map((sp) => sp.id).sort(), ['sp-a', 'sp-b']));
    assert.equal(fromA.length, 1, 'the secret generated for sp-a, shown to its writer');
    assert.equal(kvGet(b.db, 'jwt-secret:sp-a'), fromA[0]!.secret, 'the other replica verifies with the same secret');
  });

  it('refuses a change with a 503 while Redis is away, leaving the local copy as it was', async () => {
    const a = await replica();
    await redis.stop();
    try {
      const refused = await a.changes.createUser({ email: 'dave@example.com', password: 'pw' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(refused instanceof IdpError);
      assert.equal(refused.code, 'service_unavailable');
      assert.equal(a.users.find('dave@example.com'), undefined);
      await assert.rejects(a.changes.editServiceProviders((list) => [...list, { id: 'x', jwt: { redirectUrls: ['https://x.example.test/c'] } }]), /unavailable/);
      assert.equal(a.sp('x'), undefined);
    } finally {
      await redis.start();
    }
  });
});
