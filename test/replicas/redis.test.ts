/**
 * Several replicas: two real IdP processes share sessions through a real
 * redis-server (from Debian) on a loopback port. Sign in on one, get a token
 * from the other; stop Redis and get a clear 503, not a crash; start it again
 * and the same session works.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { jwtVerify } from 'jose';
import { freePort, tempDir } from '../helpers/idp.js';
import { csrfFrom, jwtFromLocation, setCookies } from '../helpers/http.js';

const SECRET = 'replica-shared-secret-0123456789';
const REDIS_SERVER = '/usr/bin/redis-server';

function waitFor(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}:\n${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what}: exited with ${code}:\n${out}`));
    });
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

describe('replicas sharing sessions through Redis', () => {
  const dir = tempDir('mock-idp-redis-');
  let redisPort: number;
  let redis: ChildProcess | undefined;
  const replicas: { url: string; child: ChildProcess }[] = [];

  async function startRedis(): Promise<void> {
    // Append-only persistence in a temp folder, so a restarted Redis still has the sessions.
    redis = spawn(REDIS_SERVER, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitFor(redis, /Ready to accept connections/, 'redis-server');
  }

  before(async () => {
    redisPort = await freePort();
    await startRedis();
    const config = path.join(dir, 'idp.yaml');
    fs.writeFileSync(
      config,
      `host: 127.0.0.1
passwordHashCost: 10
sessionStore: redis
sessionSecret: "the-same-session-secret-on-every-replica"
users:
  - { email: alice@example.com, password: alice-password, name: Alice }
serviceProviders:
  - id: sp
    jwt: { redirectUrls: [ "http://localhost:9/consumer" ], secret: "${SECRET}", audience: sp }
`,
    );
    for (const name of ['a', 'b']) {
      const port = await freePort();
      const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli.ts'), 'serve', '--config', config], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PORT: String(port), DATA_DIR: path.join(dir, `data-${name}`), REDIS_URL: `redis://127.0.0.1:${redisPort}`, LOG_LEVEL: 'warn' },
      });
      await waitFor(child, /mock-idp is running/, `replica ${name}`);
      replicas.push({ url: `http://localhost:${port}`, child });
    }
  });

  after(async () => {
    await Promise.all(replicas.map((r) => stop(r.child)));
    await stop(redis);
  });

  it('signs in on one replica and gets a token from the other; survives Redis going away and coming back', async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const form = await request(a.url).get('/login').expect(200);
    const formCookie = setCookies(form)[0]!.split(';')[0]!;
    const signedIn = await request(a.url)
      .post('/login')
      .set('Cookie', formCookie)
      .type('form')
      .send({ csrf: csrfFrom(form.text), email: 'alice@example.com', password: 'alice-password' })
      .expect(303);
    const cookie = setCookies(signedIn)[0]!.split(';')[0]!;
    const sso = `/sso/jwt/sp?redirect_url=${encodeURIComponent('http://localhost:9/consumer')}`;

    const fromB = await request(b.url).get(sso).set('Cookie', cookie).expect(302);
    const { payload } = await jwtVerify(jwtFromLocation(fromB.headers.location), new TextEncoder().encode(SECRET), { algorithms: ['HS256'], audience: 'sp' });
    assert.equal(payload.email, 'alice@example.com');

    await stop(redis);
    const down = await request(b.url).get(sso).set('Cookie', cookie).set('Accept', 'text/html').expect(503);
    assert.match(down.text, /The session store is unavailable right now/);
    assert.doesNotMatch(down.text, /at .*\.(ts|js):\d+/, 'no stack trace');
    assert.equal(down.headers['retry-after'], '5');
    await request(b.url).get('/healthz').expect(200);
    const notReady = await request(b.url).get('/readyz').expect(503);
    assert.match(notReady.body.checks.redis as string, /is unreachable \(connect ECONNREFUSED/);
    assert.equal(b.child.exitCode, null, 'the replica is still running');

    await startRedis();
    let status = 0;
    for (let i = 0; i < 50 && status !== 302; i++) {
      status = (await request(b.url).get(sso).set('Cookie', cookie)).status;
      if (status !== 302) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 302, 'the replica recovers by itself once Redis is back, with the same session');
    await request(a.url).get('/readyz').expect(200);
  });

  it('stops the start with a clear message when Redis cannot be reached', async () => {
    const config = path.join(dir, 'unreachable.yaml');
    fs.writeFileSync(config, `sessionStore: redis\nredisUrl: redis://:hunter2@127.0.0.1:${await freePort()}\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli.ts'), '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATA_DIR: path.join(dir, 'data-c') } });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 2);
    assert.match(err, /Cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/? for store: redis/);
    assert.doesNotMatch(err, /hunter2/, 'the Redis password is not printed');
  });
});
