/**
 * Users live in the SQLite store. Users from the config are upserted at start;
 * emails are compared after NFKC normalization and case folding.
 */
import type { Db } from '../store/db.js';
import type { UserConfig } from '../config/schema.js';
import { dummyHash, hashPassword, verifyPassword } from './password.js';

export interface User {
  email: string;
  name: string | undefined;
  attributes: Record<string, string | string[]>;
  disabled: boolean;
}

/** The key users are found by: NFKC, trimmed, lower case. */
export function emailKey(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}

interface Row {
  email: string;
  name: string | null;
  password_hash: string;
  attributes: string;
  disabled: number;
}

function toUser(row: Row): User {
  return {
    email: row.email,
    name: row.name ?? undefined,
    attributes: JSON.parse(row.attributes) as Record<string, string | string[]>,
    disabled: row.disabled === 1,
  };
}

export type AuthResult = { ok: true; user: User } | { ok: false; reason: 'invalid' | 'disabled' };

export class UserStore {
  readonly #db: Db;
  readonly #logN: number;
  #dummy: Promise<string> | undefined;
  readonly #find;
  readonly #list;
  readonly #upsert;

  constructor(db: Db, passwordHashCost: number) {
    this.#db = db;
    this.#logN = passwordHashCost;
    this.#find = db.prepare('SELECT * FROM users WHERE email_key = ?');
    this.#list = db.prepare('SELECT * FROM users ORDER BY email_key');
    this.#upsert = db.prepare(
      `INSERT INTO users (email_key, email, name, password_hash, attributes, disabled, updated_at)
       VALUES (@key, @email, @name, @hash, @attributes, @disabled, @now)
       ON CONFLICT(email_key) DO UPDATE SET email = excluded.email, name = excluded.name,
         password_hash = excluded.password_hash, attributes = excluded.attributes,
         disabled = excluded.disabled, updated_at = excluded.updated_at`,
    );
  }

  find(email: string): User | undefined {
    const row = this.#find.get(emailKey(email)) as Row | undefined;
    return row && toUser(row);
  }

  list(): User[] {
    return (this.#list.all() as Row[]).map(toUser);
  }

  /** Checks a password. Unknown users cost one hash too, so timing does not tell them apart. */
  async authenticate(email: string, password: string): Promise<AuthResult> {
    const row = this.#find.get(emailKey(email)) as Row | undefined;
    if (!row) {
      this.#dummy ??= dummyHash(this.#logN);
      await verifyPassword(password, await this.#dummy);
      return { ok: false, reason: 'invalid' };
    }
    if (!(await verifyPassword(password, row.password_hash))) return { ok: false, reason: 'invalid' };
    if (row.disabled === 1) return { ok: false, reason: 'disabled' };
    return { ok: true, user: toUser(row) };
  }

  /** Writes the config's users; a stored hash is kept when the config password still matches it. */
  async upsertFromConfig(users: readonly UserConfig[]): Promise<void> {
    const rows = await Promise.all(
      users.map(async (u) => {
        const existing = this.#find.get(emailKey(u.email)) as Row | undefined;
        const keep = existing !== undefined && (await verifyPassword(u.password, existing.password_hash));
        const hash = keep ? existing.password_hash : await hashPassword(u.password, this.#logN);
        return {
          key: emailKey(u.email),
          email: u.email,
          name: u.name ?? null,
          hash,
          attributes: JSON.stringify(u.attributes),
          disabled: u.disabled ? 1 : 0,
          now: Date.now(),
        };
      }),
    );
    this.#db.transaction(() => {
      for (const r of rows) this.#upsert.run(r);
    })();
  }
}
