/**
 * The embedded store: one SQLite file (better-sqlite3, WAL) in the data
 * directory, holding users, sessions and the IdP's generated secrets.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError } from '../errors.js';

export type Db = Database.Database;

const MIGRATIONS: string[] = [
  `CREATE TABLE users (
     email_key TEXT PRIMARY KEY,
     email TEXT NOT NULL,
     name TEXT,
     password_hash TEXT NOT NULL,
     attributes TEXT NOT NULL DEFAULT '{}',
     disabled INTEGER NOT NULL DEFAULT 0,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE sessions (
     sid TEXT PRIMARY KEY,
     data TEXT NOT NULL,
     expires INTEGER NOT NULL
   );
   CREATE INDEX sessions_expires ON sessions(expires);
   CREATE TABLE kv (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
  // Which config entry a user row last came from, so that edits made at run time
  // (CLI, control API) survive a restart unless the config file itself changed.
  `ALTER TABLE users ADD COLUMN config_digest TEXT;
   ALTER TABLE users ADD COLUMN config_password_hash TEXT;`,
];

export const DB_FILE = 'mock-idp.sqlite';

/** Opens (creating when needed) the store in `dataDir`, or an in-memory one for ':memory:'. */
export function openDb(dataDir: string): Db {
  let file = ':memory:';
  if (dataDir !== ':memory:') {
    try {
      fs.mkdirSync(dataDir, { recursive: true });
      fs.accessSync(dataDir, fs.constants.W_OK);
    } catch (err) {
      throw new ConfigError(`Data directory ${dataDir} is not writable (${(err as NodeJS.ErrnoException).code ?? 'error'}); set dataDir or DATA_DIR to a folder mock-idp can write`);
    }
    file = path.join(dataDir, DB_FILE);
  }
  let db: Db;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    // A damaged page would otherwise surface later as failing requests; say so at start, naming the file.
    const check = db.pragma('quick_check', { simple: true }) as string;
    if (check !== 'ok') throw new Error(`the integrity check failed (${check.replace(/\*\*\* in database main \*\*\*\s*/, '').replace(/\s*\n\s*/g, '; ')})`);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`Cannot open the store ${file}: ${(err as Error).message}. Move the file away to start with a fresh store.`);
  }
  return db;
}

function migrate(db: Db): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new ConfigError(`The store was written by a newer mock-idp (schema ${version}); upgrade mock-idp or use another data directory`);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/** A small key-value table for generated secrets (session secret, HS256 secrets). */
export function kvGet(db: Db, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM kv WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}

export function kvSet(db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}
