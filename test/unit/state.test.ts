/**
 * The state store contract, held by every implementation: time to live, take-once,
 * set-if-absent, fixed-window counters, bounded lists, clearing a namespace, and
 * values that come out equal but never shared. The memory and SQLite stores expire
 * on the IdP clock they are given (moved here by hand); the Redis store on Redis's
 * own (a real redis-server; the test waits), so the times are a few hundred ms.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryStateStore, SqliteStateStore, type StateStore } from '../../src/state/index.js';
import { RedisStateStore } from '../../src/state/redis.js';
import { openDb } from '../../src/store/db.js';
import { connectRedis, type RedisConnection } from '../../src/store/redis.js';
import { silentLogger } from '../../src/logger.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

/** A fresh store and a way to let time pass for it. */
interface Subject {
  store: StateStore;
  advance(ms: number): Promise<void>;
}

function onFakeClock(make: (now: () => number) => StateStore): () => Subject {
  return () => {
    let now = 1_000;
    return {
      store: make(() => now),
      advance: async (ms) => {
        now += ms;
      },
    };
  };
}

let redisServer: TestRedis | undefined;
let redis: RedisConnection | undefined;
let redisStores = 0;

const implementations: [string, () => Subject][] = [
  ['memory', onFakeClock((now) => new MemoryStateStore({ now }))],
  ['SQLite', onFakeClock((now) => new SqliteStateStore(openDb(':memory:'), { now }))],
  [
    'Redis',
    () => ({
      // Each store its own key prefix on the one server, so tests cannot see each other's keys.
      store: new RedisStateStore(redis!, { prefix: `test:${process.pid}:${++redisStores}:` }),
      advance: (ms) => new Promise((r) => setTimeout(r, ms)),
    }),
  ],
];

before(async () => {
  redisServer = await startTestRedis();
  redis = await connectRedis(redisServer.url, { logger: silentLogger });
});

after(async () => {
  await redis?.close();
  await redisServer?.stop();
});

for (const [name, subject] of implementations) {
  describe(`the ${name} state store`, () => {
    it('keeps a value until its time to live has passed', async () => {
      const { store, advance } = subject();
      await store.set('a', { n: 1 }, 300);
      assert.deepEqual(await store.get('a'), { n: 1 });
      await advance(100);
      assert.deepEqual(await store.get('a'), { n: 1 });
      await advance(250);
      assert.equal(await store.get('a'), undefined);
    });

    it('hands a value to the first take only', async () => {
      const { store } = subject();
      await store.set('k', 'v', 1000);
      assert.deepEqual(await Promise.all([store.take('k'), store.take('k')]), ['v', undefined]);
      assert.equal(await store.get('k'), undefined);
    });

    it('sets a value only when none is live, so the second of two marks fails', async () => {
      const { store, advance } = subject();
      assert.deepEqual(await Promise.all([store.setIfAbsent('m', 1, 200), store.setIfAbsent('m', 2, 200)]), [true, false]);
      assert.equal(await store.get('m'), 1);
      await advance(250);
      assert.equal(await store.setIfAbsent('m', 3, 200), true);
      assert.equal(await store.get('m'), 3);
    });

    it('counts within a fixed window: increments do not extend it', async () => {
      const { store, advance } = subject();
      assert.equal(await store.increment('c', 1, 300), 1);
      await advance(150);
      assert.equal(await store.increment('c', 1, 300), 2);
      assert.equal(await store.increment('c', -1, 300), 1);
      await advance(200);
      assert.equal(await store.increment('c', 1, 300), 1);
      // Concurrent increments each see their own count.
      const counts = await Promise.all(Array.from({ length: 20 }, () => store.increment('d', 1, 5_000)));
      assert.deepEqual([...counts].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it('keeps a list to its maximum length, newest first, with paging', async () => {
      const { store } = subject();
      const gone: unknown[] = [];
      for (const n of [1, 2, 3, 4, 5]) gone.push(...(await store.push('l', { n }, 3)));
      assert.deepEqual(gone, [{ n: 1 }, { n: 2 }]);
      assert.equal(await store.length('l'), 3);
      assert.deepEqual(await store.range('l', 0, 10), [{ n: 5 }, { n: 4 }, { n: 3 }]);
      assert.deepEqual(await store.range('l', 1, 1), [{ n: 4 }]);
      assert.deepEqual(await store.push('z', 'x', 0), ['x']);
      assert.equal(await store.length('z'), 0);
    });

    it('clears one namespace and leaves the others', async () => {
      const { store } = subject();
      await store.set('replay:a', 1, 1000);
      await store.set('replay_b', 1, 1000);
      await store.push('replay:list', 1, 10);
      await store.set('review:a', 1, 1000);
      await store.clear('replay:');
      assert.deepEqual(
        [await store.get('replay:a'), await store.get('replay_b'), await store.length('replay:list'), await store.get('review:a')],
        [undefined, 1, 0, 1],
      );
    });

    it('gives out copies: changing what came out does not change what is stored', async () => {
      const { store } = subject();
      await store.set('v', { list: [1] }, 1000);
      const out = await store.get<{ list: number[] }>('v');
      out!.list.push(3);
      assert.deepEqual(await store.get('v'), { list: [1] });
      await store.push('l', { n: [1] }, 10);
      (await store.range<{ n: number[] }>('l', 0, 1))[0]!.n.push(2);
      assert.deepEqual(await store.range('l', 0, 1), [{ n: [1] }]);
    });
  });
}
