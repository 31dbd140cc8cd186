import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openDb } from '../../src/store/db.js';
import { UserStore } from '../../src/users/store.js';
import type { UserConfig } from '../../src/config/schema.js';
import { tempDir } from '../helpers/idp.js';

const alice: UserConfig = { email: 'Alice@Example.com', password: 'alice-password', name: 'Alice', attributes: { siteId: '1' }, disabled: false };
const bob: UserConfig = { email: 'bob@example.com', password: 'bob-password', attributes: {}, disabled: false };

describe('the user store', () => {
  it('stores config users hashed and authenticates them case-insensitively', async () => {
    const db = openDb(tempDir());
    const users = new UserStore(db, 10);
    await users.upsertFromConfig([alice]);
    const row = db.prepare('SELECT password_hash FROM users').get() as { password_hash: string };
    assert.match(row.password_hash, /^scrypt\$10\$8\$1\$/);
    assert.ok(!row.password_hash.includes('alice-password'));
    const ok = await users.authenticate('alice@EXAMPLE.com', 'alice-password');
    assert.ok(ok.ok && ok.user.email === 'Alice@Example.com');
    assert.deepEqual(await users.authenticate('alice@example.com', 'nope'), { ok: false, reason: 'invalid' });
    assert.deepEqual(await users.authenticate('bob@example.com', 'nope'), { ok: false, reason: 'invalid' });
    db.close();
  });

  it('keeps run-time edits across a restart unless the config entry itself changed', async () => {
    const dir = tempDir();
    let db = openDb(dir);
    await new UserStore(db, 10).upsertFromConfig([alice]);
    await new UserStore(db, 10).update('alice@example.com', { disabled: true, password: 'changed-at-run-time' });
    await new UserStore(db, 10).create({ email: 'new@example.com', password: 'pw' });
    db.close();

    db = openDb(dir);
    let users = new UserStore(db, 10);
    await users.upsertFromConfig([alice]);
    assert.equal(users.find('alice@example.com')!.disabled, true, 'the edit survived');
    assert.equal((await users.authenticate('alice@example.com', 'changed-at-run-time')).ok, false, 'disabled');
    assert.ok(users.find('new@example.com'), 'a user added at run time survived');

    users = new UserStore(db, 10);
    await users.upsertFromConfig([{ ...alice, name: 'Alice Renamed' }]);
    const a = users.find('alice@example.com')!;
    assert.equal(a.name, 'Alice Renamed');
    assert.equal(a.disabled, false, 'the changed config entry wins');

    await users.upsertFromConfig([{ ...alice, name: 'Alice Renamed', password: 'new-config-password' }]);
    assert.equal((await users.authenticate('alice@example.com', 'new-config-password')).ok, true);

    await users.resetToConfig([alice]);
    assert.deepEqual(users.list().map((u) => u.email), ['Alice@Example.com']);
    assert.equal((await users.authenticate('alice@example.com', 'alice-password')).ok, true);
    db.close();
  });

  it('writes config users at once and their password hashes when started or first needed', async () => {
    const dir = tempDir();
    let db = openDb(dir);
    let users = new UserStore(db, 10);
    const written = users.upsertFromConfig([alice, bob], { deferHashing: true });
    assert.deepEqual(users.list().map((u) => u.email), ['Alice@Example.com', 'bob@example.com'], 'listed before any hash');
    assert.equal(users.pendingConfigPasswords, 2);
    // A sign-in does not wait for a start that may never come: it starts the hashing.
    assert.equal((await users.authenticate('alice@example.com', 'alice-password')).ok, true);
    await users.hashConfigPasswords();
    await written;
    assert.equal(users.pendingConfigPasswords, 0);
    const hashes = db.prepare('SELECT password_hash, config_password_hash FROM users ORDER BY email_key').all() as { password_hash: string; config_password_hash: string }[];
    for (const h of hashes) {
      assert.match(h.password_hash, /^scrypt\$10\$/);
      assert.equal(h.config_password_hash, h.password_hash);
    }
    db.close();

    // Restarted with a new config password: the old one is refused even before the hashing was started.
    db = openDb(dir);
    users = new UserStore(db, 10);
    void users.upsertFromConfig([{ ...alice, password: 'new-config-password' }, bob], { deferHashing: true });
    assert.equal((await users.authenticate('alice@example.com', 'alice-password')).ok, false);
    assert.equal((await users.authenticate('alice@example.com', 'new-config-password')).ok, true);

    // A password set at run time while the config's is pending is not overwritten by it.
    void users.upsertFromConfig([{ ...bob, password: 'bob-config-2' }], { deferHashing: true });
    await users.update('bob@example.com', { password: 'set-at-run-time' });
    await users.hashConfigPasswords();
    assert.equal((await users.authenticate('bob@example.com', 'set-at-run-time')).ok, true);
    assert.equal((await users.authenticate('bob@example.com', 'bob-config-2')).ok, false);
    db.close();
  });

  it('refuses a duplicate user and edits of unknown users', async () => {
    const db = openDb(tempDir());
    const users = new UserStore(db, 10);
    await users.create({ email: 'x@example.com', password: 'pw' });
    await assert.rejects(users.create({ email: 'X@example.com', password: 'pw' }), /already exists/);
    await assert.rejects(users.update('y@example.com', { disabled: true }), /There is no user y@example.com/);
    assert.throws(() => users.delete('y@example.com'), /There is no user/);
    db.close();
  });

  it('gives a clear error for a data directory it cannot create', () => {
    const file = path.join(tempDir(), 'a-file');
    fs.writeFileSync(file, 'not a folder');
    assert.throws(() => openDb(path.join(file, 'data')), /Data directory .*a-file\/data is not writable \(ENOTDIR\)/);
  });

  it('gives a clear error for a corrupt database file', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'mock-idp.sqlite'), 'this is not a database '.repeat(200));
    assert.throws(() => openDb(dir), /Cannot open the store .*mock-idp\.sqlite: file is not a database\. Move the file away/);
  });
});
