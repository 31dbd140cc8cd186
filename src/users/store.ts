/**
 * Users live in the SQLite store. Users from the config are upserted at start:
 * a config entry that changed since the last start overwrites the stored user,
 * an unchanged one leaves run-time edits (CLI, control API) in place. Emails are
 * compared after NFKC normalization and case folding.
 */
import crypto from 'node:crypto';
import type { Db } from '../store/db.js';
import type { UserConfig } from '../config/schema.js';
import { IdpError } from '../errors.js';
import { dummyHash, hashPassword, verifyPassword } from './password.js';

export interface User {
  email: string;
  name: string | undefined;
  attributes: Record<string, string | string[]>;
  disabled: boolean;
}

/** What can be written: a user with a password (for creation) or a partial update. */
export interface UserInput {
  email: string;
  password: string;
  name?: string | undefined;
  attributes?: Record<string, string | string[]>;
  disabled?: boolean;
}
export type UserPatch = Partial<Omit<UserInput, 'email'>>;

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
  config_digest: string | null;
  config_password_hash: string | null;
}

function toUser(row: Row): User {
  return {
    email: row.email,
    name: row.name ?? undefined,
    attributes: JSON.parse(row.attributes) as Record<string, string | string[]>,
    disabled: row.disabled === 1,
  };
}

/** A digest of a config entry without its password (the password is compared with scrypt). */
function configDigest(u: UserConfig): string {
  const { password: _password, ...rest } = u;
  return crypto.createHash('sha256').update(JSON.stringify(rest)).digest('base64url');
}

export type AuthResult = { ok: true; user: User } | { ok: false; reason: 'invalid' | 'disabled' };

export class UserStore {
  readonly #db: Db;
  readonly #logN: number;
  #dummy: Promise<string> | undefined;
  readonly #find;
  readonly #list;
  readonly #insert;
  readonly #update;
  readonly #delete;

  constructor(db: Db, passwordHashCost: number) {
    this.#db = db;
    this.#logN = passwordHashCost;
    this.#find = db.prepare('SELECT * FROM users WHERE email_key = ?');
    this.#list = db.prepare('SELECT * FROM users ORDER BY email_key');
    this.#insert = db.prepare(
      `INSERT INTO users (email_key, email, name, password_hash, attributes, disabled, updated_at, config_digest, config_password_hash)
       VALUES (@key, @email, @name, @hash, @attributes, @disabled, @now, @digest, @configHash)`,
    );
    this.#update = db.prepare(
      `UPDATE users SET email = @email, name = @name, password_hash = @hash, attributes = @attributes, disabled = @disabled,
         updated_at = @now, config_digest = @digest, config_password_hash = @configHash WHERE email_key = @key`,
    );
    this.#delete = db.prepare('DELETE FROM users WHERE email_key = ?');
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

  async create(input: UserInput): Promise<User> {
    const hash = await hashPassword(input.password, this.#logN);
    const key = emailKey(input.email);
    try {
      this.#insert.run({
        key,
        email: input.email.trim(),
        name: input.name ?? null,
        hash,
        attributes: JSON.stringify(input.attributes ?? {}),
        disabled: input.disabled ? 1 : 0,
        now: Date.now(),
        digest: null,
        configHash: null,
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new IdpError('conflict', `A user with the email ${input.email} already exists.`);
      }
      throw err;
    }
    return this.find(key)!;
  }

  async update(email: string, patch: UserPatch): Promise<User> {
    const row = this.#find.get(emailKey(email)) as Row | undefined;
    if (!row) throw new IdpError('not_found', `There is no user ${email}.`);
    const hash = patch.password !== undefined ? await hashPassword(patch.password, this.#logN) : row.password_hash;
    this.#update.run({
      key: emailKey(email),
      email: row.email,
      name: patch.name !== undefined ? patch.name : row.name,
      hash,
      attributes: patch.attributes !== undefined ? JSON.stringify(patch.attributes) : row.attributes,
      disabled: patch.disabled !== undefined ? (patch.disabled ? 1 : 0) : row.disabled,
      now: Date.now(),
      digest: row.config_digest,
      configHash: row.config_password_hash,
    });
    return this.find(email)!;
  }

  delete(email: string): void {
    if (this.#delete.run(emailKey(email)).changes === 0) throw new IdpError('not_found', `There is no user ${email}.`);
  }

  /** Writes the config's users (see the file comment for what wins). */
  async upsertFromConfig(users: readonly UserConfig[]): Promise<void> {
    const writes = await Promise.all(
      users.map(async (u) => {
        const key = emailKey(u.email);
        const row = this.#find.get(key) as Row | undefined;
        const digest = configDigest(u);
        const passwordChanged = !row?.config_password_hash || !(await verifyPassword(u.password, row.config_password_hash));
        if (row && !passwordChanged && row.config_digest === digest) return undefined;
        const configHash = passwordChanged ? await hashPassword(u.password, this.#logN) : row!.config_password_hash!;
        const fromConfig = !row || row.config_digest !== digest;
        return {
          exists: row !== undefined,
          params: {
            key,
            email: fromConfig ? u.email : row.email,
            name: fromConfig ? (u.name ?? null) : row.name,
            hash: passwordChanged ? configHash : row!.password_hash,
            attributes: fromConfig ? JSON.stringify(u.attributes) : row.attributes,
            disabled: fromConfig ? (u.disabled ? 1 : 0) : row.disabled,
            now: Date.now(),
            digest,
            configHash,
          },
        };
      }),
    );
    this.#db.transaction(() => {
      for (const w of writes) {
        if (!w) continue;
        if (w.exists) this.#update.run(w.params);
        else this.#insert.run(w.params);
      }
    })();
  }

  /** Back to exactly the config's users: every other user and every run-time edit is dropped. */
  async resetToConfig(users: readonly UserConfig[]): Promise<void> {
    this.#db.prepare('DELETE FROM users').run();
    await this.upsertFromConfig(users);
  }
}
