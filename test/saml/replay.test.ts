import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock } from '../../src/clock.js';
import { ReplayCache } from '../../src/saml/replay.js';

function movableClock(start: number): Clock & { advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('the replay cache', () => {
  it('accepts an ID once and refuses it again while it is remembered', () => {
    const cache = new ReplayCache(movableClock(0));
    cache.use('_a', 60_000, 'AuthnRequest');
    assert.throws(() => cache.use('_a', 60_000, 'AuthnRequest'), {
      code: 'replayed_request',
      message: 'This AuthnRequest (ID "_a") was already used; a SAML message is accepted once.',
    });
    assert.doesNotThrow(() => cache.use('_b', 60_000, 'AuthnRequest'));
  });

  it('keeps the IDs of different senders apart', () => {
    const cache = new ReplayCache(movableClock(0));
    cache.use('_a', 60_000, 'AuthnRequest', 'sp-one');
    assert.doesNotThrow(() => cache.use('_a', 60_000, 'AuthnRequest', 'sp-two'));
    assert.throws(() => cache.use('_a', 60_000, 'AuthnRequest', 'sp-one'), { code: 'replayed_request' });
  });

  it('forgets an ID once its time is over', () => {
    const clock = movableClock(0);
    const cache = new ReplayCache(clock);
    cache.use('_a', 1000, 'AuthnRequest');
    clock.advance(999);
    assert.equal(cache.has('_a'), true);
    clock.advance(1);
    assert.equal(cache.has('_a'), false);
    assert.doesNotThrow(() => cache.use('_a', 1000, 'AuthnRequest'));
  });

  it('sweeps expired entries and stays within its bound', () => {
    const clock = movableClock(0);
    const cache = new ReplayCache(clock, { maxEntries: 3 });
    for (const id of ['_1', '_2', '_3', '_4']) cache.use(id, 10_000, 'AuthnRequest');
    assert.equal(cache.size, 3);
    assert.equal(cache.has('_1'), false);
    assert.equal(cache.has('_4'), true);
    clock.advance(10_000);
    cache.use('_5', 10_000, 'AuthnRequest');
    assert.equal(cache.size, 1);
  });
});
