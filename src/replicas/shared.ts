/**
 * The run-time changes as Redis keeps them (store: redis): the authority every
 * replica's local copy follows.
 *
 *   mock-idp:runtime:version  a counter, one more for every change
 *   mock-idp:runtime:users    a hash: email key → that user's last change (a
 *                             deletion stays as a tombstone, user null)
 *   mock-idp:runtime:sps      the last change of the service providers: the
 *                             run-time list, as SQLite's kv keeps it
 *   mock-idp:runtime          the channel every change is published on
 *
 * Every change is one Lua script: its check, the INCR, the write and the
 * PUBLISH happen together or not at all. So changes are ordered by their
 * version, a message is never sent for a change that was not written, and the
 * SP list is compared-and-set on its version: two replicas editing it at once
 * cannot lose one of the edits.
 *
 * A change is JSON, the same text in the hash and on the channel:
 * {"v":7,"kind":"user","key":"bob@example.com","user":{…},"configDigest":null}.
 */
import { IdpError } from '../errors.js';
import type { GeneratedSecret } from '../jwt/secrets.js';
import { stateUnavailable } from '../state/redis.js';
import { KEY_PREFIX, type RedisConnection } from '../store/redis.js';
import type { UserRecord } from '../users/store.js';

/** The run-time SP list with the generated secrets of its SPs that are not in the config file. */
export interface SharedServiceProviders {
  /** inputsDigest of the config file's list the run-time list was made against. */
  fileDigest: string;
  inputs: unknown[];
  secrets: GeneratedSecret[];
}

export interface UserChange {
  v: number;
  kind: 'user';
  key: string;
  /** null: deleted. */
  user: UserRecord | null;
  /** The digest of the writer's config entry for this user (null: none): a replica whose config differs keeps its config's. */
  configDigest: string | null;
}
export interface ServiceProvidersChange {
  v: number;
  kind: 'sps';
  sps: SharedServiceProviders;
}
export interface ResetChange {
  v: number;
  kind: 'reset';
}
export type Change = UserChange | ServiceProvidersChange | ResetChange;

/** Everything, as of one version. */
export interface SharedState {
  version: number;
  users: Map<string, UserChange>;
  sps: ServiceProvidersChange | undefined;
}

export type UserWrite = 'create' | 'update' | 'delete';

/** A user's change: refused (-1) when creating over a live user, (-2) when changing a deleted one. */
const WRITE_USER = `local cur = redis.call('HGET', KEYS[2], ARGV[1])
local live = false
if cur then live = cjson.decode(cur).user ~= cjson.null end
if ARGV[3] == 'create' and live then return -1 end
if ARGV[3] ~= 'create' and cur and not live then return -2 end
local v = redis.call('INCR', KEYS[1])
local change = '{"v":' .. v .. ',' .. ARGV[2]
redis.call('HSET', KEYS[2], ARGV[1], change)
redis.call('PUBLISH', ARGV[4], change)
return v`;

/** The SP list's change, only over the version it was made from (-1: changed meanwhile). */
const WRITE_SPS = `local cur = redis.call('GET', KEYS[2])
local at = 0
if cur then at = cjson.decode(cur).v end
if at ~= tonumber(ARGV[1]) then return -1 end
local v = redis.call('INCR', KEYS[1])
local change = '{"v":' .. v .. ',' .. ARGV[2]
redis.call('SET', KEYS[2], change)
redis.call('PUBLISH', ARGV[3], change)
return v`;

const RESET = `local v = redis.call('INCR', KEYS[1])
redis.call('DEL', KEYS[2], KEYS[3])
local change = '{"v":' .. v .. ',"kind":"reset"}'
redis.call('PUBLISH', ARGV[1], change)
return v`;

/** A change's JSON without its version, which the script puts first: '"kind":…}'. */
function body(change: Omit<UserChange, 'v'> | Omit<ServiceProvidersChange, 'v'>): string {
  return JSON.stringify(change).slice(1);
}

export function parseChange(text: string): Change | undefined {
  try {
    const change = JSON.parse(text) as Change;
    return typeof change.v === 'number' && ['user', 'sps', 'reset'].includes(change.kind) ? change : undefined;
  } catch {
    return undefined;
  }
}

export class SharedChanges {
  readonly channel: string;
  readonly #redis: RedisConnection;
  readonly #version: string;
  readonly #users: string;
  readonly #sps: string;

  /** `prefix`: where the keys and the channel live (tests give each their own). */
  constructor(redis: RedisConnection, options: { prefix?: string } = {}) {
    this.#redis = redis;
    this.channel = options.prefix ?? `${KEY_PREFIX}runtime`;
    this.#version = `${this.channel}:version`;
    this.#users = `${this.channel}:users`;
    this.#sps = `${this.channel}:sps`;
  }

  async #run<T>(command: (client: RedisConnection['client']) => Promise<T>): Promise<T> {
    try {
      return await command(this.#redis.client);
    } catch (err) {
      throw stateUnavailable(err);
    }
  }

  /** The version of the last change (0: none yet). */
  async version(): Promise<number> {
    return Number((await this.#run((c) => c.get(this.#version))) ?? 0);
  }

  /** Everything, read in one transaction. */
  async read(): Promise<SharedState> {
    const [version, users, sps] = (await this.#run((c) => c.multi().get(this.#version).hGetAll(this.#users).get(this.#sps).exec())) as unknown as [
      string | null,
      Record<string, string>,
      string | null,
    ];
    const changes = new Map<string, UserChange>();
    for (const [key, text] of Object.entries(users)) {
      const change = parseChange(text);
      if (change?.kind === 'user') changes.set(key, change);
    }
    const spsChange = sps === null ? undefined : parseChange(sps);
    return { version: Number(version ?? 0), users: changes, sps: spsChange?.kind === 'sps' ? spsChange : undefined };
  }

  /** Writes a user's change; throws a conflict or not_found IdpError when the shared store refuses it. */
  async writeUser(change: Omit<UserChange, 'v' | 'kind'>, write: UserWrite): Promise<UserChange> {
    const rest = { kind: 'user' as const, ...change };
    const v = Number(await this.#run((c) => c.eval(WRITE_USER, { keys: [this.#version, this.#users], arguments: [change.key, body(rest), write, this.channel] })));
    if (v === -1) throw new IdpError('conflict', `A user with the email ${change.user?.email ?? change.key} already exists.`);
    if (v === -2) throw new IdpError('not_found', `There is no user ${change.key}.`);
    return { v, ...rest };
  }

  /** Writes the SP list if it is still at version `at` (0: none); undefined when another change came first. */
  async writeServiceProviders(sps: SharedServiceProviders, at: number): Promise<ServiceProvidersChange | undefined> {
    const rest = { kind: 'sps' as const, sps };
    const v = Number(await this.#run((c) => c.eval(WRITE_SPS, { keys: [this.#version, this.#sps], arguments: [String(at), body(rest), this.channel] })));
    return v === -1 ? undefined : { v, ...rest };
  }

  /** Drops every run-time change: every replica goes back to its config. */
  async reset(): Promise<ResetChange> {
    const v = Number(await this.#run((c) => c.eval(RESET, { keys: [this.#version, this.#users, this.#sps], arguments: [this.channel] })));
    return { v, kind: 'reset' };
  }
}
