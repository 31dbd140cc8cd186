/**
 * The IdP under test: the bench config (one user, an HS256 and an RS256 JWT SP, a
 * SAML SP signing the assertion and one signing both), started from the built
 * code (`node dist/cli.js serve --config FILE`) on the server CPU.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { UserInput } from '../src/users/store.js';
import { ROOT, freePort, spawnNode, stderrOf, stop, tempDir, waitFor200 } from './lib.js';

export const USER = { email: 'alice@example.com', password: 'alice-password', name: 'Alice Agent' };
/**
 * The users POST /login signs in, in turn: the login throttle counts an attempt
 * against its account until the password is checked, so one account signed in
 * on 8 connections at once would lock itself out (5 attempts in flight).
 */
export const LOGIN_USERS = Array.from({ length: 16 }, (_, i) => ({ email: `user${String(i + 1).padStart(2, '0')}@bench.test`, password: `bench-password-${i + 1}` }));
export const HS_SECRET = 'bench-shared-secret-0123456789abcdef';
export const JWT_CONSUMER = 'http://sp.bench.test/sso/jwt/consumer';
export const ACS_URL = 'http://sp.bench.test/saml/acs';
export const SAML_SPS = { one: 'urn:bench:saml:assertion-signed', both: 'urn:bench:saml:both-signed' } as const;
export const JWT_SPS = { hs: 'jwt-hs256', rs: 'jwt-rs256' } as const;

export interface BenchIdp {
  base: string;
  pid: number;
  dataDir: string;
  child: ChildProcess;
  stderr: () => string;
  close(): Promise<void>;
}

/** The bench config; `passwordHashCost` stays at its default unless given. */
export function benchConfig(port: number, dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const attributes = { siteId: '10000', agentId: '1001', groups: ['admins', 'agents'] };
  const claims = { name: 'name', siteId: 'siteId', agentId: 'agentId' };
  const samlAttributes = { email: 'email', name: 'name', siteId: 'siteId', groups: 'groups' };
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    dataDir: path.join(dir, 'data'),
    keysDir: path.join(dir, 'keys'),
    users: [{ ...USER, attributes }, ...LOGIN_USERS.map((u) => ({ ...u, name: 'Bench User', attributes }))],
    serviceProviders: [
      { id: JWT_SPS.hs, jwt: { redirectUrls: [JWT_CONSUMER], algorithm: 'HS256', secret: HS_SECRET, issuer: 'mock-idp bench', audience: 'bench', claims } },
      { id: JWT_SPS.rs, jwt: { redirectUrls: [JWT_CONSUMER], algorithm: 'RS256', issuer: 'mock-idp bench', audience: 'bench', claims } },
      { id: 'saml-one', saml: { entityId: SAML_SPS.one, acsUrls: [ACS_URL], attributes: samlAttributes } },
      { id: 'saml-both', saml: { entityId: SAML_SPS.both, acsUrls: [ACS_URL], attributes: samlAttributes, signResponse: true } },
    ],
    ...extra,
  };
}

/**
 * Writes users into the store of `dir/data` (before the IdP starts on it), with
 * their password hashes at scrypt cost 2^`cost`: the config's minimum is 2^10,
 * and figures about the rest of a sign-in want the hashing out of the way.
 * The IdP keeps them when its config has no users (`users: []`).
 */
/**
 * Writes `users` into Redis as run-time users (the replicas' shared users), hashed
 * at `cost` as seedUsers does: a replica on Redis makes its local users the config's
 * plus these at start, so seeding its data directory alone would not last.
 */
export async function seedSharedUsers(redisUrl: string, users: readonly UserInput[], cost = 4): Promise<void> {
  const dist = (file: string) => pathToFileURL(path.join(ROOT, 'dist', file)).href;
  const { openDb } = (await import(dist('store/db.js'))) as typeof import('../src/store/db.js');
  const { UserStore, emailKey } = (await import(dist('users/store.js'))) as typeof import('../src/users/store.js');
  const { connectRedis } = (await import(dist('store/redis.js'))) as typeof import('../src/store/redis.js');
  const { SharedChanges } = (await import(dist('replicas/shared.js'))) as typeof import('../src/replicas/shared.js');
  const { silentLogger } = (await import(dist('logger.js'))) as typeof import('../src/logger.js');
  const db = openDb(':memory:');
  const redis = await connectRedis(redisUrl, { logger: silentLogger });
  try {
    const store = new UserStore(db, cost);
    const shared = new SharedChanges(redis);
    for (const u of users) await shared.writeUser({ key: emailKey(u.email), user: await store.newUser(u), configDigest: null }, 'create');
  } finally {
    await redis.close();
    db.close();
  }
}

export async function seedUsers(dir: string, users: readonly UserInput[], cost = 4): Promise<void> {
  const dist = (file: string) => pathToFileURL(path.join(ROOT, 'dist', file)).href;
  const { openDb } = (await import(dist('store/db.js'))) as typeof import('../src/store/db.js');
  const { UserStore } = (await import(dist('users/store.js'))) as typeof import('../src/users/store.js');
  const db = openDb(path.join(dir, 'data'));
  try {
    const store = new UserStore(db, cost);
    for (const u of users) await store.create(u);
  } finally {
    db.close();
  }
}

/** Writes the config into a fresh folder and starts the IdP on it; resolves once /healthz answers 200. */
export async function startBenchIdp(options: { extra?: Record<string, unknown>; dir?: string; nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<BenchIdp> {
  const dir = options.dir ?? tempDir('mock-idp-bench-');
  const port = await freePort();
  const file = path.join(dir, 'bench-config.json');
  fs.writeFileSync(file, JSON.stringify(benchConfig(port, dir, options.extra), null, 2));
  const child = spawnNode([...(options.nodeArgs ?? []), path.join(ROOT, 'dist', 'cli.js'), 'serve', '--config', file], { env: { ...process.env, ...options.env } });
  const stderr = stderrOf(child);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor200(`${base}/healthz`, performance.now(), 60_000, child);
  } catch (err) {
    await stop(child);
    throw new Error(`the bench IdP did not start: ${(err as Error).message}\n${stderr()}`);
  }
  return { base, pid: child.pid!, dataDir: path.join(dir, 'data'), child, stderr, close: () => stop(child) };
}
