/**
 * The two-replica figure (issue 14): sign-ins per second through two IdP
 * replicas sharing one redis-server (`store: redis`), against one IdP on the
 * default SQLite store, in the same run, their runs interleaved.
 *
 * Two kinds of sign-in, each on the same users and config:
 * - a browser sign-in: GET /login (a new session and its CSRF token), then POST
 *   /login (password checked at a seeded 2^4 scrypt cost, throttle counted and
 *   cleared, the session regenerated), 8 connections;
 * - a JWT SSO sign-in of a signed-in session: GET /sso/jwt/:sp → 302 (HS256),
 *   32 connections; also on one SQLite IdP with its sign-in fast path turned off
 *   (MOCK_IDP_FAST_PATH=0), since the fast path takes only SQLite sessions and
 *   the replicas answer every request through the app.
 *
 * One autocannon instance with both replicas as its targets: connection i goes
 * to replica i % 2, so each replica has half the connections, a browser (one
 * connection) stays on its replica as with a sticky balancer, and latency is one
 * histogram over all requests, with the same load generator as the single IdP.
 * The session the JWT load uses is opened on one replica and signed in on the
 * other, so half of that load reads a session another process wrote.
 *
 * All the IdPs and redis-server run on the server CPU, the load generator on the
 * other: the replicas together get the one CPU the single IdP gets, so the ratio
 * is what sharing the store through Redis costs, not what a second CPU would give.
 */
import path from 'node:path';
import { checkJwtRedirect } from './checks.js';
import { LOGIN_USERS, USER, seedSharedUsers, type BenchIdp } from './idp.js';
import { signIn, spread, tempDir } from './lib.js';
import { measureInterleaved, type Measured, type Plan } from './load.js';
import { SEEDED_USERS, Started, onRedis, startRedis, startSeededIdp, startSeededIdps } from './replicas.js';
import { jwtScenario, signInFlow } from './scenarios.js';
import type { Row } from './table.js';

export const SIGN_IN_CONNECTIONS = 8;
export const REPLICAS = 2;

export interface SharedStoreResults {
  signIn: { sqlite: Measured; redis: Measured };
  jwt: { sqlite: Measured; sqliteAppOnly: Measured; redis: Measured };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(0)}%`;
}

/** IdP CPU plus redis-server CPU per sign-in, run by run: everything the server CPU spent on it. */
function serverSideCpu(m: Measured): number | undefined {
  if (m.cpuUs === undefined) return undefined;
  return spread(m.runs.map((r) => r.cpuUs! + (r.sideCpuUs ?? 0))).median;
}

export async function sharedStoreFigures(plan: Plan, log: (line: string) => void): Promise<SharedStoreResults> {
  const started = new Started();
  try {
    const keysDir = path.join(tempDir('mock-idp-bench-keys-'), 'keys');
    const redis = await startRedis(started);
    await seedSharedUsers(redis.url, SEEDED_USERS);
    const sqlite = await startSeededIdp(started, { keysDir });
    // The first IdP wrote the keys; the others start side by side.
    const [appOnly, ...replicas] = (await startSeededIdps(started, [
      { keysDir, env: { MOCK_IDP_FAST_PATH: '0' } },
      ...Array.from({ length: REPLICAS }, () => ({ keysDir, store: onRedis(redis) })),
    ])) as [BenchIdp, ...BenchIdp[]];
    const [a, b] = replicas as [BenchIdp, BenchIdp];
    const bases = replicas.map((r) => r.base);

    // ---- correctness before load -------------------------------------------------------
    log(`shared store: ${REPLICAS} replicas on one redis-server (${redis.url}), and one IdP on SQLite (with and without the fast path); users seeded at scrypt 2^4`);
    const sqliteCookie = await signIn(sqlite.base, USER.email, USER.password);
    await checkJwtRedirect(sqlite.base, sqliteCookie, 'jwt-hs256', 'HS256');
    const appOnlyCookie = await signIn(appOnly.base, USER.email, USER.password);
    await checkJwtRedirect(appOnly.base, appOnlyCookie, 'jwt-hs256', 'HS256');
    // The form opened on one replica and posted to the other; the session used on both.
    const sharedCookie = await signIn(a.base, USER.email, USER.password, b.base);
    await checkJwtRedirect(a.base, sharedCookie, 'jwt-hs256', 'HS256');
    await checkJwtRedirect(b.base, sharedCookie, 'jwt-rs256', 'RS256');
    log('  correctness: a sign-in on each; on the replicas, a login form opened on one and posted to the other, its session answered by both with JWTs that verify and name the user');

    const idpWatch = { server: [sqlite.pid] };
    const replicaWatch = { server: replicas.map((r) => r.pid), side: [redis.pid] };

    // ---- browser sign-ins --------------------------------------------------------------
    log(`sign-ins (GET /login + POST /login on a new session, ${SIGN_IN_CONNECTIONS} connections): 1 IdP on SQLite, ${REPLICAS} replicas on Redis (${SIGN_IN_CONNECTIONS / REPLICAS} connections each), runs interleaved`);
    const [signInSqlite, signInRedis] = (await measureInterleaved(
      [
        { name: 'sign-in, 1 IdP on SQLite', options: signInFlow(sqlite.base, LOGIN_USERS, SIGN_IN_CONNECTIONS), watch: idpWatch, unit: 'sign-ins/s' },
        { name: `sign-in, ${REPLICAS} replicas on Redis`, options: signInFlow(bases, LOGIN_USERS, SIGN_IN_CONNECTIONS), watch: replicaWatch, sideName: 'redis-server', unit: 'sign-ins/s' },
      ],
      { counted: 303, alsoAllowed: [200] },
      plan,
      log,
    )) as [Measured, Measured];
    log(
      `  ${REPLICAS} replicas on Redis / 1 IdP on SQLite: ${pct(signInRedis.rps.median / signInSqlite.rps.median)} by sign-ins/s, ` +
        `${pct(signInSqlite.cpuUs!.median / serverSideCpu(signInRedis)!)} by server-side CPU per sign-in (IdPs + redis-server)`,
    );

    // ---- JWT SSO sign-ins of a signed-in session ----------------------------------------
    log(`JWT SSO sign-ins (GET /sso/jwt/:sp → 302, HS256, a signed-in session, 32 connections): 1 IdP on SQLite, the same without the fast path, ${REPLICAS} replicas on Redis`);
    const jwt = (targets: string | string[], cookie: string) => jwtScenario(targets, cookie, 'hs').options;
    const [jwtSqlite, jwtAppOnly, jwtRedis] = (await measureInterleaved(
      [
        { name: 'JWT SSO, 1 IdP on SQLite', options: jwt(sqlite.base, sqliteCookie), watch: idpWatch, unit: 'sign-ins/s' },
        { name: 'JWT SSO, 1 IdP on SQLite, no fast path', options: jwt(appOnly.base, appOnlyCookie), watch: { server: [appOnly.pid] }, unit: 'sign-ins/s' },
        { name: `JWT SSO, ${REPLICAS} replicas on Redis`, options: jwt(bases, sharedCookie), watch: replicaWatch, sideName: 'redis-server', unit: 'sign-ins/s' },
      ],
      302,
      plan,
      log,
    )) as [Measured, Measured, Measured];
    log(
      `  ${REPLICAS} replicas on Redis / 1 IdP on SQLite: ${pct(jwtRedis.rps.median / jwtSqlite.rps.median)} by sign-ins/s ` +
        `(${pct(jwtRedis.rps.median / jwtAppOnly.rps.median)} of the SQLite IdP without its fast path), ` +
        `${pct(jwtSqlite.cpuUs!.median / serverSideCpu(jwtRedis)!)} by server-side CPU (${pct(jwtAppOnly.cpuUs!.median / serverSideCpu(jwtRedis)!)} without the fast path)`,
    );

    // The shared session still answers on both replicas after the load.
    await checkJwtRedirect(a.base, sharedCookie, 'jwt-hs256', 'HS256');
    await checkJwtRedirect(b.base, sharedCookie, 'jwt-hs256', 'HS256');
    return { signIn: { sqlite: signInSqlite, redis: signInRedis }, jwt: { sqlite: jwtSqlite, sqliteAppOnly: jwtAppOnly, redis: jwtRedis } };
  } finally {
    await started.close();
  }
}

/** The figure's rows: each SQLite IdP as measured, the replicas (and the app-only IdP) against the SQLite IdP with its defaults. */
export function sharedStoreRows(r: SharedStoreResults): Row[] {
  const plain = (name: string, m: Measured): Row => ({
    name,
    value: m.rps,
    unit: 'sign-ins/s',
    p50: m.p50.median,
    p99: m.p99.median,
    cpuUs: m.cpuUs?.median,
    target: '',
    met: undefined,
  });
  const against = (name: string, m: Measured, base: Measured): Row => {
    const cpu = serverSideCpu(m);
    return {
      ...plain(name, m),
      sideCpu: m.sideCpuUs === undefined ? undefined : { name: 'redis', us: m.sideCpuUs.median },
      baseline: base.rps.median,
      baselineName: 'SQLite',
      ratio: m.rps.median / base.rps.median,
      cpuRatio: base.cpuUs !== undefined && cpu !== undefined ? base.cpuUs.median / cpu : undefined,
    };
  };
  const n = SIGN_IN_CONNECTIONS;
  return [
    plain(`browser sign-in, 1 IdP on SQLite, ${n} conns`, r.signIn.sqlite),
    against(`browser sign-in, ${REPLICAS} replicas on one Redis, ${n} conns`, r.signIn.redis, r.signIn.sqlite),
    plain('JWT SSO sign-in HS256, 1 IdP on SQLite, 32 conns', r.jwt.sqlite),
    against('JWT SSO sign-in, 1 IdP on SQLite, no fast path', r.jwt.sqliteAppOnly, r.jwt.sqlite),
    against(`JWT SSO sign-in, ${REPLICAS} replicas on one Redis, 32 conns`, r.jwt.redis, r.jwt.sqlite),
  ];
}
