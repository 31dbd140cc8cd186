/**
 * Several replicas: two real IdP processes share sessions through a real
 * redis-server (from Debian) on a loopback port. Sign in on one, get a token
 * from the other; stop Redis and get a clear 503, not a crash; start it again
 * and the same session works.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { jwtVerify } from 'jose';
import { freePort, tempDir } from '../helpers/idp.js';
import { csrfFrom, jwtFromLocation, setCookies } from '../helpers/http.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { startReplicas, type Replica } from '../helpers/replicas.js';

const SECRET = 'replica-shared-secret-0123456789';

describe('replicas sharing sessions through Redis', () => {
  const dir = tempDir('mock-idp-redis-');
  let redis: TestRedis;
  let replicas: Replica[] = [];

  before(async () => {
    redis = await startTestRedis();
    // The old spelling of store: redis, still read.
    replicas = await startReplicas(
      2,
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
      { REDIS_URL: redis.url },
    );
  });

  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await redis?.stop();
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

    await redis.stop();
    const down = await request(b.url).get(sso).set('Cookie', cookie).set('Accept', 'text/html').expect(503);
    assert.match(down.text, /The session store is unavailable right now/);
    assert.doesNotMatch(down.text, /at .*\.(ts|js):\d+/, 'no stack trace');
    assert.equal(down.headers['retry-after'], '5');
    await request(b.url).get('/healthz').expect(200);
    const notReady = await request(b.url).get('/readyz').expect(503);
    assert.match(notReady.body.checks.redis as string, /is unreachable \(connect ECONNREFUSED/);
    assert.equal(b.child.exitCode, null, 'the replica is still running');

    await redis.start();
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

  it('without sessionSecret or jwt.secret, the first replica generates them and every replica uses the same ones', async () => {
    const shared = await startReplicas(
      2,
      `host: 127.0.0.1
passwordHashCost: 10
store: redis
users:
  - { email: alice@example.com, password: alice-password, name: Alice }
serviceProviders:
  - id: no-secret
    jwt: { redirectUrls: [ "http://localhost:9/consumer" ], audience: no-secret }
`,
      { REDIS_URL: `${redis.url}/1` },
    );
    try {
      const [a, b] = shared as [Replica, Replica];
      const secret = /Generated HS256 shared secret for SP "no-secret" \(shown once; configure your SP with it\): (\S+)/.exec(a.output())?.[1];
      assert.ok(secret, `the first replica shows the secret it generated:\n${a.output()}`);
      assert.doesNotMatch(b.output(), /Generated HS256 shared secret/, 'the second replica generated none of its own');
      const form = await request(a.url).get('/login').expect(200);
      const signedIn = await request(a.url)
        .post('/login')
        .set('Cookie', setCookies(form)[0]!.split(';')[0]!)
        .type('form')
        .send({ csrf: csrfFrom(form.text), email: 'alice@example.com', password: 'alice-password' })
        .expect(303);
      // The session cookie signed by A is good on B, and B's token verifies with A's secret.
      const fromB = await request(b.url)
        .get(`/sso/jwt/no-secret?redirect_url=${encodeURIComponent('http://localhost:9/consumer')}`)
        .set('Cookie', setCookies(signedIn)[0]!.split(';')[0]!)
        .expect(302);
      const { payload } = await jwtVerify(jwtFromLocation(fromB.headers.location), new TextEncoder().encode(secret), { algorithms: ['HS256'], audience: 'no-secret' });
      assert.equal(payload.email, 'alice@example.com');
    } finally {
      await Promise.all(shared.map((r) => r.stop()));
    }
  });
});
