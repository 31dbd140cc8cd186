import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shownTime } from '../../src/time-format.js';

describe('shownTime', () => {
  it('shows a moment to the second in UTC, whatever it is given as', () => {
    const ms = Date.parse('2026-12-01T18:45:24.678Z');
    for (const t of [ms, '2026-12-01T18:45:24.678Z', new Date(ms)]) assert.equal(shownTime(t), '2026-12-01 18:45:24 UTC');
    assert.equal(shownTime('not a time'), 'not a time');
  });
});
