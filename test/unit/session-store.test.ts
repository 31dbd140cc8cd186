import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type session from 'express-session';
import { openDb } from '../../src/store/db.js';
import { SqliteSessionStore } from '../../src/store/session-store.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');

function sessionExpiring(at: number): session.SessionData {
  return { cookie: { expires: new Date(at), originalMaxAge: 8 * HOUR } } as unknown as session.SessionData;
}

describe('the SQLite session store', () => {
  const db = openDb(':memory:');
  const now = { t: T0 };
  const store = new SqliteSessionStore(db, { defaultTtlMs: 8 * HOUR, now: () => now.t });
  const expiresOf = (sid: string): number => (db.prepare('SELECT expires FROM sessions WHERE sid = ?').get(sid) as { expires: number }).expires;
  after(() => {
    store.close();
    db.close();
  });

  it('keeps a session until its expiry and no longer', () => {
    const read = (): session.SessionData | null | undefined => {
      let found: session.SessionData | null | undefined;
      store.get('a', (err, sess) => {
        assert.equal(err, null);
        found = sess;
      });
      return found;
    };
    store.set('a', sessionExpiring(T0 + HOUR));
    assert.ok(read());
    now.t = T0 + HOUR;
    assert.equal(read(), null);
    now.t = T0;
  });

  it('writes a touched expiry that moved by more than a minute', () => {
    store.set('b', sessionExpiring(T0 + 8 * HOUR));
    store.touch('b', sessionExpiring(T0 + 8 * HOUR + 61_000));
    assert.equal(expiresOf('b'), T0 + 8 * HOUR + 61_000);
  });

  it('leaves the row alone when a touch moves the expiry by a minute or less', () => {
    store.set('c', sessionExpiring(T0 + 8 * HOUR));
    store.touch('c', sessionExpiring(T0 + 8 * HOUR + 60_000));
    assert.equal(expiresOf('c'), T0 + 8 * HOUR);
    store.touch('c', sessionExpiring(T0 + 8 * HOUR - 5_000));
    assert.equal(expiresOf('c'), T0 + 8 * HOUR, 'a touch never shortens the stored expiry');
  });

  it('scales the granularity down for short session lifetimes (1% of the lifetime)', () => {
    const short = new SqliteSessionStore(db, { defaultTtlMs: 60_000, now: () => now.t });
    try {
      short.set('d', sessionExpiring(T0 + 60_000));
      short.touch('d', sessionExpiring(T0 + 60_500));
      assert.equal(expiresOf('d'), T0 + 60_000);
      short.touch('d', sessionExpiring(T0 + 60_700));
      assert.equal(expiresOf('d'), T0 + 60_700);
    } finally {
      short.close();
    }
  });
});
