/**
 * The processes of the shared-store figure: a redis-server, IdP replicas with
 * `store: redis` on it, and single IdPs on the default SQLite store, all on the
 * bench config otherwise alike (the same `sessionSecret`, one keys folder, each
 * its own data directory with the same users seeded at a tiny scrypt cost).
 * Everything runs on the server CPU and listens on 127.0.0.1; `Started.close`
 * stops exactly the processes started here, by their pids, newest first.
 */
import type { ChildProcess } from 'node:child_process';
import { LOGIN_USERS, USER, seedUsers, startBenchIdp, type BenchIdp } from './idp.js';
import { freePort, spawnOnServerCpu, stop, tempDir } from './lib.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

/** One secret for every IdP of the figure: a replica must accept a session cookie another one signed. */
export const SESSION_SECRET = 'bench-session-secret-CHANGE-ME-not-for-production';

/**
 * The users every data directory is seeded with (alice for the checks, the login
 * users for the load), hashed at 2^4: a hash then costs tens of µs, not the
 * 2–3 ms of the config's minimum 2^10, so the figure is the store's and the
 * HTTP's, not scrypt's.
 */
const attributes = { siteId: '10000', agentId: '1001', groups: ['admins', 'agents'] };
export const SEEDED_USERS = [{ ...USER, attributes }, ...LOGIN_USERS.map((u) => ({ ...u, name: 'Bench User', attributes }))];

export interface BenchRedis {
  url: string;
  pid: number;
  child: ChildProcess;
  output: () => string;
}

/** What was started, to stop in reverse order (IdPs before the Redis they use), also on failure. */
export class Started {
  readonly #stops: (() => Promise<void>)[] = [];

  add<T extends { child: ChildProcess }>(started: T): T {
    this.#stops.push(() => stop(started.child));
    return started;
  }

  async close(): Promise<void> {
    for (const s of this.#stops.splice(0).reverse()) await s();
  }
}

/**
 * redis-server on a free loopback port, pinned to the server CPU, persisting as a
 * deployment would and as closely to the SQLite store as Redis goes: an
 * append-only file written at every change and flushed to disk once a second
 * (`appendfsync everysec`; SQLite runs WAL with `synchronous = NORMAL`).
 */
export async function startRedis(started: Started): Promise<BenchRedis> {
  const port = await freePort();
  const dir = tempDir('mock-idp-bench-redis-');
  const child = spawnOnServerCpu(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir],
    { stdout: 'pipe' },
  );
  const output = collect(child);
  const redis = started.add({ url: `redis://127.0.0.1:${port}`, pid: child.pid!, child, output });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 15 s:\n${output()}`)), 15_000);
    const onData = () => {
      if (!/Ready to accept connections/.test(output())) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve();
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${output()}`));
    });
  });
  return redis;
}

function collect(child: ChildProcess): () => string {
  let text = '';
  const add = (d: Buffer) => (text = (text + d.toString()).slice(-20_000));
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => text;
}

export interface IdpOptions {
  /** The keys folder the IdPs share (the first one started writes the keys). */
  keysDir: string;
  /** `{ store: 'redis', redisUrl }` for a replica; nothing for the SQLite default. */
  store?: Record<string, unknown>;
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

/** One IdP of the figure: the bench config, no config users (the seeded ones sign in), the shared secret and keys. */
export async function startSeededIdp(started: Started, options: IdpOptions): Promise<BenchIdp> {
  const dir = tempDir('mock-idp-bench-store-');
  await seedUsers(dir, SEEDED_USERS);
  const idp = await startBenchIdp({
    dir,
    extra: { users: [], passwordHashCost: 10, sessionSecret: SESSION_SECRET, keysDir: options.keysDir, ...options.store },
    ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  return started.add(idp);
}

/** The config keys that make an IdP a replica on `redis`. */
export function onRedis(redis: BenchRedis): Record<string, unknown> {
  return { store: 'redis', redisUrl: redis.url };
}

/** `count` replicas on one Redis, started one after the other (so that only the first writes keys). */
export async function startReplicas(started: Started, count: number, redis: BenchRedis, options: Omit<IdpOptions, 'store'>): Promise<BenchIdp[]> {
  const replicas: BenchIdp[] = [];
  for (let i = 0; i < count; i++) replicas.push(await startSeededIdp(started, { ...options, store: onRedis(redis) }));
  return replicas;
}

/**
 * IdPs started side by side, once the keys exist (an IdP started before wrote
 * them): starting waits mostly on I/O. All settle before this returns, so that
 * each one started is in `started` even when another failed.
 */
export async function startSeededIdps(started: Started, options: readonly IdpOptions[]): Promise<BenchIdp[]> {
  const settled = await Promise.allSettled(options.map((o) => startSeededIdp(started, o)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<BenchIdp>).value);
}
