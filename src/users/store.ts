/**
 * Users live in the SQLite store. Users from the config are upserted at start:
 * a config entry that changed since the last start overwrites the stored user,
 * an unchanged one leaves run-time edits (CLI, control API) in place. Emails are
 * compared after NFKC normalization and case folding.
 *
 * Hashing a config user's password (or checking that it is unchanged) costs a
 * scrypt at the configured cost, tens of milliseconds of CPU each; at start that
 * would hold up the server. So the rows are written at once and the hashes after,
 * on libuv's threads, once the server listens (`hashConfigPasswords`): a sign-in
 * or an edit of a config user waits for its own hash (and starts the hashing if
 * nothing has yet), and `pendingConfigPasswords` tells /readyz.
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

/**
 * A user as a change writes it, with the password's hash (never the password):
 * what `create` and `update` write and what replicas ship to each other, so the
 * password is hashed once. `passwordHash` null: the config's password, which
 * each store hashes itself.
 */
export interface UserRecord {
  email: string;
  name: string | null;
  passwordHash: string | null;
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
export function configDigest(u: UserConfig): string {
  const { password: _password, ...rest } = u;
  return crypto.createHash('sha256').update(JSON.stringify(rest)).digest('base64url');
}

function conflict(email: string): IdpError {
  return new IdpError('conflict', `A user with the email ${email} already exists.`);
}

export type AuthResult = { ok: true; user: User } | { ok: false; reason: 'invalid' | 'disabled' };

/** The password hash of a new config user until its real one is written: no password matches it. */
const HASH_PENDING = '';

export class UserStore {
  readonly #db: Db;
  readonly #logN: number;
  #dummy: Promise<string> | undefined;
  /** Config users whose password is being hashed or checked in the background, by email key. */
  readonly #pending = new Map<string, Promise<void>>();
  /** What deferred hashing waits for, until `hashConfigPasswords` opens it. */
  #gate: { opened: Promise<void>; open: () => void } | undefined;
  readonly #find;
  readonly #list;
  readonly #insert;
  readonly #update;
  readonly #updateFromConfig;
  readonly #setConfigPassword;
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
    this.#updateFromConfig = db.prepare(
      `UPDATE users SET email = @email, name = @name, attributes = @attributes, disabled = @disabled, updated_at = @now, config_digest = @digest
       WHERE email_key = @key`,
    );
    this.#setConfigPassword = db.prepare('UPDATE users SET password_hash = @hash, config_password_hash = @hash, updated_at = @now WHERE email_key = @key');
    this.#delete = db.prepare('DELETE FROM users WHERE email_key = ?');
  }

  /** How many config users' passwords are still being hashed or checked (see the file comment). */
  get pendingConfigPasswords(): number {
    return this.#pending.size;
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
    await this.#configPasswordWritten(emailKey(email));
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
    return this.write(await this.newUser(input), { create: true });
  }

  async update(email: string, patch: UserPatch): Promise<User> {
    return this.write(await this.changedUser(email, patch));
  }

  /** The record `create` would write: the password hashed; a conflict if the email is taken. */
  async newUser(input: UserInput): Promise<UserRecord> {
    if (this.#find.get(emailKey(input.email))) throw conflict(input.email);
    const passwordHash = await hashPassword(input.password, this.#logN);
    return { email: input.email.trim(), name: input.name ?? null, passwordHash, attributes: input.attributes ?? {}, disabled: input.disabled ?? false };
  }

  /** The record `update` would write: the stored user with the patch applied. */
  async changedUser(email: string, patch: UserPatch): Promise<UserRecord> {
    // After the config's hash, so that it cannot overwrite a password set here.
    await this.#configPasswordWritten(emailKey(email));
    const row = this.#find.get(emailKey(email)) as Row | undefined;
    if (!row) throw new IdpError('not_found', `There is no user ${email}.`);
    const configPassword = row.config_password_hash !== null && row.password_hash === row.config_password_hash;
    const passwordHash = patch.password !== undefined ? await hashPassword(patch.password, this.#logN) : configPassword ? null : row.password_hash;
    const user = toUser(row);
    return {
      email: row.email,
      name: patch.name !== undefined ? patch.name : row.name,
      passwordHash,
      attributes: patch.attributes ?? user.attributes,
      disabled: patch.disabled ?? user.disabled,
    };
  }

  /**
   * Writes a record (made here or by another replica): a new row, or over the
   * stored one, which keeps what it knows of its config entry. With `create`, a
   * stored user of that email is a conflict.
   */
  async write(record: UserRecord, options: { create?: boolean } = {}): Promise<User> {
    const key = emailKey(record.email);
    // A password set at run time is written after the config's pending hash, which would overwrite it.
    if (record.passwordHash !== null) await this.#configPasswordWritten(key);
    const row = this.#find.get(key) as Row | undefined;
    if (row && options.create) throw conflict(record.email);
    const params = {
      key,
      email: record.email,
      name: record.name,
      hash: record.passwordHash ?? row?.config_password_hash ?? row?.password_hash ?? HASH_PENDING,
      attributes: JSON.stringify(record.attributes),
      disabled: record.disabled ? 1 : 0,
      now: Date.now(),
      digest: row?.config_digest ?? null,
      configHash: row?.config_password_hash ?? null,
    };
    if (row) this.#update.run(params);
    else this.#insert.run(params);
    return this.find(key)!;
  }

  delete(email: string): void {
    if (this.#delete.run(emailKey(email)).changes === 0) throw new IdpError('not_found', `There is no user ${email}.`);
  }

  /**
   * Writes the config's users (see the file comment for what wins): at once, except
   * the password hashes, which follow in the background; with `deferHashing`, only
   * once `hashConfigPasswords` is called. Resolves when every hash is written.
   */
  upsertFromConfig(users: readonly UserConfig[], options: { deferHashing?: boolean } = {}): Promise<void> {
    const now = Date.now();
    const rows = users.map((u) => ({ u, key: emailKey(u.email), row: this.#find.get(emailKey(u.email)) as Row | undefined }));
    this.#db.transaction(() => {
      for (const { u, key, row } of rows) {
        const digest = configDigest(u);
        if (row?.config_digest === digest) continue;
        const params = { key, email: u.email, name: u.name ?? null, attributes: JSON.stringify(u.attributes), disabled: u.disabled ? 1 : 0, now, digest };
        if (row) this.#updateFromConfig.run(params);
        else this.#insert.run({ ...params, hash: HASH_PENDING, configHash: null });
      }
    })();
    if (options.deferHashing && !this.#gate) {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      this.#gate = { opened, open };
    }
    return Promise.all(rows.map(({ u, key }) => this.#syncConfigPassword(key, u.password))).then(() => undefined);
  }

  /**
   * Starts the config users' password hashing that `deferHashing` held back (the
   * server calls it once it listens). Resolves when none is pending; failures are
   * reported by the promise `upsertFromConfig` returned.
   */
  hashConfigPasswords(): Promise<void> {
    this.#gate?.open();
    return Promise.allSettled(this.#pending.values()).then(() => undefined);
  }

  /** Waits until the config user `key`'s password hash, if pending, is written. */
  async #configPasswordWritten(key: string): Promise<void> {
    const pending = this.#pending.get(key);
    if (!pending) return;
    this.#gate?.open();
    await pending;
  }

  /**
   * Hashes a config user's password into the store unless the stored config hash
   * already matches it. The jobs run side by side (libuv's pool runs four at once),
   * not one after another: glibc maps a scrypt's 16 MiB (cost 14) and unmaps it when
   * freed only until the first such block is freed, and takes later ones from heaps
   * that keep the memory; in sequence, they would leave ~16 MiB per pool thread in
   * the idle server.
   */
  #syncConfigPassword(key: string, password: string): Promise<void> {
    const sync = async () => {
      // Closed meanwhile (a shutdown): the next start hashes it again.
      if (!this.#db.open) return;
      const row = this.#find.get(key) as Row | undefined;
      if (!row || (row.config_password_hash && (await verifyPassword(password, row.config_password_hash)))) return;
      const hash = await hashPassword(password, this.#logN);
      if (this.#db.open) this.#setConfigPassword.run({ key, hash, now: Date.now() });
    };
    // After an earlier job for the same user, so the last config's password wins.
    const before = this.#pending.get(key) ?? this.#gate?.opened ?? Promise.resolve();
    const job = before.then(sync, sync);
    this.#pending.set(key, job);
    const settle = () => {
      if (this.#pending.get(key) === job) this.#pending.delete(key);
    };
    job.then(settle, settle);
    return job;
  }

  /** Whether the stored user is exactly the config entry: nothing of it changed at run time. */
  matchesConfig(u: UserConfig): boolean {
    const key = emailKey(u.email);
    const row = this.#find.get(key) as Row | undefined;
    if (!row || row.config_digest !== configDigest(u)) return false;
    const configPassword = row.config_password_hash !== null ? row.password_hash === row.config_password_hash : this.#pending.has(key);
    return configPassword && row.email === u.email && row.name === (u.name ?? null) && row.attributes === JSON.stringify(u.attributes) && row.disabled === (u.disabled ? 1 : 0);
  }

  /** Puts one config user back as the config has it (its password hashed as `upsertFromConfig` does). */
  restoreConfig(u: UserConfig): Promise<void> {
    this.#delete.run(emailKey(u.email));
    return this.upsertFromConfig([u]);
  }

  /** Back to exactly the config's users: every other user and every run-time edit is dropped. */
  async resetToConfig(users: readonly UserConfig[]): Promise<void> {
    await this.hashConfigPasswords();
    this.#db.prepare('DELETE FROM users').run();
    await this.upsertFromConfig(users);
  }
}
