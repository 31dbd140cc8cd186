/**
 * Run-time changes with store: redis. Redis is the authority (src/replicas/shared.ts);
 * each replica's SQLite stays its local copy, which the sign-in paths read
 * synchronously.
 *
 * A change made here (control API, CLI, library) is checked and prepared
 * locally (a password hashed once, here; new HS256 secrets generated), written
 * to Redis, which publishes it, then applied locally; a refusal or Redis being
 * away (a 503) leaves the local copy untouched. Every replica subscribes and
 * applies the changes it receives. Local applications run one at a time, and
 * each user and the SP list remember the version applied last, so an older
 * change never overwrites a newer one, whatever the order they arrive in.
 *
 * Messages lost (the subscriber reconnecting, a replica that was stopped) are
 * caught by the version: a message ahead of the next expected version, or the
 * counter found ahead of what was received at two checks in a row (every
 * CHECK_EVERY_MS), starts a full sync: the local copy becomes the config file
 * plus what Redis holds. A replica does that sync at start, too.
 */
import type { UserConfig } from '../config/schema.js';
import { IdpError } from '../errors.js';
import type { GeneratedSecret } from '../jwt/secrets.js';
import type { RedisConnection } from '../store/redis.js';
import { configDigest, emailKey, type User, type UserInput, type UserPatch, type UserRecord } from '../users/store.js';
import { currentInputs, inputsDigest, type RuntimeChanges, type RuntimeHost, type ServiceProvidersEdit } from './changes.js';
import { parseChange, SharedChanges, type Change, type ServiceProvidersChange, type SharedState, type UserChange, type UserWrite } from './shared.js';

/** How often the version counter is read to catch lost messages. */
export const CHECK_EVERY_MS = 250;
/** Tries of an SP edit that keeps meeting another replica's. */
const SP_EDIT_TRIES = 5;

function userOf(record: UserRecord): User {
  return { email: record.email, name: record.name ?? undefined, attributes: record.attributes, disabled: record.disabled };
}

export interface RedisChangesOptions {
  /** Where the keys and the channel live (tests). */
  prefix?: string;
  checkEveryMs?: number;
}

export class RedisChanges implements RuntimeChanges {
  readonly #host: RuntimeHost;
  readonly #shared: SharedChanges;
  /** The config file's users by email key, with their digests. */
  readonly #configUsers: Map<string, { entry: UserConfig; digest: string }>;
  readonly #fileDigest: string;
  /** Local applications, one at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Every change up to this version is applied here. */
  #known = 0;
  /** Changes up to this version are covered by the last full sync or reset. */
  #floor = 0;
  readonly #userVersions = new Map<string, number>();
  /** The version of the shared SP list applied here (0: none, the config file's). */
  #spsVersion = 0;
  /** The counter seen at the last check when it was ahead. */
  #behind: number | undefined;
  #syncing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(host: RuntimeHost, shared: SharedChanges) {
    this.#host = host;
    this.#shared = shared;
    this.#configUsers = new Map(host.fileConfig.users.map((entry) => [emailKey(entry.email), { entry, digest: configDigest(entry) }]));
    this.#fileDigest = inputsDigest(host.fileConfig.serviceProviderInputs);
  }

  /** Subscribes, brings the local copy to what Redis holds, and starts the checks. */
  static async start(host: RuntimeHost, redis: RedisConnection, options: RedisChangesOptions = {}): Promise<RedisChanges> {
    const changes = new RedisChanges(host, new SharedChanges(redis, options.prefix === undefined ? {} : { prefix: options.prefix }));
    const subscriber = await redis.subscriber();
    await subscriber.subscribe(changes.#shared.channel, (message: string) => changes.#received(message));
    await changes.#sync();
    changes.#timer = setInterval(() => void changes.#check(), options.checkEveryMs ?? CHECK_EVERY_MS);
    changes.#timer.unref();
    return changes;
  }

  async createUser(input: UserInput): Promise<User> {
    await this.#catchUp();
    const record = await this.#host.users.newUser(input);
    return this.#writeUser(emailKey(record.email), record, 'create');
  }

  async updateUser(email: string, patch: UserPatch): Promise<User> {
    await this.#catchUp();
    const record = await this.#host.users.changedUser(email, patch);
    return this.#writeUser(emailKey(email), record, 'update');
  }

  async deleteUser(email: string): Promise<void> {
    await this.#catchUp();
    if (!this.#host.users.find(email)) throw new IdpError('not_found', `There is no user ${email}.`);
    await this.#write(emailKey(email), null, 'delete');
  }

  async #writeUser(key: string, user: UserRecord, write: UserWrite): Promise<User> {
    await this.#write(key, user, write);
    // What is stored now: this change, or one that came after it.
    return this.#host.users.find(key) ?? userOf(user);
  }

  async #write(key: string, user: UserRecord | null, write: UserWrite): Promise<void> {
    const change = await this.#shared.writeUser({ key, user, configDigest: this.#configUsers.get(key)?.digest ?? null }, write);
    await this.#serial(() => this.#take(change));
  }

  async editServiceProviders(edit: ServiceProvidersEdit): Promise<GeneratedSecret[]> {
    for (let tries = 1; ; tries++) {
      await this.#catchUp();
      const at = this.#spsVersion;
      const inputs = edit(currentInputs(this.#host));
      const planned = await this.#host.planServiceProviders(inputs);
      const change = await this.#shared.writeServiceProviders({ fileDigest: this.#fileDigest, inputs, secrets: planned.runtimeSecrets }, at);
      if (change) {
        await this.#serial(() => this.#take(change));
        return planned.generated;
      }
      // Another replica changed the list first: edit its list instead.
      if (tries === SP_EDIT_TRIES) throw new IdpError('conflict', 'The service providers kept changing on other replicas meanwhile; try again.');
      await this.#sync();
    }
  }

  async reset(): Promise<void> {
    const change = await this.#shared.reset();
    await this.#serial(async () => {
      this.#forget(change.v);
      await this.#host.reset();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#queue.catch(() => undefined);
  }

  /** Runs local applications one after another; the result or error is the caller's. */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(task);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #received(message: string): void {
    if (this.#closed) return;
    const change = parseChange(message);
    if (!change) {
      this.#host.logger.warn('a run-time change from another replica could not be read; syncing');
      void this.#sync().catch(() => undefined);
      return;
    }
    this.#serial(async () => {
      // A message ahead of the next one expected: some were lost (the subscriber was reconnecting).
      const missed = change.v > this.#known + 1;
      await this.#take(change);
      if (missed) void this.#sync().catch(() => undefined);
    }).catch((err: unknown) => this.#host.logger.error({ err: (err as Error).message, version: change.v }, 'applying a run-time change failed'));
  }

  /** Applies a change unless a newer one of the same thing is applied. */
  async #take(change: Change): Promise<void> {
    if (this.#closed || change.v <= this.#floor) return;
    if (change.v === this.#known + 1) this.#known = change.v;
    if (change.kind === 'reset') {
      this.#forget(change.v);
      await this.#followConfig(new Map(), undefined);
      return;
    }
    if (change.kind === 'sps') {
      if (this.#spsVersion >= change.v) return;
      await this.#applyServiceProviders(change);
      return;
    }
    if ((this.#userVersions.get(change.key) ?? 0) >= change.v) return;
    this.#userVersions.set(change.key, change.v);
    await this.#applyUser(change);
  }

  /** After a reset at version v: what came before is gone. */
  #forget(v: number): void {
    this.#floor = Math.max(this.#floor, v);
    this.#known = Math.max(this.#known, v);
    this.#userVersions.clear();
    this.#spsVersion = 0;
  }

  /** Whether a user's change applies here: made against the same config entry (or none) as this replica's. */
  #applies(change: UserChange): boolean {
    return (this.#configUsers.get(change.key)?.digest ?? null) === change.configDigest;
  }

  async #applyUser(change: UserChange): Promise<void> {
    if (!this.#applies(change)) return;
    const users = this.#host.users;
    if (change.user) await users.write(change.user);
    else if (users.find(change.key)) users.delete(change.key);
  }

  async #applyServiceProviders(change: ServiceProvidersChange): Promise<void> {
    this.#spsVersion = change.v;
    if (change.sps.fileDigest !== this.#fileDigest) {
      this.#host.logger.warn('another replica\'s config file lists other service providers: its run-time changes to them are not applied here');
      return;
    }
    if (JSON.stringify(currentInputs(this.#host)) === JSON.stringify(change.sps.inputs)) return;
    await this.#host.setServiceProviders(change.sps.inputs, { secrets: change.sps.secrets });
  }

  /** The local copy becomes the config file plus the shared changes given (all of them, as of one version). */
  async #followConfig(users: Map<string, UserChange>, sps: ServiceProvidersChange | undefined): Promise<void> {
    const store = this.#host.users;
    const shared = new Map([...users].filter(([, change]) => this.#applies(change)));
    for (const change of shared.values()) await this.#applyUser(change);
    const restore = (entry: UserConfig) =>
      void store.restoreConfig(entry).catch((err: unknown) => this.#host.logger.error({ err: (err as Error).message }, 'writing a config user\'s password hash failed'));
    for (const user of store.list()) {
      const key = emailKey(user.email);
      if (shared.has(key)) continue;
      const config = this.#configUsers.get(key);
      if (!config) store.delete(key);
      else if (!store.matchesConfig(config.entry)) restore(config.entry);
    }
    for (const [key, { entry }] of this.#configUsers) if (!shared.has(key) && !store.find(key)) restore(entry);

    if (sps) await this.#applyServiceProviders(sps);
    else if (JSON.stringify(currentInputs(this.#host)) !== JSON.stringify(this.#host.fileConfig.serviceProviderInputs)) await this.#host.restoreFileServiceProviders();
  }

  /** A full sync: reads everything and follows it; one at a time. */
  #sync(): Promise<void> {
    this.#syncing ??= this.#serial(async () => {
      try {
        if (this.#closed) return;
        const state: SharedState = await this.#shared.read();
        this.#floor = state.version;
        this.#known = state.version;
        this.#userVersions.clear();
        for (const [key, change] of state.users) this.#userVersions.set(key, change.v);
        this.#spsVersion = 0;
        await this.#followConfig(state.users, state.sps);
      } finally {
        this.#syncing = undefined;
      }
    });
    return this.#syncing;
  }

  /** Before a change: up to date with the others, so it is made from what they made. */
  async #catchUp(): Promise<void> {
    const version = await this.#shared.version();
    if (version !== this.#known) await this.#sync();
  }

  /** The periodic check: a counter ahead at two checks in a row (or behind: Redis lost its data) means lost messages. */
  async #check(): Promise<void> {
    if (this.#closed || this.#syncing) return;
    let version: number;
    try {
      version = await this.#shared.version();
    } catch {
      // Redis away: the client reconnects, and the next check after it catches up.
      return;
    }
    const behind = this.#behind;
    this.#behind = undefined;
    if (version === this.#known) return;
    if (version > this.#known && (behind === undefined || this.#known >= behind)) {
      this.#behind = version;
      return;
    }
    await this.#sync().catch((err: unknown) => this.#host.logger.warn({ err: (err as Error).message }, 'syncing the run-time changes failed; trying again'));
  }
}
