/**
 * The state store contract, held by every implementation: time to live on the
 * IdP clock, take-once, set-if-absent, fixed-window counters, bounded lists,
 * clearing a namespace, and values that come out equal but never shared.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStateStore, SqliteStateStore, type StateStore } from '../../src/state/index.js';
import { openDb } from '../../src/store/db.js';

const implementations: [string, (now: () => number) => StateStore][] = [
  ['memory', (now) => new MemoryStateStore({ now })],
  ['SQLite', (now) => new SqliteStateStore(openDb(':memory:'), { now })],
];

for (const [name, make] of implementations) {
  describe(`the ${name} state store`, () => {
    it('keeps a value until its time to live has passed on the clock it was given', async () => {
      let now = 1_000;
      const store = make(() => now);
      await store.set('a', { n: 1 }, 100);
      assert.deepEqual(await store.get('a'), { n: 1 });
      now = 1_099;
      assert.deepEqual(await store.get('a'), { n: 1 });
      now = 1_100;
      assert.equal(await store.get('a'), undefined);
    });

    it('hands a value to the first take only', async () => {
      const store = make(() => 0);
      await store.set('k', 'v', 1000);
      assert.deepEqual(await Promise.all([store.take('k'), store.take('k')]), ['v', undefined]);
      assert.equal(await store.get('k'), undefined);
    });

    it('sets a value only when none is live, so the second of two marks fails', async () => {
      let now = 0;
      const store = make(() => now);
      assert.equal(await store.setIfAbsent('m', 1, 50), true);
      assert.equal(await store.setIfAbsent('m', 2, 50), false);
      assert.equal(await store.get('m'), 1);
      now = 50;
      assert.equal(await store.setIfAbsent('m', 3, 50), true);
      assert.equal(await store.get('m'), 3);
    });

    it('counts within a fixed window: increments do not extend it', async () => {
      let now = 0;
      const store = make(() => now);
      assert.equal(await store.increment('c', 1, 100), 1);
      now = 60;
      assert.equal(await store.increment('c', 1, 100), 2);
      assert.equal(await store.increment('c', -1, 100), 1);
      now = 100;
      assert.equal(await store.increment('c', 1, 100), 1);
    });

    it('keeps a list to its maximum length, newest first, with paging', async () => {
      const store = make(() => 0);
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
      const store = make(() => 0);
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
      const store = make(() => 0);
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
